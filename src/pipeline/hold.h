/*
 * Messages held back until what they wait for is there (a schema id that a
 * registry has not given yet; see encoder.h), kept per topic in the order
 * they were produced.
 *
 * Order: a topic with held messages has all its later messages held behind
 * them, and a topic's messages leave strictly in order, the head first, so
 * every topic (and so every partition and key) sees its messages in the
 * source's order. Topics without held messages are not touched: their
 * messages go to the sink directly.
 *
 * Memory: each held message is one copy (topic, key, value, headers), and
 * the hold refuses more than max_bytes in all; the pipeline then waits as it
 * does for a full sink.
 *
 * Threading: used only by the pipeline thread.
 */
#ifndef SLUICE_HOLD_H
#define SLUICE_HOLD_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/encoder.h"
#include "sluice/sink.h"

typedef struct sl_hold sl_hold;

sl_hold *sl_hold_new(size_t max_bytes);

/* Frees every held message (they were never given to the sink). */
void sl_hold_free(sl_hold *hold);

/* True when topic has held messages: its next message must be held too. */
bool sl_hold_has_topic(const sl_hold *hold, const char *topic);

/*
 * Copies msg to the end of its topic's queue; key_wait and value_wait (NULL
 * when final) say what its key and value wait for. SL_FULL when the hold is
 * at its bound (nothing was copied).
 */
sl_code sl_hold_add(sl_hold *hold, const sl_message *msg, const sl_encoder_wait *key_wait,
                    const sl_encoder_wait *value_wait, sl_error *err);

/*
 * Hands the sink every held message whose waits have settled, in order per
 * topic, until a topic's head still waits or the sink is full. Returns
 * SL_OK (also when the sink is full) or the sink's error.
 */
sl_code sl_hold_release(sl_hold *hold, const sl_sink_ops *ops, sl_sink *sink, sl_error *err);

/* Messages held now. */
size_t sl_hold_count(const sl_hold *hold);

#endif
