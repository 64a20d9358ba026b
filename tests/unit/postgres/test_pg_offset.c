/*
 * Tests for connectors/postgres/pg_offset.c: the PostgreSQL source's
 * position as Kafka Connect's offset of Debezium's connector, and Debezium's
 * offsets read back. Whether Debezium itself resumes from such an offset is
 * tests/integration/test_offsets_kafka.c's.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "postgres/pg_source_int.h"

extern const sl_source_ops sl_source_postgres;

static const sl_source_ops *ops = &sl_source_postgres;

/* The text of a position at lsn in slot "s" of system 42, timeline 2, ending xid 743. */
static void position_text(uint64_t lsn, bool with_tx, char *text, size_t size)
{
    pg_identity id = {.system_id = 42, .timeline = 2};
    snprintf(id.slot, sizeof id.slot, "s");
    sl_position pos;
    pg_position_make(lsn, &id, &pos);
    if (with_tx)
        pg_position_set_tx(&pos, 743, 1732800000123456);
    sl_error err;
    cr_assert_eq(ops->position_format(&pos, text, size, &err), SL_OK, "%s", err.msg);
}

Test(pg_offset, a_position_carries_its_transaction_through_the_offsets_text)
{
    char text[256];
    position_text(0x16B3748, true, text, sizeof text);
    cr_assert_str_eq(text, "{\"lsn\":\"0/16B3748\",\"slot\":\"s\",\"system_identifier\":\"42\","
                           "\"timeline\":2,\"txId\":743,\"ts_usec\":1732800000123456}");
    sl_position back;
    sl_error err;
    cr_assert_eq(ops->position_parse(text, &back, &err), SL_OK, "%s", err.msg);
    uint32_t xid;
    int64_t us;
    cr_assert(pg_position_tx(&back, &xid, &us));
    cr_assert_eq(xid, 743);
    cr_assert_eq(us, 1732800000123456);
    char again[256];
    cr_assert_eq(ops->position_format(&back, again, sizeof again, &err), SL_OK);
    cr_assert_str_eq(again, text);
}

Test(pg_offset, sluices_offset_is_debeziums_map_without_lsn_proc)
{
    char text[256];
    position_text(0x16B3748, true, text, sizeof text);
    sl_buf out;
    sl_buf_init(&out);
    sl_error err;
    cr_assert_eq(ops->connect_offset_format(text, "", &out, &err), SL_OK, "%s", err.msg);
    json_t *map = json_loads(sl_buf_cstr(&out), 0, NULL);
    cr_assert(json_is_object(map), "%s", sl_buf_cstr(&out));
    /* Integers, as Debezium's Loader casts them to Long. */
    cr_assert_eq(json_integer_value(json_object_get(map, "lsn")), 0x16B3748);
    cr_assert_eq(json_integer_value(json_object_get(map, "lsn_commit")), 0x16B3748);
    cr_assert_eq(json_integer_value(json_object_get(map, "txId")), 743);
    cr_assert_eq(json_integer_value(json_object_get(map, "ts_usec")), 1732800000123456);
    /* Without lsn_proc Debezium streams from lsn without its WAL position search. */
    cr_assert_null(json_object_get(map, "lsn_proc"));
    cr_assert_null(json_object_get(map, "snapshot"));
    cr_assert_str_eq(json_string_value(json_object_get(map, "sluice_slot")), "s");
    json_decref(map);

    /* And back, identity included. */
    sl_buf pos, state;
    sl_buf_init(&pos);
    sl_buf_init(&state);
    bool found = false;
    cr_assert_eq(ops->connect_offset_parse(sl_buf_cstr(&out), &pos, &state, &found, &err), SL_OK,
                 "%s", err.msg);
    cr_assert(found);
    cr_assert_str_eq(sl_buf_cstr(&pos), text);
    cr_assert_eq(state.len, 0);
    sl_buf_free(&pos);
    sl_buf_free(&state);
    sl_buf_free(&out);
}

