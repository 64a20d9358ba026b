/*
 * Tests for src/pipeline/checkpoint.c: the position moves only over a contiguous,
 * fully acknowledged prefix of committed transactions.
 */
#include <criterion/criterion.h>

#include "pipeline/checkpoint.h"

static sl_position pos_of(uint8_t n)
{
    sl_position p = {.len = 1};
    p.bytes[0] = n;
    return p;
}

Test(checkpoint, advances_over_acknowledged_prefix_only)
{
    sl_checkpoint *cp = sl_checkpoint_new(8);
    uint64_t a, b, c;
    cr_assert(sl_checkpoint_begin(cp, &a));
    sl_checkpoint_add(cp, a);
    sl_checkpoint_add(cp, a);
    sl_position pa = pos_of(1);
    sl_checkpoint_commit(cp, a, &pa);
    cr_assert(sl_checkpoint_begin(cp, &b));
    sl_checkpoint_add(cp, b);
    sl_position pb = pos_of(2);
    sl_checkpoint_commit(cp, b, &pb);
    cr_assert(sl_checkpoint_begin(cp, &c));
    sl_checkpoint_add(cp, c);

    sl_position out = {0};
    /* b acknowledged first: out of order, so nothing may move. */
    sl_checkpoint_ack(cp, b, true);
    cr_assert_not(sl_checkpoint_advance(cp, &out));
    sl_checkpoint_ack(cp, a, true);
    cr_assert_not(sl_checkpoint_advance(cp, &out), "a still has one message pending");
    sl_checkpoint_ack(cp, a, true);
    cr_assert(sl_checkpoint_advance(cp, &out));
    cr_assert_eq(out.bytes[0], 2, "both a and b are done: position of b");
    /* c is acknowledged but not committed: it must not move the position. */
    sl_checkpoint_ack(cp, c, true);
    cr_assert_not(sl_checkpoint_advance(cp, &out));
    cr_assert_eq(sl_checkpoint_inflight(cp), 1);
    sl_position pc = pos_of(3);
    sl_checkpoint_commit(cp, c, &pc);
    cr_assert(sl_checkpoint_advance(cp, &out));
    cr_assert_eq(out.bytes[0], 3);
    cr_assert_eq(sl_checkpoint_inflight(cp), 0);
    cr_assert_eq(sl_checkpoint_pending(cp), 0);
    sl_checkpoint_free(cp);
}

Test(checkpoint, a_lost_message_blocks_the_position_for_good)
{
    sl_checkpoint *cp = sl_checkpoint_new(4);
    uint64_t a, b;
    sl_checkpoint_begin(cp, &a);
    sl_checkpoint_add(cp, a);
    sl_position pa = pos_of(1), pb = pos_of(2);
    sl_checkpoint_commit(cp, a, &pa);
    sl_checkpoint_begin(cp, &b);
    sl_checkpoint_add(cp, b);
    sl_checkpoint_commit(cp, b, &pb);
    sl_checkpoint_ack(cp, a, false);
    sl_checkpoint_ack(cp, b, true);
    sl_position out = {0};
    cr_assert_not(sl_checkpoint_advance(cp, &out));
    cr_assert(sl_checkpoint_failed(cp));
    sl_checkpoint_free(cp);
}

Test(checkpoint, full_ring_refuses_new_transactions_until_drained)
{
    sl_checkpoint *cp = sl_checkpoint_new(4);
    uint64_t seq[4];
    for (int i = 0; i < 4; i++) {
        cr_assert(sl_checkpoint_begin(cp, &seq[i]));
        sl_checkpoint_add(cp, seq[i]);
        sl_position p = pos_of((uint8_t)(i + 1));
        sl_checkpoint_commit(cp, seq[i], &p);
    }
    uint64_t extra;
    cr_assert_not(sl_checkpoint_begin(cp, &extra), "ring of 4 is full");
    sl_checkpoint_ack(cp, seq[0], true);
    sl_position out;
    cr_assert(sl_checkpoint_advance(cp, &out));
    cr_assert(sl_checkpoint_begin(cp, &extra), "one slot free again");
    cr_assert_neq(extra, seq[0], "sequences are never reused");
    sl_checkpoint_free(cp);
}

Test(checkpoint, transactions_without_position_pass_without_moving_it)
{
    sl_checkpoint *cp = sl_checkpoint_new(8);
    uint64_t a, b;
    sl_checkpoint_begin(cp, &a);
    sl_checkpoint_add(cp, a);
    sl_position none = {.len = 0};
    sl_checkpoint_commit(cp, a, &none); /* a partial transaction abandoned on reconnect */
    sl_checkpoint_begin(cp, &b);
    sl_position pb = pos_of(9);
    sl_checkpoint_commit(cp, b, &pb); /* a position-only transaction */
    sl_position out = pos_of(0);
    cr_assert_not(sl_checkpoint_advance(cp, &out), "a is still pending");
    sl_checkpoint_ack(cp, a, true);
    cr_assert(sl_checkpoint_advance(cp, &out));
    cr_assert_eq(out.bytes[0], 9);
    sl_checkpoint_free(cp);
}

Test(checkpoint, late_acknowledgements_of_unknown_sequences_are_ignored)
{
    sl_checkpoint *cp = sl_checkpoint_new(2);
    uint64_t a;
    sl_checkpoint_begin(cp, &a);
    sl_checkpoint_ack(cp, a + 100, true);
    sl_checkpoint_ack(cp, 0, false);
    cr_assert_not(sl_checkpoint_failed(cp));
    cr_assert_eq(sl_checkpoint_pending(cp), 0);
    sl_checkpoint_free(cp);
}

/* Many transactions acknowledged in a shuffled order: the position ends at the last one. */
Test(checkpoint, shuffled_acknowledgements_converge)
{
    enum { TX = 1000 };
    sl_checkpoint *cp = sl_checkpoint_new(1024);
    uint64_t acks[TX * 3];
    size_t nacks = 0;
    for (int i = 0; i < TX; i++) {
        uint64_t seq;
        cr_assert(sl_checkpoint_begin(cp, &seq));
        for (int m = 0; m < 1 + i % 3; m++) {
            sl_checkpoint_add(cp, seq);
            acks[nacks++] = seq;
        }
        sl_position p = {.len = 2};
        p.bytes[0] = (uint8_t)(i >> 8);
        p.bytes[1] = (uint8_t)i;
        sl_checkpoint_commit(cp, seq, &p);
    }
    unsigned state = 12345;
    for (size_t i = nacks - 1; i > 0; i--) {
        state = state * 1103515245 + 12345;
        size_t j = (state >> 8) % (i + 1);
        uint64_t t = acks[i];
        acks[i] = acks[j];
        acks[j] = t;
    }
    int last_seen = -1;
    for (size_t k = 0; k < nacks; k++) {
        sl_checkpoint_ack(cp, acks[k], true);
        sl_position out;
        if (sl_checkpoint_advance(cp, &out)) {
            int v = out.bytes[0] << 8 | out.bytes[1];
            cr_assert_gt(v, last_seen, "the position never moves backwards");
            last_seen = v;
        }
    }
    cr_assert_eq(last_seen, TX - 1);
    cr_assert_eq(sl_checkpoint_pending(cp), 0);
    cr_assert_eq(sl_checkpoint_inflight(cp), 0);
    sl_checkpoint_free(cp);
}
