/*
 * The at-least-once core: a ring of in-flight transactions.
 *
 * Each transaction the source emits gets a slot, identified by a sequence
 * number that also travels with each of its messages as the sink token.
 * Producing a message increments the slot's pending count, its delivery
 * report decrements it. The durable position may only move past a contiguous
 * prefix of slots that are committed (their COMMIT was seen) and have nothing
 * pending, so a crash can repeat events but never skip one. When the ring is
 * full the pipeline stops reading its source: that bounds memory whatever the
 * number of small transactions in flight.
 *
 * Threading: used only by the pipeline thread (delivery reports are served
 * on it too), so there is no locking.
 */
#ifndef SLUICE_CHECKPOINT_H
#define SLUICE_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"
#include "sluice/position.h"

typedef struct sl_checkpoint sl_checkpoint;

/* A ring of capacity slots; capacity is rounded up to a power of two. */
sl_checkpoint *sl_checkpoint_new(size_t capacity);
void sl_checkpoint_free(sl_checkpoint *cp);

/* Opens a slot for a new transaction; false when the ring is full. */
bool sl_checkpoint_begin(sl_checkpoint *cp, uint64_t *seq);

/* One more message of transaction seq handed to the sink. */
void sl_checkpoint_add(sl_checkpoint *cp, uint64_t seq);

/* Transaction seq is complete; pos is where it ends in the source's log. */
void sl_checkpoint_commit(sl_checkpoint *cp, uint64_t seq, const sl_position *pos);

/* A message of seq was acknowledged (ok) or lost (!ok). Unknown seqs are ignored. */
void sl_checkpoint_ack(sl_checkpoint *cp, uint64_t seq, bool ok);

/*
 * Drops the contiguous prefix of finished transactions. When that moved the
 * position, copies the newest finished position to *pos and returns true.
 */
bool sl_checkpoint_advance(sl_checkpoint *cp, sl_position *pos);

/*
 * The position that ends transaction seq, for messages about it: true and
 * *pos filled when its COMMIT was seen and the slot is still in the ring.
 */
bool sl_checkpoint_position(sl_checkpoint *cp, uint64_t seq, sl_position *pos);

/* True once any message was lost: the position cannot move past it. */
bool sl_checkpoint_failed(const sl_checkpoint *cp);

/* Transactions opened and not yet dropped. */
size_t sl_checkpoint_inflight(const sl_checkpoint *cp);

/* Messages handed to the sink and not yet acknowledged. */
uint64_t sl_checkpoint_pending(const sl_checkpoint *cp);

/*
 * The sequence of the oldest transaction not yet dropped: every transaction
 * before it is finished (for the metrics' commit-to-acknowledgement times).
 */
uint64_t sl_checkpoint_oldest(const sl_checkpoint *cp);

#endif