/* Parses a Debezium map; returns the position text ("" when not found). */
static char *parse(const char *map, sl_code want)
{
    static char text[512];
    sl_buf pos, state;
    sl_buf_init(&pos);
    sl_buf_init(&state);
    bool found = false;
    sl_error err;
    sl_code rc = ops->connect_offset_parse(map, &pos, &state, &found, &err);
    cr_assert_eq(rc, want, "%s: %s", map, rc ? err.msg : "ok");
    snprintf(text, sizeof text, "%s", found ? sl_buf_cstr(&pos) : "");
    sl_buf_free(&pos);
    sl_buf_free(&state);
    return text;
}

Test(pg_offset, debeziums_offsets_resume_after_the_last_commit_it_saw)
{
    /* Written after a change event: the transaction it was in comes again. */
    cr_assert_str_eq(parse("{\"transaction_id\":null,\"lsn_proc\":23887944,\"messageType\":"
                           "\"INSERT\",\"lsn_commit\":23887760,\"lsn\":23887944,\"txId\":770,"
                           "\"ts_usec\":1732800000000000}",
                           SL_OK),
                     "0/16C7F90");
    /* Without lsn_commit: lsn_proc, then lsn. */
    cr_assert_str_eq(parse("{\"lsn_proc\":4096,\"lsn\":8192}", SL_OK), "0/1000");
    cr_assert_str_eq(parse("{\"lsn\":8192}", SL_OK), "0/2000");
    /* A finished snapshot is a position like any other. */
    cr_assert_str_eq(parse("{\"last_snapshot_record\":true,\"lsn\":8192,\"txId\":5,\"ts_usec\":1,"
                           "\"snapshot\":\"INITIAL\",\"snapshot_completed\":true}",
                           SL_OK),
                     "0/2000");
}

Test(pg_offset, debeziums_unfinished_snapshot_is_nothing_to_resume_from)
{
    cr_assert_str_eq(parse("{\"last_snapshot_record\":false,\"lsn\":8192,\"txId\":5,\"ts_usec\":1,"
                           "\"snapshot\":\"INITIAL\",\"snapshot_completed\":false}",
                           SL_OK),
                     "");
    /* Older Debezium versions wrote snapshot=true. */
    cr_assert_str_eq(
        parse("{\"lsn\":8192,\"snapshot\":true,\"last_snapshot_record\":false}", SL_OK), "");
}

Test(pg_offset, a_map_without_a_usable_lsn_is_refused)
{
    parse("{\"txId\":5}", SL_STATE);
    parse("{\"lsn\":\"0/16B3748\"}", SL_STATE);
    parse("{\"lsn\":-1}", SL_STATE);
    parse("[1,2]", SL_STATE);
    parse("not json", SL_STATE);
}

Test(pg_offset, sluices_state_rides_along_and_an_initial_snapshot_restarts_debeziums)
{
    char text[256];
    position_text(0x2000, false, text, sizeof text);
    const char *state = "{\"collections\":[{\"id\":\"public.t\",\"kind\":\"initial\","
                        "\"primary_key\":[41]}]}";
    sl_buf out;
    sl_buf_init(&out);
    sl_error err;
    cr_assert_eq(ops->connect_offset_format(text, state, &out, &err), SL_OK, "%s", err.msg);
    json_t *map = json_loads(sl_buf_cstr(&out), 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(map, "snapshot")), "INITIAL");
    cr_assert(json_is_false(json_object_get(map, "snapshot_completed")));
    cr_assert_str_eq(json_string_value(json_object_get(map, "sluice_state")), state);
    json_decref(map);
    sl_buf pos, back;
    sl_buf_init(&pos);
    sl_buf_init(&back);
    bool found = false;
    cr_assert_eq(ops->connect_offset_parse(sl_buf_cstr(&out), &pos, &back, &found, &err), SL_OK);
    cr_assert(found, "sluice resumes its own snapshot");
    cr_assert_str_eq(sl_buf_cstr(&back), state);
    sl_buf_free(&pos);
    sl_buf_free(&back);
    sl_buf_free(&out);
}
