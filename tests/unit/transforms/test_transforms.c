/*
 * Column filters and transforms (src/transforms): the plans they make for
 * columns and what they do to values, checked against values a real
 * Debezium 3.6.1 wrote (tests/golden/debezium, variant "modes").
 */
#include <criterion/criterion.h>
#include <string.h>

#include "runtime/config_load.h"
#include "sluice/config.h"
#include "transforms/transforms.h"

static sl_config *cfg;
static sl_transforms *tf;
static sl_arena arena;

static void load(const char *json)
{
    sl_error err;
    cr_assert_eq(sl_config_parse("test.json", json, &cfg, &err), SL_OK, "%s", err.msg);
    const sl_config_key *tables[] = {sl_transforms_config_keys()};
    cr_assert_eq(sl_config_validate(cfg, tables, 1, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(sl_transforms_new(cfg, &tf, &err), SL_OK, "%s", err.msg);
    sl_arena_init(&arena, 4096);
}

static void cleanup(void)
{
    sl_transforms_free(tf);
    sl_config_free(cfg);
    sl_arena_destroy(&arena);
    tf = NULL;
    cfg = NULL;
}

TestSuite(transforms, .fini = cleanup);

static sl_column_plan plan_of(const char *table, const char *name, int32_t length, bool character)
{
    sl_column_desc d = {.name = name,
                        .type_name = character ? "varchar" : "int4",
                        .length = length,
                        .scale = 0,
                        .character = character};
    sl_column_plan p;
    sl_transforms_column(tf, table, &d, &arena, &p);
    return p;
}

static const char *param(const sl_column_plan *p, const char *key)
{
    for (uint32_t i = 0; i < p->nparams; i++)
        if (strcmp(p->params[i].key, key) == 0)
            return p->params[i].value;
    return NULL;
}

Test(transforms, hashes_are_debeziums_salted_sha256_of_the_java_serialization)
{
    load("{\"column.mask.hash.SHA-256.with.salt.CzQMA0cB5K\": \"public.t.c,public.t.short\"}");
    sl_column_plan p = plan_of("public.t", "c", 2147483647, true);
    cr_assert_eq(p.op, SL_COLUMN_HASH);
    cr_assert_str_eq(param(&p, "masked"), "true");
    sl_value v = sl_value_string("hello", 5);
    sl_transform_value(&p, &v, &arena);
    cr_assert_eq(v.len, 64);
    cr_assert(memcmp(v.u.str, "b4d39ab0d198fb4cac8b2f023da74f670bcaf192dcc79b5d6361b7ae6b2fafdf",
                     64) == 0,
              "%.*s", (int)v.len, v.u.str);
    /* Control characters, DEL, non-ASCII and a character outside the BMP (modified UTF-8). */
    static const char text[] = "line1\nline2\ttab \"dq\" \\ bs / sl \x01 ctrl \x7f del \xc3\xa9 "
                               "\xf0\x9f\x98\x80";
    v = sl_value_string(text, sizeof text - 1);
    sl_transform_value(&p, &v, &arena);
    cr_assert(memcmp(v.u.str, "c109dd0e92d1c079a516394d94c16ab6a17776e2d2bcea6154497c54b0c6db2d",
                     64) == 0,
              "%.*s", (int)v.len, v.u.str);
    /* A column with a length gets the hex cut to it (a domain over varchar(10)). */
    p = plan_of("public.t", "short", 10, true);
    v = sl_value_string("short", 5);
    sl_transform_value(&p, &v, &arena);
    cr_assert_eq(v.len, 10);
    cr_assert(memcmp(v.u.str, "707833d68a", 10) == 0, "%.*s", (int)v.len, v.u.str);
    /* A null stays null; a column of another type keeps its values but is marked. */
    v = sl_value_null();
    p = plan_of("public.t", "c", -1, true);
    sl_transform_value(&p, &v, &arena);
    cr_assert_eq(v.kind, SL_VALUE_NULL);
    p = plan_of("public.t", "c", -1, false);
    cr_assert_eq(p.op, SL_COLUMN_KEEP);
    cr_assert_str_eq(param(&p, "masked"), "true");
}

Test(transforms, masks_replace_every_value_and_truncation_counts_utf16_units)
{
    load("{\"column.mask.with.5.chars\": \"public.t.m\", \"column.truncate.to.3.chars\": "
         "\"public.t.tr,public.t.m2\", \"column.mask.with.2.chars\": \"public.t.m2\"}");
    sl_column_plan p = plan_of("public.t", "m", -1, true);
    sl_value v = sl_value_null();
    sl_transform_value(&p, &v, &arena);
    cr_assert_eq(v.kind, SL_VALUE_STRING);
    cr_assert_eq(v.len, 5);
    cr_assert(memcmp(v.u.str, "*****", 5) == 0);
    p = plan_of("public.t", "tr", 20, true);
    cr_assert_str_eq(param(&p, "truncateLength"), "3");
    v = sl_value_string("h\xc3\xa9llo w\xc3\xb6rld", 13);
    sl_transform_value(&p, &v, &arena);
    cr_assert_eq(v.len, 4, "h, é (two bytes), l"); /* "hél" */
    /* A column no longer than the limit is left alone, without the parameter. */
    p = plan_of("public.t", "tr", 3, true);
    cr_assert_eq(p.op, SL_COLUMN_KEEP);
    cr_assert_null(param(&p, "truncateLength"));
    /* Named by two keys: truncation comes first in Debezium's order and is the one applied. */
    p = plan_of("public.t", "m2", -1, true);
    cr_assert_eq(p.op, SL_COLUMN_TRUNCATE);
    cr_assert_null(param(&p, "masked"));
}

Test(transforms, source_types_propagate_as_schema_parameters)
{
    load("{\"column.propagate.source.type\": \"public\\\\.t\\\\..*\"}");
    sl_column_desc d = {.name = "amount",
                        .type_name = "numeric",
                        .length = 10,
                        .scale = 2,
                        .comment = "money in cents"};
    sl_column_plan p;
    sl_transforms_column(tf, "public.t", &d, &arena, &p);
    cr_assert_eq(p.nparams, 5);
    cr_assert_str_eq(p.params[0].key, "__debezium.source.column.type");
    cr_assert_str_eq(p.params[0].value, "NUMERIC");
    cr_assert_str_eq(param(&p, "__debezium.source.column.length"), "10");
    cr_assert_str_eq(param(&p, "__debezium.source.column.scale"), "2");
    cr_assert_str_eq(param(&p, "__debezium.source.column.comment"), "money in cents");
    cr_assert_str_eq(p.params[4].key, "__debezium.source.column.name");
    /* The schema keeps its own parameters first. */
    sl_param own[1] = {{"allowed", "a,b"}};
    sl_schema s = {.type = SL_TYPE_STRING, .nparams = 1, .params = own};
    const sl_schema *with = sl_transforms_schema(&s, &p, &arena);
    cr_assert_eq(with->nparams, 6);
    cr_assert_str_eq(with->params[0].key, "allowed");
    cr_assert_eq(s.nparams, 1, "the original schema is not changed");
}

Test(transforms, column_lists_and_message_key_columns)
{
    load("{\"column.exclude.list\": \"public.t.secret\", \"message.key.columns\": "
         "\"public.t:b,a;other.x:k\"}");
    cr_assert(plan_of("public.t", "secret", -1, true).excluded);
    cr_assert(plan_of("public.t", "SECRET", -1, true).excluded, "names match ignoring case");
    cr_assert_not(plan_of("public.t", "other", -1, true).excluded);
    const char *cols[] = {"a", "b", "c"};
    uint32_t out[3];
    cr_assert_eq(sl_transforms_key(tf, "public.t", cols, 3, out), 2);
    cr_assert_eq(out[0], 1, "in the order the key names them");
    cr_assert_eq(out[1], 0);
    cr_assert_eq(sl_transforms_key(tf, "public.u", cols, 3, out), -1);
}

Test(transforms, nothing_configured_builds_nothing)
{
    load("{}");
    cr_assert_null(tf);
    sl_column_plan p = plan_of("public.t", "c", -1, true);
    cr_assert_not(p.excluded);
    cr_assert_eq(p.op, SL_COLUMN_KEEP);
    cr_assert_eq(p.nparams, 0);
}
