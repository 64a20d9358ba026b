/*
 * Tests for connectors/postgres/pg_conn.c's choice of pgoutput options
 * (pg_repl_options_choose, pg_repl_options_format): what START_REPLICATION
 * asks each server version for, with and without
 * stream.in.progress.transactions. PostgreSQL before 14 knows neither
 * "messages" nor "streaming" and refuses protocol version 2, so the version 1
 * fallback must be exact.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "postgres/pg_source_int.h"

/* The option list asked of server_version, as START_REPLICATION carries it. */
static const char *options(int server_version, bool stream_in_progress)
{
    static char buf[256];
    pg_repl_options o = pg_repl_options_choose(server_version, stream_in_progress);
    int n = pg_repl_options_format(&o, "'\"p\"'", buf, sizeof buf);
    cr_assert_lt(n, (int)sizeof buf);
    return buf;
}

Test(pg_conn, postgresql_10_to_13_get_protocol_version_1_without_messages_or_streaming)
{
    static const int versions[] = {100000, 100023, 110000, 120017, 130000, 130016, 139999};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        for (int want = 0; want < 2; want++) {
            pg_repl_options o = pg_repl_options_choose(versions[i], want);
            cr_assert_eq(o.proto_version, 1, "PostgreSQL %d", versions[i]);
            cr_assert_not(o.messages, "PostgreSQL %d knows no \"messages\"", versions[i]);
            cr_assert_not(o.streaming, "PostgreSQL %d cannot stream (wanted: %d)", versions[i],
                          want);
            cr_assert_str_eq(options(versions[i], want), "(proto_version '1', publication_names "
                                                         "'\"p\"')");
        }
    }
}

Test(pg_conn, postgresql_14_streams_with_protocol_version_2_when_streaming_is_wanted)
{
    pg_repl_options o = pg_repl_options_choose(140000, true);
    cr_assert_eq(o.proto_version, 2);
    cr_assert(o.messages);
    cr_assert(o.streaming);
    cr_assert_str_eq(options(140000, true), "(proto_version '2', publication_names '\"p\"', "
                                            "messages 'true', streaming 'on')");
    /* Not wanted: version 1 with messages, large transactions come whole at commit. */
    o = pg_repl_options_choose(140000, false);
    cr_assert_eq(o.proto_version, 1);
    cr_assert(o.messages);
    cr_assert_not(o.streaming);
    cr_assert_str_eq(options(140000, false),
                     "(proto_version '1', publication_names '\"p\"', messages 'true')");
}

Test(pg_conn, postgresql_15_asks_for_no_more_than_14)
{
    /* 15's version 3 is for two-phase commit, which sluice does not decode. */
    static const int versions[] = {150000, 150010};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        cr_assert_str_eq(options(versions[i], true), options(140000, true));
        cr_assert_str_eq(options(versions[i], false), options(140000, false));
    }
}

Test(pg_conn, postgresql_16_and_later_keep_protocol_version_2_and_never_binary)
{
    /* 16's version 4 is for streaming "parallel", which an emitter at commit has no use for. */
    static const int versions[] = {160000, 160006, 170000, 180000, 190000};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        pg_repl_options o = pg_repl_options_choose(versions[i], true);
        cr_assert_eq(o.proto_version, 2, "PostgreSQL %d", versions[i]);
        cr_assert(o.messages && o.streaming, "PostgreSQL %d", versions[i]);
        cr_assert_str_eq(options(versions[i], true), options(140000, true));
        cr_assert_str_eq(options(versions[i], false), options(140000, false));
        cr_assert_null(strstr(options(versions[i], true), "binary"));
    }
}
