/*
 * Tests for src/pipeline/hold.c: messages waiting for a schema id keep their topic's
 * order, leave as soon as their waits settle (patched), never overtake one
 * another within a topic, do not hold other topics back, stop at a full
 * sink, and stay within the byte bound.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/hold.h"

/* A wait that settles when told to, writing its id into bytes 1-4 as the registry's does. */
typedef struct test_wait {
    sl_encoder_wait wait;
    int id; /* 0 while waiting */
} test_wait;

static bool settle(const sl_encoder_wait *w, char *bytes, size_t len)
{
    const test_wait *t = (const test_wait *)w;
    if (!t->id || len < 5)
        return false;
    bytes[4] = (char)t->id;
    return true;
}

/* A sink that records what it is given, or refuses when full. */
typedef struct fake_sink {
    char produced[64][64]; /* "topic:key:value-byte-4" */
    int n;
    int room; /* messages it accepts before it is full */
} fake_sink;

static sl_code fake_produce(sl_sink *sink, const sl_message *msg, sl_error *err)
{
    (void)err;
    fake_sink *s = (fake_sink *)sink;
    if (s->room == 0)
        return SL_FULL;
    s->room--;
    snprintf(s->produced[s->n++], 64, "%s:%.*s:%d", msg->topic, (int)msg->key_len,
             (const char *)msg->key, msg->value ? ((const char *)msg->value)[4] : -1);
    return SL_OK;
}

static const sl_sink_ops fake_ops = {.name = "fake", .produce = fake_produce};

static void add(sl_hold *h, const char *topic, const char *key, char id_byte, const test_wait *w)
{
    char value[8] = {0, 0, 0, 0, id_byte, 'x'};
    sl_header hdr = {.name = "h", .value = key, .len = strlen(key)};
    sl_message msg = {.topic = topic,
                      .key = key,
                      .key_len = strlen(key),
                      .value = value,
                      .value_len = 6,
                      .headers = &hdr,
                      .nheaders = 1};
    sl_error err;
    cr_assert_eq(sl_hold_add(h, &msg, NULL, w ? &w->wait : NULL, &err), SL_OK);
}

Test(hold, a_topic_leaves_in_order_once_its_head_settles)
{
    sl_hold *h = sl_hold_new(1 << 20);
    test_wait a = {.wait.settle = settle}, b = {.wait.settle = settle};
    fake_sink sink = {.room = 100};
    sl_error err;

    add(h, "t1", "k1", 0, &a);   /* waits for a */
    add(h, "t1", "k2", 7, NULL); /* final, but behind a waiting message of its topic */
    add(h, "t2", "k3", 0, &b);   /* another topic, waits for b */
    cr_assert(sl_hold_has_topic(h, "t1"));
    cr_assert_not(sl_hold_has_topic(h, "t3"));
    cr_assert_eq(sl_hold_count(h), 3);

    cr_assert_eq(sl_hold_release(h, &fake_ops, (sl_sink *)&sink, &err), SL_OK);
    cr_assert_eq(sink.n, 0, "nothing leaves before its head settles");

    b.id = 9;
    cr_assert_eq(sl_hold_release(h, &fake_ops, (sl_sink *)&sink, &err), SL_OK);
    cr_assert_eq(sink.n, 1, "t2 does not wait for t1");
    cr_assert_str_eq(sink.produced[0], "t2:k3:9", "patched with its id");
    cr_assert_not(sl_hold_has_topic(h, "t2"));

    a.id = 5;
    cr_assert_eq(sl_hold_release(h, &fake_ops, (sl_sink *)&sink, &err), SL_OK);
    cr_assert_eq(sink.n, 3);
    cr_assert_str_eq(sink.produced[1], "t1:k1:5");
    cr_assert_str_eq(sink.produced[2], "t1:k2:7", "in order behind it");
    cr_assert_eq(sl_hold_count(h), 0);
    cr_assert_not(sl_hold_has_topic(h, "t1"));
    sl_hold_free(h);
}

Test(hold, a_full_sink_keeps_the_rest_in_order)
{
    sl_hold *h = sl_hold_new(1 << 20);
    test_wait a = {.wait.settle = settle, .id = 3};
    fake_sink sink = {.room = 1};
    sl_error err;
    add(h, "t", "k1", 0, &a);
    add(h, "t", "k2", 0, &a);
    add(h, "t", "k3", 1, NULL);
    cr_assert_eq(sl_hold_release(h, &fake_ops, (sl_sink *)&sink, &err), SL_OK);
    cr_assert_eq(sink.n, 1);
    cr_assert_eq(sl_hold_count(h), 2);
    sink.room = 10;
    cr_assert_eq(sl_hold_release(h, &fake_ops, (sl_sink *)&sink, &err), SL_OK);
    cr_assert_eq(sink.n, 3);
    cr_assert_str_eq(sink.produced[1], "t:k2:3");
    cr_assert_str_eq(sink.produced[2], "t:k3:1");
    sl_hold_free(h);
}

Test(hold, the_byte_bound_refuses_more_but_never_the_first)
{
    sl_hold *h = sl_hold_new(10); /* smaller than any message */
    test_wait a = {.wait.settle = settle};
    char value[8] = {0};
    sl_message msg = {.topic = "t", .key = "k", .key_len = 1, .value = value, .value_len = 6};
    sl_error err;
    cr_assert_eq(sl_hold_add(h, &msg, NULL, &a.wait, &err), SL_OK, "one message always fits");
    cr_assert_eq(sl_hold_add(h, &msg, NULL, &a.wait, &err), SL_FULL);
    cr_assert_eq(sl_hold_count(h), 1);
    sl_hold_free(h);
}

Test(hold, copies_outlive_the_producers_buffers)
{
    sl_hold *h = sl_hold_new(1 << 20);
    test_wait a = {.wait.settle = settle};
    fake_sink sink = {.room = 10};
    sl_error err;
    char topic[8] = "tt", key[8] = "abcdef";
    char value[8] = {0, 0, 0, 0, 0, 'v'};
    sl_message msg = {.topic = topic, .key = key, .key_len = 6, .value = value, .value_len = 6};
    cr_assert_eq(sl_hold_add(h, &msg, &a.wait, NULL, &err), SL_OK, "a key may wait too");
    memset(topic, 'X', sizeof topic - 1);
    memset(key, 'X', sizeof key - 1);
    memset(value, 'X', sizeof value);
    a.id = 'Z';
    cr_assert_eq(sl_hold_release(h, &fake_ops, (sl_sink *)&sink, &err), SL_OK);
    cr_assert_eq(sink.n, 1);
    cr_assert_str_eq(sink.produced[0], "tt:abcdZf:0", "the message as it was given, key patched");
    sl_hold_free(h);
}
