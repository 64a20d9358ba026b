/*
 * Tests for the PostgreSQL source's pure parts (connectors/postgres/pg_source.c,
 * pg_relation.c, pg_conn.c): positions and their text in the offsets file,
 * the choice of a table's key from a Relation message, the timeline history.
 * Everything that needs a server is in tests/integration/test_pg_reliability.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "postgres/pg_source_int.h"

extern const sl_source_ops sl_source_postgres;

static const sl_source_ops *ops = &sl_source_postgres;

Test(pg_source, item6_positions_carry_slot_system_and_timeline_through_the_offsets_text)
{
    pg_identity id = {.system_id = 7312345678901234567ull, .timeline = 3};
    snprintf(id.slot, sizeof id.slot, "inventory_slot");
    sl_position pos;
    pg_position_make(0x16B3748ull | (0x2ull << 32), &id, &pos);

    char text[256];
    sl_error err;
    cr_assert_eq(ops->position_format(&pos, text, sizeof text, &err), SL_OK, "%s", err.msg);
    cr_assert_str_eq(text, "{\"lsn\":\"2/16B3748\",\"slot\":\"inventory_slot\","
                           "\"system_identifier\":\"7312345678901234567\",\"timeline\":3}");

    sl_position back;
    cr_assert_eq(ops->position_parse(text, &back, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(pg_position_lsn(&back), 0x16B3748ull | (0x2ull << 32));
    pg_identity got;
    cr_assert(pg_position_identity(&back, &got));
    cr_assert_eq(got.system_id, id.system_id);
    cr_assert_eq(got.timeline, 3);
    cr_assert_str_eq(got.slot, "inventory_slot");
}

Test(pg_source, item6_a_bare_lsn_of_an_older_offsets_file_reads_without_identity)
{
    sl_position pos;
    sl_error err;
    cr_assert_eq(ops->position_parse("0/16B3748", &pos, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(pg_position_lsn(&pos), 0x16B3748ull);
    pg_identity id;
    cr_assert_not(pg_position_identity(&pos, &id), "an older file records no identity");
    char text[64];
    cr_assert_eq(ops->position_format(&pos, text, sizeof text, &err), SL_OK);
    cr_assert_str_eq(text, "0/16B3748");
}

Test(pg_source, item13_a_malformed_position_is_refused_without_repeating_it)
{
    const char *bad[] = {
        "",
        "not-an-lsn-S3cr3t",
        "{\"lsn\":\"0/10\"}",
        "{\"lsn\":\"0/10\",\"slot\":\"s\",\"system_identifier\":\"12x\",\"timeline\":1}",
        "{\"lsn\":\"0/10\",\"slot\":\"s\",\"system_identifier\":\"12\",\"timeline\":0}",
        "{\"lsn\":\"S3cr3t\",\"slot\":\"s\",\"system_identifier\":\"12\",\"timeline\":1}",
        "{broken",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_position pos;
        sl_error err;
        cr_assert_eq(ops->position_parse(bad[i], &pos, &err), SL_STATE, "%s", bad[i]);
        cr_assert_null(strstr(err.msg, "S3cr3t"), "the content leaked: %s", err.msg);
    }
}

/* A Relation message's columns: name and whether pgoutput flags it as replica identity. */
typedef struct col {
    const char *name;
    int key;
} col;

static uint32_t key_of(char replident, const col *cols, uint16_t n, const char *const *pk,
                       uint32_t npk, uint32_t *out)
{
    static pgo_relation_column rc[16];
    pgo_message m;
    memset(&m, 0, sizeof m);
    m.type = 'R';
    m.u.relation.oid = 4242;
    m.u.relation.replident = replident;
    m.u.relation.ncols = n;
    m.u.relation.cols = rc;
    for (uint16_t i = 0; i < n; i++)
        rc[i] = (pgo_relation_column){.flags = (uint8_t)cols[i].key, .name = cols[i].name};
    pg_relation_info info = {.npk = npk, .pk = (const char **)pk, .ncols = n};
    return pg_key_columns(&m, &info, out);
}

