/*
 * Tests for src/offsets/connect.c: the bytes of Kafka Connect's offset keys
 * and the partition they go to. The expected bytes and partitions are what
 * Kafka Connect 4.1.1's JsonConverter (schemas disabled, Jackson 2.19) and
 * Kafka's Utils.murmur2 produced for the same inputs.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offsets/connect.h"

static char *hex(const sl_buf *b)
{
    char *out = malloc(b->len * 2 + 1);
    for (size_t i = 0; i < b->len; i++)
        sprintf(out + 2 * i, "%02x", (unsigned char)b->data[i]);
    out[b->len * 2] = '\0';
    return out;
}

Test(connect, a_plain_key_is_written_as_jsonconverter_writes_it)
{
    sl_buf key;
    sl_buf_init(&key);
    sl_connect_offset_key(&key, "inv", "inv");
    cr_assert_str_eq(sl_buf_cstr(&key), "[\"inv\",{\"server\":\"inv\"}]");
    cr_assert_eq(sl_connect_partition(key.data, key.len, 25), 4);
    sl_buf_free(&key);
}

Test(connect, escapes_follow_jackson_control_characters_surrogates_and_all)
{
    sl_buf key;
    sl_buf_init(&key);
    /* quote, backslash, newline, 0x01, 0x1f, DEL, slash, e-acute, euro sign, U+1F600 */
    sl_connect_offset_key(&key, "a\"b\\c\n\x01\x1f\x7f/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
                          "p.x-y_z");
    char *h = hex(&key);
    cr_assert_str_eq(h, "5b22615c22625c5c635c6e5c75303030315c75303031467f2fc3a9e282ac5c7544383344"
                        "5c7544453030222c7b22736572766572223a22702e782d795f7a227d5d");
    cr_assert_eq(sl_connect_partition(key.data, key.len, 25), 23);
    free(h);
    sl_buf_free(&key);
}

Test(connect, murmur2_matches_kafkas)
{
    /* Utils.murmur2 gives -973932308, -790332482, -985981536, 479470107; positive, % 1000000007. */
    static const struct {
        const char *in;
        int32_t java;
    } cases[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"abc", 479470107},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int32_t want = (int32_t)(((uint32_t)cases[i].java & 0x7fffffff) % 1000000007u);
        cr_assert_eq(sl_connect_partition(cases[i].in, strlen(cases[i].in), 1000000007), want, "%s",
                     cases[i].in);
    }
    cr_assert_eq(sl_connect_partition("x", 1, 1), 0);
}
