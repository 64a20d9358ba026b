/*
 * Arenas and growable buffers (memory.h). Arenas hand out memory for one
 * batch of events and are reset in one call; buffers hold encoded messages.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "sluice/log.h"
#include "sluice/memory.h"

struct sl_arena_chunk {
    sl_arena_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    max_align_t data[];
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        sl_log(SL_LOG_ERROR, "out of memory allocating %zu bytes", n);
        abort();
    }
    return p;
}

void sl_arena_init(sl_arena *arena, size_t chunk_size)
{
    arena->head = NULL;
    arena->spare = NULL;
    arena->chunk_size = chunk_size ? chunk_size : 64 * 1024;
    arena->used_bytes = 0;
}

static sl_arena_chunk *chunk_new(size_t size)
{
    sl_arena_chunk *c = xmalloc(sizeof *c + size);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void *sl_arena_alloc(sl_arena *arena, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    sl_arena_chunk *c = arena->head;
    if (!c || c->size - c->used < size) {
        if (size > arena->chunk_size / 4) {
            /* A large value gets a chunk of its own, behind the current one. */
            sl_arena_chunk *big = chunk_new(size);
            big->used = size;
            if (c) {
                big->next = c->next;
                c->next = big;
            } else {
                arena->head = big;
            }
            arena->used_bytes += size;
            return big->data;
        }
        if (arena->spare) {
            c = arena->spare;
            arena->spare = c->next;
            c->used = 0;
        } else {
            c = chunk_new(arena->chunk_size);
        }
        c->next = arena->head;
        arena->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    arena->used_bytes += size;
    return p;
}

char *sl_arena_strndup(sl_arena *arena, const char *s, size_t len)
{
    char *p = sl_arena_alloc(arena, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *sl_arena_strdup(sl_arena *arena, const char *s)
{
    return sl_arena_strndup(arena, s, strlen(s));
}

void sl_arena_reset(sl_arena *arena)
{
    /* Keep standard-size chunks for reuse, up to a few; free oversized ones. */
    size_t kept = 0;
    for (sl_arena_chunk *s = arena->spare; s; s = s->next)
        kept++;
    sl_arena_chunk *c = arena->head;
    while (c) {
        sl_arena_chunk *next = c->next;
        if (c->size == arena->chunk_size && kept < 4) {
            c->next = arena->spare;
            arena->spare = c;
            kept++;
        } else {
            free(c);
        }
        c = next;
    }
    arena->head = NULL;
    arena->used_bytes = 0;
}

void sl_arena_destroy(sl_arena *arena)
{
    sl_arena_reset(arena);
    sl_arena_chunk *c = arena->spare;
    while (c) {
        sl_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    arena->spare = NULL;
}

void sl_buf_init(sl_buf *buf)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void sl_buf_free(sl_buf *buf)
{
    free(buf->data);
    sl_buf_init(buf);
}

char *sl_buf_reserve(sl_buf *buf, size_t n)
{
    if (buf->cap - buf->len < n + 1) {
        size_t cap = buf->cap ? buf->cap : 256;
        while (cap - buf->len < n + 1)
            cap *= 2;
        char *p = realloc(buf->data, cap);
        if (!p) {
            sl_log(SL_LOG_ERROR, "out of memory growing a buffer to %zu bytes", cap);
            abort();
        }
        buf->data = p;
        buf->cap = cap;
    }
    return buf->data + buf->len;
}

void sl_buf_printf(sl_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char *w = sl_buf_reserve(buf, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(w, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
}

const char *sl_buf_cstr(sl_buf *buf)
{
    sl_buf_reserve(buf, 0);
    buf->data[buf->len] = '\0';
    return buf->data;
}