Test(pg_source, item3_keys_come_from_the_replica_identity_never_an_absent_column)
{
    uint32_t key[16];
    static const char *const pk_id[] = {"id"};
    static const char *const pk_ab[] = {"a", "b"};

    /* REPLICA IDENTITY USING INDEX on code, while the primary key is id: keyed by code. */
    col using_index[] = {{"id", 0}, {"code", 1}, {"v", 0}};
    cr_assert_eq(key_of('i', using_index, 3, pk_id, 1, key), 1);
    cr_assert_eq(key[0], 1, "the index column, not the primary key the old tuple lacks");

    /* DEFAULT: the primary key is the identity, in key order (b, a columns; key a, b). */
    col composite[] = {{"b", 1}, {"a", 1}, {"v", 0}};
    cr_assert_eq(key_of('d', composite, 3, pk_ab, 2, key), 2);
    cr_assert_eq(key[0], 1);
    cr_assert_eq(key[1], 0);

    /* The same with the catalog gone (table dropped while lagging): the identity still keys it. */
    cr_assert_eq(key_of('d', composite, 3, NULL, 0, key), 2);

    /* FULL flags every column: the primary key, as Debezium keys it. */
    col full[] = {{"id", 1}, {"name", 1}};
    cr_assert_eq(key_of('f', full, 2, pk_id, 1, key), 1);
    cr_assert_eq(key[0], 0);
    /* FULL without a primary key: no key (Debezium's null key). */
    cr_assert_eq(key_of('f', full, 2, NULL, 0, key), 0);

    /* NOTHING sends no old tuple: the primary key, taken from new rows only. */
    col nothing[] = {{"id", 0}, {"v", 0}};
    cr_assert_eq(key_of('n', nothing, 2, pk_id, 1, key), 1);
    cr_assert_eq(key[0], 0);

    /* A primary key column the Relation message does not have: never used. */
    static const char *const pk_gone[] = {"gone"};
    cr_assert_eq(key_of('f', full, 2, pk_gone, 1, key), 0);
}

Test(pg_source, item6_the_timeline_history_gives_where_a_timeline_ended)
{
    const char *history = "1\t0/3000060\tno recovery target specified\n"
                          "\n"
                          "2\t0/5A000A0\tno recovery target specified\n";
    uint64_t lsn = 0;
    cr_assert(pg_timeline_switchpoint(history, 1, &lsn));
    cr_assert_eq(lsn, 0x3000060ull);
    cr_assert(pg_timeline_switchpoint(history, 2, &lsn));
    cr_assert_eq(lsn, 0x5A000A0ull);
    cr_assert_not(pg_timeline_switchpoint(history, 3, &lsn));
    cr_assert_not(pg_timeline_switchpoint("", 1, &lsn));
}

Test(pg_source, positions_carry_the_snapshot_state_version_after_their_identity)
{
    /* The longest identity (a 63-byte slot name) still leaves room for the version. */
    pg_identity id = {.system_id = 7312345678901234567ull, .timeline = 1};
    memset(id.slot, 'x', 63);
    id.slot[63] = '\0';
    sl_position pos;
    pg_position_make(0x10ull, &id, &pos);
    pg_position_set_version(&pos, 0x0102030405060708ull);
    cr_assert_leq(pos.len, SL_POSITION_MAX);
    cr_assert_eq(pg_position_version(&pos), 0x0102030405060708ull);
    pg_position_set_lsn(&pos, 0x20ull);
    pg_position_set_version(&pos, 9);
    cr_assert_eq(pg_position_version(&pos), 9, "setting it again replaces it");
    cr_assert_eq(pg_position_lsn(&pos), 0x20ull);
    pg_identity got;
    cr_assert(pg_position_identity(&pos, &got), "the identity reads as before");
    cr_assert_str_eq(got.slot, id.slot);
    char text[256];
    sl_error err;
    cr_assert_eq(ops->position_format(&pos, text, sizeof text, &err), SL_OK, "%s", err.msg);
    cr_assert_null(strstr(text, "version"), "the version stays out of the position's text");
    uint32_t xid;
    int64_t commit_us;
    cr_assert_not(pg_position_tx(&pos, &xid, &commit_us), "no transaction was set");
    cr_assert_null(strstr(text, "txId"));

    /* After the transaction a position ends (main's format), which it keeps. */
    pg_position_set_tx(&pos, 743, 1732800000000000);
    pg_position_set_version(&pos, 11);
    cr_assert_leq(pos.len, SL_POSITION_MAX);
    cr_assert_eq(pg_position_version(&pos), 11);
    cr_assert(pg_position_tx(&pos, &xid, &commit_us));
    cr_assert_eq(xid, 743);
    cr_assert_eq(commit_us, 1732800000000000);
    cr_assert_eq(ops->position_format(&pos, text, sizeof text, &err), SL_OK, "%s", err.msg);
    cr_assert(strstr(text, "\"txId\":743"), "%s", text);

    /* Without an identity (initial_only reads no stream), after the LSN and an empty transaction.
     */
    sl_position bare;
    memset(&bare, 0, sizeof bare);
    pg_position_set_lsn(&bare, 0x30ull);
    pg_position_set_version(&bare, 4);
    cr_assert_eq(bare.len, 8 + 12 + 8, "the LSN, no transaction, the version");
    cr_assert_eq(pg_position_version(&bare), 4);
    cr_assert_not(pg_position_identity(&bare, &got));
    /* A position parsed from the offsets file has none: its state is the restored one. */
    cr_assert_eq(ops->position_parse("0/40", &bare, &err), SL_OK);
    cr_assert_eq(pg_position_version(&bare), 0);
}
