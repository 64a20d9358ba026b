/*
 * Memory helpers shared by the core, the connectors and the encoders.
 *
 * sl_arena: per-batch memory. Everything a source decodes for one poll (event
 * values, strings, arrays) comes from the batch's arena, which the pipeline
 * resets in one call once the batch has been encoded. Nothing in the hot path
 * allocates per column.
 *
 * sl_buf: a growable byte buffer, used for encoded keys and values. The
 * append functions never fail: on allocation failure they abort, because an
 * encoder that cannot grow a buffer has no way to make progress.
 */
#ifndef SLUICE_MEMORY_H
#define SLUICE_MEMORY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct sl_arena_chunk sl_arena_chunk;

typedef struct sl_arena {
    sl_arena_chunk *head;  /* chunk being carved */
    sl_arena_chunk *spare; /* chunks kept for reuse after a reset */
    size_t chunk_size;
    size_t used_bytes; /* bytes handed out since the last reset */
} sl_arena;

void sl_arena_init(sl_arena *arena, size_t chunk_size);

/* Returns size bytes aligned to 16, valid until the next reset; aborts when out of memory. */
void *sl_arena_alloc(sl_arena *arena, size_t size);

/* Copies len bytes and a terminating NUL into the arena. */
char *sl_arena_strndup(sl_arena *arena, const char *s, size_t len);
char *sl_arena_strdup(sl_arena *arena, const char *s);

/* Makes every allocation invalid; keeps one chunk's worth of memory for reuse. */
void sl_arena_reset(sl_arena *arena);

/* Frees every chunk. */
void sl_arena_destroy(sl_arena *arena);

typedef struct sl_buf {
    char *data;
    size_t len;
    size_t cap;
} sl_buf;

void sl_buf_init(sl_buf *buf);
void sl_buf_free(sl_buf *buf);

/* Ensures room for n more bytes; returns the write position. */
char *sl_buf_reserve(sl_buf *buf, size_t n);

static inline void sl_buf_reset(sl_buf *buf)
{
    buf->len = 0;
}

static inline void sl_buf_append(sl_buf *buf, const void *p, size_t n)
{
    char *w = sl_buf_reserve(buf, n);
    memcpy(w, p, n);
    buf->len += n;
}

static inline void sl_buf_putc(sl_buf *buf, char c)
{
    if (buf->len == buf->cap)
        sl_buf_reserve(buf, 1);
    buf->data[buf->len++] = c;
}

static inline void sl_buf_puts(sl_buf *buf, const char *s)
{
    sl_buf_append(buf, s, strlen(s));
}

void sl_buf_printf(sl_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Leaves a NUL after the content without counting it in len. */
const char *sl_buf_cstr(sl_buf *buf);

#endif
