/*
 * Tests for src/pipeline/topic.c: topic names Kafka accepts, made the way Debezium's
 * topic naming strategies make them (issue 9).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "sluice/topic.h"

static void expect(const char *in, const char *out, bool changed)
{
    char name[1024];
    snprintf(name, sizeof name, "%s", in);
    cr_assert_eq(sl_topic_sanitize(name), changed, "\"%s\"", in);
    cr_assert_str_eq(name, out, "\"%s\"", in);
    cr_assert(sl_topic_is_legal(name), "\"%s\" is legal afterwards", name);
}

Test(topic, item9_illegal_characters_become_underscores_as_in_debezium)
{
    /* The table: CREATE TABLE "we""ird.tab le". */
    expect("p.public.we\"ird.tab le", "p.public.we_ird.tab_le", true);
    expect("inventory.public.customers", "inventory.public.customers", false);
    expect("a-b_c.D9.x", "a-b_c.D9.x", false);
    /* One '_' per character, as Java counts them: two for one outside the BMP. */
    expect("p.public.caf\xc3\xa9", "p.public.caf_", true);
    expect("p.public.\xe6\x97\xa5\xe6\x9c\xac", "p.public.__", true);
    expect("p.public.t\xf0\x9f\x98\x80", "p.public.t__", true);
    expect("p.s.a/b\\c:d", "p.s.a_b_c_d", true);
    /* A byte that is not UTF-8 (a LATIN1 name) is one character. */
    expect("p.s.\xe9t\xe9", "p.s._t_", true);
    expect(".", "_", true);
    expect("..", "__", true);
}

Test(topic, item9_names_longer_than_kafka_allows_are_cut_at_249)
{
    char name[400];
    memset(name, 'x', 300);
    name[300] = '\0';
    cr_assert(!sl_topic_is_legal(name));
    cr_assert(sl_topic_sanitize(name));
    cr_assert_eq(strlen(name), SL_TOPIC_MAX);
    cr_assert(sl_topic_is_legal(name));
}
