/*
 * The ring of in-flight transactions (checkpoint.h).
 */
#include <stdlib.h>

#include "pipeline/checkpoint.h"

typedef struct slot {
    uint64_t seq;
    uint32_t pending;
    bool committed;
    bool failed;
    sl_position pos;
} slot;

struct sl_checkpoint {
    slot *slots;
    size_t mask;
    uint64_t head; /* oldest open sequence */
    uint64_t tail; /* next sequence to hand out */
    uint64_t pending;
    bool failed;
};

sl_checkpoint *sl_checkpoint_new(size_t capacity)
{
    size_t cap = 1;
    while (cap < capacity)
        cap <<= 1;
    sl_checkpoint *cp = calloc(1, sizeof *cp);
    if (!cp)
        return NULL;
    cp->slots = calloc(cap, sizeof *cp->slots);
    if (!cp->slots) {
        free(cp);
        return NULL;
    }
    cp->mask = cap - 1;
    /* Sequence 0 is never used, so that a zero token can mean "none". */
    cp->head = cp->tail = 1;
    return cp;
}

void sl_checkpoint_free(sl_checkpoint *cp)
{
    if (!cp)
        return;
    free(cp->slots);
    free(cp);
}

static slot *find(sl_checkpoint *cp, uint64_t seq)
{
    if (seq < cp->head || seq >= cp->tail)
        return NULL;
    return &cp->slots[seq & cp->mask];
}

bool sl_checkpoint_begin(sl_checkpoint *cp, uint64_t *seq)
{
    if (cp->tail - cp->head > cp->mask)
        return false;
    slot *s = &cp->slots[cp->tail & cp->mask];
    s->seq = cp->tail;
    s->pending = 0;
    s->committed = false;
    s->failed = false;
    s->pos.len = 0;
    *seq = cp->tail++;
    return true;
}

void sl_checkpoint_add(sl_checkpoint *cp, uint64_t seq)
{
    slot *s = find(cp, seq);
    if (s) {
        s->pending++;
        cp->pending++;
    }
}

void sl_checkpoint_commit(sl_checkpoint *cp, uint64_t seq, const sl_position *pos)
{
    slot *s = find(cp, seq);
    if (s) {
        s->committed = true;
        s->pos = *pos;
    }
}

void sl_checkpoint_ack(sl_checkpoint *cp, uint64_t seq, bool ok)
{
    slot *s = find(cp, seq);
    if (!s || s->pending == 0)
        return;
    s->pending--;
    cp->pending--;
    if (!ok) {
        s->failed = true;
        cp->failed = true;
    }
}

bool sl_checkpoint_advance(sl_checkpoint *cp, sl_position *pos)
{
    bool moved = false;
    while (cp->head < cp->tail) {
        slot *s = &cp->slots[cp->head & cp->mask];
        if (!s->committed || s->pending > 0 || s->failed)
            break;
        if (s->pos.len > 0) {
            *pos = s->pos;
            moved = true;
        }
        cp->head++;
    }
    return moved;
}

bool sl_checkpoint_position(sl_checkpoint *cp, uint64_t seq, sl_position *pos)
{
    slot *s = find(cp, seq);
    if (!s || !s->committed || s->pos.len == 0)
        return false;
    *pos = s->pos;
    return true;
}

bool sl_checkpoint_failed(const sl_checkpoint *cp)
{
    return cp->failed;
}

size_t sl_checkpoint_inflight(const sl_checkpoint *cp)
{
    return (size_t)(cp->tail - cp->head);
}

uint64_t sl_checkpoint_pending(const sl_checkpoint *cp)
{
    return cp->pending;
}

uint64_t sl_checkpoint_oldest(const sl_checkpoint *cp)
{
    return cp->head;
}
