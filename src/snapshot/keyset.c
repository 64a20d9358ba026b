/*
 * Sets of row keys (keyset.h).
 */
#include <stdlib.h>
#include <string.h>

#include "snapshot/keyset.h"

void sl_keyset_init(sl_keyset *set)
{
    memset(set, 0, sizeof *set);
    sl_arena_init(&set->arena, 64 * 1024);
}

void sl_keyset_destroy(sl_keyset *set)
{
    free(set->slots);
    sl_arena_destroy(&set->arena);
    memset(set, 0, sizeof *set);
}

void sl_keyset_clear(sl_keyset *set)
{
    if (set->slots)
        memset(set->slots, 0, set->cap * sizeof *set->slots);
    set->count = 0;
    sl_arena_reset(&set->arena);
}

uint64_t sl_keyset_hash(const uint8_t *key, size_t len)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++) {
        h ^= key[i];
        h *= 1099511628211ull;
    }
    /* A final mix, so that the low bits used for the slot depend on every byte. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static sl_keyset_entry *probe(sl_keyset_entry *slots, size_t cap, uint64_t hash, const uint8_t *key,
                              size_t len)
{
    size_t i = hash & (cap - 1);
    for (;;) {
        sl_keyset_entry *e = &slots[i];
        if (!e->key || (e->hash == hash && e->len == len && memcmp(e->key, key, len) == 0))
            return e;
        i = (i + 1) & (cap - 1);
    }
}

static void grow(sl_keyset *set)
{
    size_t cap = set->cap ? set->cap * 2 : 64;
    sl_keyset_entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        abort();
    for (size_t i = 0; i < set->cap; i++) {
        sl_keyset_entry *old = &set->slots[i];
        if (old->key)
            *probe(slots, cap, old->hash, old->key, old->len) = *old;
    }
    free(set->slots);
    set->slots = slots;
    set->cap = cap;
}

bool sl_keyset_add(sl_keyset *set, const uint8_t *key, size_t len, uint32_t value)
{
    if ((set->count + 1) * 4 > set->cap * 3)
        grow(set);
    uint64_t hash = sl_keyset_hash(key, len);
    sl_keyset_entry *e = probe(set->slots, set->cap, hash, key, len);
    if (e->key)
        return false;
    uint8_t *copy = sl_arena_alloc(&set->arena, len ? len : 1);
    if (len)
        memcpy(copy, key, len);
    e->hash = hash;
    e->key = copy;
    e->len = (uint32_t)len;
    e->value = value;
    set->count++;
    return true;
}

sl_keyset_entry *sl_keyset_find(const sl_keyset *set, const uint8_t *key, size_t len)
{
    if (!set->cap)
        return NULL;
    sl_keyset_entry *e = probe(set->slots, set->cap, sl_keyset_hash(key, len), key, len);
    return e->key ? e : NULL;
}
