/*
 * A set of row keys, each an opaque byte string (snapshot.h encodes a key as
 * its columns' text), with a 32-bit value per key: the snapshot's windows use
 * it for "which keys changed since this chunk was dispatched" and "which
 * buffered row has this key".
 *
 * Open addressing on a 64-bit FNV-1a hash; keys are copied into the set's own
 * arena, so the caller's bytes need not outlive the call. Not thread-safe:
 * each set belongs to one thread (the pipeline thread for every set here).
 */
#ifndef SLUICE_SNAPSHOT_KEYSET_H
#define SLUICE_SNAPSHOT_KEYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/memory.h"

typedef struct sl_keyset_entry {
    uint64_t hash;
    const uint8_t *key; /* NULL: empty slot */
    uint32_t len;
    uint32_t value;
} sl_keyset_entry;

typedef struct sl_keyset {
    sl_keyset_entry *slots;
    size_t cap; /* a power of two, or 0 */
    size_t count;
    sl_arena arena; /* copies of the keys */
} sl_keyset;

void sl_keyset_init(sl_keyset *set);
void sl_keyset_destroy(sl_keyset *set);

/* Forgets every key; keeps the memory for reuse. */
void sl_keyset_clear(sl_keyset *set);

uint64_t sl_keyset_hash(const uint8_t *key, size_t len);

/*
 * Adds key with value; when the key is there already its value is kept and
 * false is returned. Aborts when out of memory, as sl_buf does.
 */
bool sl_keyset_add(sl_keyset *set, const uint8_t *key, size_t len, uint32_t value);

/* The entry of key, or NULL. */
sl_keyset_entry *sl_keyset_find(const sl_keyset *set, const uint8_t *key, size_t len);

static inline size_t sl_keyset_count(const sl_keyset *set)
{
    return set->count;
}

#endif
