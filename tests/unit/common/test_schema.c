/* Tests for src/common/schema.c: embedded schemas parse into the expected trees. */
#include <criterion/criterion.h>

#include "sluice/schema.h"

Test(schema, postgres_source_block_parses)
{
    sl_arena arena;
    sl_arena_init(&arena, 0);
    const sl_schema *s = NULL;
    sl_error err;
    const char *text = sl_embedded_schema("postgres-source.json");
    cr_assert_not_null(text);
    cr_assert_eq(sl_schema_parse_json(text, &arena, &s, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(s->type, SL_TYPE_STRUCT);
    cr_assert_str_eq(s->name, "io.debezium.connector.postgresql.Source");
    cr_assert_eq(s->version, 1);
    int snap = sl_schema_field_index(s, "snapshot");
    cr_assert_eq(snap, 4);
    const sl_schema *f = s->fields[snap].schema;
    cr_assert(f->optional);
    cr_assert_str_eq(f->name, "io.debezium.data.Enum");
    cr_assert_str_eq(
        sl_schema_param(f, "allowed"),
        "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental");
    cr_assert_not_null(f->default_value);
    cr_assert_eq(f->default_value->len, 5);
    cr_assert_eq(sl_schema_field_index(s, "xmin"), 13);
    cr_assert_eq(sl_schema_field_index(s, "nope"), -1);
    sl_arena_destroy(&arena);
}

Test(schema, bad_json_is_refused_with_a_message)
{
    sl_arena arena;
    sl_arena_init(&arena, 0);
    const sl_schema *s = NULL;
    sl_error err;
    cr_assert_eq(sl_schema_parse_json("{\"type\":\"wat\"}", &arena, &s, &err), SL_INVALID);
    cr_assert(strstr(err.msg, "unknown type"));
    cr_assert_eq(sl_schema_parse_json("{", &arena, &s, &err), SL_INVALID);
    sl_arena_destroy(&arena);
}
