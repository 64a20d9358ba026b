/*
 * Tests for connectors/mysql/my_offset.c: the MySQL/MariaDB source's
 * position as Kafka Connect's offset of Debezium's MySQL and MariaDB
 * connectors, and Debezium's maps read back, through the sources' own
 * operations (as the Kafka offset store calls them). That a pipeline
 * resumes from such a record on real servers is
 * tests/integration/test_mysql_offsets_kafka.c's.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/connector.h"
#include "mysql/my_position.h"
#include "offsets/cli.h"
#include "sluice/source.h"

extern const sl_source_ops sl_source_mysql;
extern const sl_source_ops sl_source_mariadb;

static const char uuid_a[] = "7a96ccdb-ee03-11f1-ace8-02fc00000001";
static const char gtids_mysql[] = "7a96ccdb-ee03-11f1-ace8-02fc00000001:1-100:102,"
                                  "11111111-2222-3333-4444-555555555555:tag1:5-7";

/* The sources map offsets at all (before, offset.storage=kafka was refused for them). */
static void require_mapping(const sl_source_ops *ops)
{
    cr_assert_not_null(ops->connect_offset_format, "%s: no connect_offset_format", ops->name);
    cr_assert_not_null(ops->connect_offset_parse, "%s: no connect_offset_parse", ops->name);
}

/* The position text of p as the offsets file holds it (through the binary form, as it runs). */
static char *position_text(const sl_source_ops *ops, const my_position *p)
{
    sl_position bin;
    sl_error err;
    cr_assert_eq(my_position_encode(p, &bin, NULL, &err), SL_OK, "%s", err.msg);
    char text[2048];
    cr_assert_eq(ops->position_format(&bin, text, sizeof text, &err), SL_OK, "%s", err.msg);
    return strdup(text);
}

/* ops->connect_offset_format of a position text without state (malloc'ed). */
static char *to_map(const sl_source_ops *ops, const char *position, const char *state)
{
    require_mapping(ops);
    sl_buf out;
    sl_buf_init(&out);
    sl_error err;
    cr_assert_eq(ops->connect_offset_format(position, state, &out, &err), SL_OK, "%s", err.msg);
    char *s = strdup(sl_buf_cstr(&out));
    sl_buf_free(&out);
    return s;
}

/* ops->connect_offset_parse of a map that must hold a position; the position text (malloc'ed). */
static char *from_map(const sl_source_ops *ops, const char *map, char **state)
{
    require_mapping(ops);
    sl_buf pos, st;
    sl_buf_init(&pos);
    sl_buf_init(&st);
    sl_error err;
    bool found = false;
    cr_assert_eq(ops->connect_offset_parse(map, &pos, &st, &found, &err), SL_OK, "%s: %s", map,
                 err.msg);
    cr_assert(found, "%s holds a position", map);
    char *s = strdup(sl_buf_cstr(&pos));
    if (state)
        *state = strdup(sl_buf_cstr(&st));
    sl_buf_free(&pos);
    sl_buf_free(&st);
    return s;
}

/* The position a text stands for, as the pipeline reads it (ops->position_parse), decoded. */
static void read_position(const sl_source_ops *ops, const char *text, my_position *p)
{
    sl_position bin;
    sl_error err;
    cr_assert_eq(ops->position_parse(text, &bin, &err), SL_OK, "%s: %s", text, err.msg);
    my_position_init(p);
    cr_assert_eq(my_position_decode(&bin, p, &err), SL_OK, "%s", err.msg);
}

Test(my_offset, a_mysql_position_becomes_debeziums_map_with_a_gtid_set)
{
    my_gtid_set set;
    my_gtid_set_init(&set);
    sl_error err;
    cr_assert_eq(my_gtid_set_parse(&set, gtids_mysql, &err), SL_OK, "%s", err.msg);
    my_position p;
    my_position_init(&p);
    snprintf(p.file, sizeof p.file, "binlog.000003");
    p.pos = 5000000000ull; /* past 4 GB */
    p.server_id = 2;
    p.ts_sec = 1700000000;
    p.has_uuid = my_uuid_parse(uuid_a, strlen(uuid_a), p.uuid);
    p.gtids = &set;
    char *text = position_text(&sl_source_mysql, &p);
    char *map = to_map(&sl_source_mysql, text, "");
    /*
     * Debezium's members, integers as JsonConverter writes longs, the set in
     * UUID order as Debezium's GtidSet prints it; event and row left out at 0.
     */
    cr_assert_str_eq(map, "{\"ts_sec\":1700000000,\"file\":\"binlog.000003\",\"pos\":5000000000,"
                          "\"gtids\":\"11111111-2222-3333-4444-555555555555:tag1:5-7,"
                          "7a96ccdb-ee03-11f1-ace8-02fc00000001:1-100:102\",\"server_id\":2,"
                          "\"sluice_server_uuid\":\"7a96ccdb-ee03-11f1-ace8-02fc00000001\"}");
    /* And back: the same position text. */
    char *back = from_map(&sl_source_mysql, map, NULL);
    cr_assert_str_eq(back, text);
    free(back);
    free(map);
    free(text);
    my_gtid_set_free(&set);
}

Test(my_offset, inside_a_transaction_the_map_has_event_and_row_and_comes_back)
{
    my_gtid_set set;
    my_gtid_set_init(&set);
    sl_error err;
    cr_assert_eq(my_gtid_set_parse(&set, "7a96ccdb-ee03-11f1-ace8-02fc00000001:1-100", &err),
                 SL_OK);
    my_position p;
    my_position_init(&p);
    snprintf(p.file, sizeof p.file, "binlog.000003");
    p.pos = 7647; /* the transaction's BEGIN */
    p.event = 3;  /* BEGIN, TABLE_MAP, a rows event done */
    p.row = 2;    /* two rows of the next rows event */
    p.server_id = 2;
    p.ts_sec = 1700000001;
    p.has_uuid = my_uuid_parse(uuid_a, strlen(uuid_a), p.uuid);
    p.gtids = &set;
    p.has_gtid = true;
    memcpy(p.gtid.uuid, p.uuid, 16);
    p.gtid.gno = 101;
    char *text = position_text(&sl_source_mysql, &p);
    char *map = to_map(&sl_source_mysql, text, "");
    cr_assert_str_eq(map, "{\"ts_sec\":1700000001,\"file\":\"binlog.000003\",\"pos\":7647,"
                          "\"gtids\":\"7a96ccdb-ee03-11f1-ace8-02fc00000001:1-100\",\"row\":2,"
                          "\"server_id\":2,\"event\":3,"
                          "\"sluice_server_uuid\":\"7a96ccdb-ee03-11f1-ace8-02fc00000001\","
                          "\"sluice_gtid\":\"7a96ccdb-ee03-11f1-ace8-02fc00000001:101\"}");
    char *back = from_map(&sl_source_mysql, map, NULL);
    cr_assert_str_eq(back, text);
    my_position r;
    read_position(&sl_source_mysql, back, &r);
    cr_assert_eq(r.event, 3);
    cr_assert_eq(r.row, 2);
    cr_assert(r.has_gtid);
    cr_assert_eq(r.gtid.gno, 101);
    cr_assert_eq(r.gtids->n, 1);
    my_position_free(&r);
    free(back);
    free(map);
    free(text);
    my_gtid_set_free(&set);
}

/*
 * A map in the shape Debezium 3.x's MySQL connector writes inside a
 * transaction (its restart GTID set without the transaction, the BEGIN's
 * position, events and rows done), the set with MySQL's line breaks.
 */
Test(my_offset, debeziums_mysql_map_inside_a_transaction_is_resumed_from)
{
    const char *map = "{\"ts_sec\":1764650000,\"file\":\"binlog.000002\",\"pos\":1234,"
                      "\"gtids\":\"7a96ccdb-ee03-11f1-ace8-02fc00000001:1-20,\\n"
                      "11111111-2222-3333-4444-555555555555:1-5\",\"row\":1,\"server_id\":2,"
                      "\"event\":2,\"transaction_id\":null}";
    char *text = from_map(&sl_source_mysql, map, NULL);
    my_position p;
    read_position(&sl_source_mysql, text, &p);
    cr_assert_not(p.mariadb);
    cr_assert_str_eq(p.file, "binlog.000002");
    cr_assert_eq(p.pos, 1234);
    cr_assert_eq(p.event, 2);
    cr_assert_eq(p.row, 1);
    cr_assert_eq(p.server_id, 2);
    cr_assert_eq(p.ts_sec, 1764650000);
    cr_assert_not(p.has_uuid, "Debezium keeps no server UUID");
    cr_assert_not(p.has_gtid);
    cr_assert_not_null(p.gtids);
    uint8_t a[16];
    my_uuid_parse(uuid_a, strlen(uuid_a), a);
    cr_assert(my_gtid_set_contains(p.gtids, a, "", 20));
    cr_assert_not(my_gtid_set_contains(p.gtids, a, "", 21));
    cr_assert_eq(p.gtids->n, 2);
    my_position_free(&p);
    free(text);

    /* Without GTIDs (a server with gtid_mode OFF) and with numbers as strings. */
    text =
        from_map(&sl_source_mysql,
                 "{\"file\":\"binlog.000009\",\"pos\":\"4711\",\"ts_sec\":\"1764650000\"}", NULL);
    read_position(&sl_source_mysql, text, &p);
    cr_assert_str_eq(p.file, "binlog.000009");
    cr_assert_eq(p.pos, 4711);
    cr_assert_null(p.gtids);
    cr_assert_eq(p.event, 0);
    my_position_free(&p);
    free(text);
}

Test(my_offset, debeziums_mariadb_map_with_a_gtid_position)
{
    const char *map = "{\"ts_sec\":1764650000,\"file\":\"mariadb-bin.000001\",\"pos\":4567,"
                      "\"gtids\":\"0-1-15,1-1-3\",\"row\":4,\"server_id\":1,\"event\":2}";
    char *text = from_map(&sl_source_mariadb, map, NULL);
    my_position p;
    read_position(&sl_source_mariadb, text, &p);
    cr_assert(p.mariadb);
    cr_assert_str_eq(p.file, "mariadb-bin.000001");
    cr_assert_eq(p.pos, 4567);
    cr_assert_eq(p.event, 2);
    cr_assert_eq(p.row, 4);
    cr_assert_not_null(p.mgtids);
    cr_assert_eq(p.mgtids->n, 2);
    cr_assert_eq(p.mgtids->g[0].domain, 0);
    cr_assert_eq(p.mgtids->g[0].seq, 15);
    cr_assert_eq(p.mgtids->g[1].domain, 1);
    cr_assert_eq(p.mgtids->g[1].seq, 3);
    my_position_free(&p);
    free(text);

    /* Several GTIDs of one domain (one per server that wrote to it): the newest of each. */
    text = from_map(&sl_source_mariadb,
                    "{\"file\":\"mariadb-bin.000002\",\"pos\":4,"
                    "\"gtids\":\"0-1-15,0-3-20,0-2-9,2-2-7\"}",
                    NULL);
    read_position(&sl_source_mariadb, text, &p);
    cr_assert_eq(p.mgtids->n, 2);
    cr_assert_eq(p.mgtids->g[0].server_id, 3);
    cr_assert_eq(p.mgtids->g[0].seq, 20);
    cr_assert_eq(p.mgtids->g[1].domain, 2);
    my_position_free(&p);
    free(text);

    /* The MySQL connector class on a MariaDB server: the GTIDs' text says the family. */
    text = from_map(&sl_source_mysql, map, NULL);
    read_position(&sl_source_mysql, text, &p);
    cr_assert(p.mariadb);
    cr_assert_eq(p.mgtids->n, 2);
    my_position_free(&p);
    free(text);
}

Test(my_offset, a_mariadb_position_inside_a_transaction_round_trips)
{
    my_mariadb_gtid_list l;
    my_mariadb_gtid_list_init(&l);
    sl_error err;
    cr_assert_eq(my_mariadb_gtid_list_parse(&l, "0-1-41,5-1-2", &err), SL_OK);
    my_position p;
    my_position_init(&p);
    p.mariadb = true;
    snprintf(p.file, sizeof p.file, "mariadb-bin.000004");
    p.pos = 1200; /* the transaction's GTID event */
    p.event = 5;
    p.row = 7;
    p.server_id = 1;
    p.ts_sec = 1700000002;
    p.mgtids = &l;
    p.has_gtid = true;
    p.gtid.domain = 0;
    p.gtid.server_id = 1;
    p.gtid.seq = 42;
    char *text = position_text(&sl_source_mariadb, &p);
    char *map = to_map(&sl_source_mariadb, text, "");
    cr_assert_str_eq(map, "{\"ts_sec\":1700000002,\"file\":\"mariadb-bin.000004\",\"pos\":1200,"
                          "\"gtids\":\"0-1-41,5-1-2\",\"row\":7,\"server_id\":1,\"event\":5,"
                          "\"sluice_gtid\":\"0-1-42\"}");
    char *back = from_map(&sl_source_mariadb, map, NULL);
    cr_assert_str_eq(back, text);
    my_position r;
    read_position(&sl_source_mariadb, back, &r);
    cr_assert(r.has_gtid);
    cr_assert_eq(r.gtid.seq, 42);
    my_position_free(&r);
    free(back);
    free(map);
    free(text);
    my_mariadb_gtid_list_free(&l);
}

Test(my_offset, the_sources_state_goes_with_the_map)
{
    const char *pos = "{\"file\":\"binlog.000001\",\"pos\":157,\"server_id\":0,\"ts_sec\":0}";
    char *map = to_map(&sl_source_mysql, pos, "{\"k\":1}");
    cr_assert_str_eq(map,
                     "{\"file\":\"binlog.000001\",\"pos\":157,\"sluice_state\":\"{\\\"k\\\":1}\"}",
                     "zero members are left out, as Debezium leaves them out: %s", map);
    char *state = NULL;
    char *back = from_map(&sl_source_mysql, map, &state);
    cr_assert_str_eq(state, "{\"k\":1}");
    cr_assert_str_eq(back, pos);
    free(state);
    free(back);
    free(map);
}

/* parse result for a map: SL_OK and found, SL_OK and not found, or an error with a message. */
static sl_code parse(const sl_source_ops *ops, const char *map, bool *found, char *msg, size_t size)
{
    require_mapping(ops);
    sl_buf pos, st;
    sl_buf_init(&pos);
    sl_buf_init(&st);
    sl_error err = {0};
    sl_code rc = ops->connect_offset_parse(map, &pos, &st, found, &err);
    snprintf(msg, size, "%s", rc == SL_OK ? "" : err.msg);
    sl_buf_free(&pos);
    sl_buf_free(&st);
    return rc;
}

Test(my_offset, debeziums_unfinished_initial_snapshot_holds_nothing_to_resume_from)
{
    char msg[512];
    bool found = true;
    cr_assert_eq(parse(&sl_source_mysql,
                       "{\"file\":\"binlog.000002\",\"pos\":157,\"snapshot\":\"INITIAL\"}", &found,
                       msg, sizeof msg),
                 SL_OK);
    cr_assert_not(found);
    cr_assert_eq(parse(&sl_source_mariadb,
                       "{\"file\":\"mariadb-bin.000002\",\"pos\":157,\"snapshot\":true}", &found,
                       msg, sizeof msg),
                 SL_OK);
    cr_assert_not(found, "Debezium 1.x/2.x's boolean");
    cr_assert_eq(parse(&sl_source_mysql,
                       "{\"file\":\"binlog.000002\",\"pos\":157,\"snapshot\":\"INITIAL\","
                       "\"snapshot_completed\":true}",
                       &found, msg, sizeof msg),
                 SL_OK);
    cr_assert(found);
    /* A blocking or incremental snapshot sits on a streaming position, resumed with a warning. */
    cr_assert_eq(parse(&sl_source_mysql,
                       "{\"file\":\"binlog.000002\",\"pos\":157,\"snapshot\":\"BLOCKING\"}", &found,
                       msg, sizeof msg),
                 SL_OK);
    cr_assert(found);
    cr_assert_eq(parse(&sl_source_mysql,
                       "{\"file\":\"binlog.000002\",\"pos\":157,\"snapshot\":\"SOMETIMES\"}",
                       &found, msg, sizeof msg),
                 SL_STATE);
    cr_assert(strstr(msg, "\"snapshot\""), "%s", msg);
}

Test(my_offset, a_malformed_map_is_refused_naming_the_member)
{
    static const struct {
        const char *map, *member;
    } cases[] = {
        {"[1,2]", "JSON object"},
        {"not json", "JSON object"},
        {"{\"pos\":157}", "\"file\""},
        {"{\"file\":7,\"pos\":157}", "\"file\""},
        {"{\"file\":\"binlog.000001\",\"pos\":-1}", "\"pos\""},
        {"{\"file\":\"binlog.000001\",\"pos\":\"12x\"}", "\"pos\""},
        {"{\"file\":\"binlog.000001\",\"pos\":4,\"event\":\"many\"}", "\"event\""},
        {"{\"file\":\"binlog.000001\",\"pos\":4,\"row\":-2}", "\"row\""},
        {"{\"file\":\"binlog.000001\",\"pos\":4,\"gtids\":5}", "\"gtids\""},
        {"{\"file\":\"binlog.000001\",\"pos\":4,\"gtids\":\"zz:1-5\"}", "\"gtids\""},
        {"{\"file\":\"binlog.000001\",\"pos\":4,\"gtids\":\"0-1\"}", "\"gtids\""},
        {"{\"file\":\"\",\"pos\":0}", "\"file\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char msg[512];
        bool found = true;
        sl_code rc = parse(&sl_source_mysql, cases[i].map, &found, msg, sizeof msg);
        cr_assert_eq(rc, SL_STATE, "%s: %d", cases[i].map, rc);
        cr_assert_not(found);
        cr_assert(strstr(msg, cases[i].member), "%s: %s", cases[i].map, msg);
    }
    /* Never a position of another kind: the format side refuses what is not one. */
    sl_buf out;
    sl_buf_init(&out);
    sl_error err;
    require_mapping(&sl_source_mysql);
    cr_assert_eq(sl_source_mysql.connect_offset_format("0/16B3748", "", &out, &err), SL_INVALID);
    sl_buf_free(&out);
}

/*
 * A connector file of class cls in a fresh directory, its offsets in Kafka
 * (kafka) or in an offsets file there; its path.
 */
static void write_connector(const char *cls, bool kafka, char *path, size_t size)
{
    char dir[] = "/tmp/sluice-my-offset-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, size, "%s/c.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "{\"name\":\"shop\",\"connector.class\":\"%s\",\"database.hostname\":\"db\","
            "\"database.user\":\"cdc\",\"database.server.id\":\"184054\","
            "\"topic.prefix\":\"shop\",\"kafka.bootstrap.servers\":\"k:9092\",",
            cls);
    if (kafka)
        fprintf(f, "\"offset.storage\":\"kafka\"}");
    else
        fprintf(f, "\"offset.storage.file.filename\":\"%s/c.offsets.json\"}", dir);
    fclose(f);
}

/* Removes what write_connector made (path, its offsets file, the directory). */
static void remove_connector(char *path)
{
    unlink(path);
    *strrchr(path, '/') = '\0';
    char offsets[300];
    snprintf(offsets, sizeof offsets, "%s/c.offsets.json", path);
    unlink(offsets);
    rmdir(path);
}

Test(my_offset, offsets_in_kafka_are_accepted_for_mysql_and_mariadb)
{
    const char *classes[] = {"io.debezium.connector.mysql.MySqlConnector",
                             "io.debezium.connector.mariadb.MariaDbConnector"};
    for (size_t i = 0; i < 2; i++) {
        char path[256];
        write_connector(classes[i], true, path, sizeof path);
        sl_connector *c = NULL;
        sl_error err = {0};
        sl_code rc = sl_connector_load(path, &c, &err);
        cr_assert_eq(rc, SL_OK, "%s: %s", classes[i], err.msg);
        sl_connector_free(c);
        remove_connector(path);
    }
}

/* The output of `sluice offsets set` for a MySQL connector (file store) given text. */
static char *offsets_set(const char *text, sl_code want)
{
    char path[256];
    write_connector("io.debezium.connector.mysql.MySqlConnector", false, path, sizeof path);
    sl_connector *c = NULL;
    sl_error err = {0};
    cr_assert_eq(sl_connector_load(path, &c, &err), SL_OK, "%s", err.msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    sl_code rc = sl_offsets_set(c, text, out, &err);
    fclose(out);
    cr_assert_eq(rc, want, "%s: %s", text, rc == SL_OK ? buf : err.msg);
    if (rc != SL_OK) {
        free(buf);
        buf = strdup(err.msg);
    }
    sl_connector_free(c);
    remove_connector(path);
    return buf;
}

Test(my_offset, offsets_set_takes_a_map_as_offsets_show_prints_it)
{
    /* sluice's members make it a map: the server's UUID and the transaction's GTID are kept. */
    char *out = offsets_set("{\"ts_sec\":1700000001,\"file\":\"binlog.000003\",\"pos\":7647,"
                            "\"gtids\":\"7a96ccdb-ee03-11f1-ace8-02fc00000001:1-100\",\"row\":2,"
                            "\"server_id\":2,\"event\":3,"
                            "\"sluice_server_uuid\":\"7a96ccdb-ee03-11f1-ace8-02fc00000001\","
                            "\"sluice_gtid\":\"7a96ccdb-ee03-11f1-ace8-02fc00000001:101\"}",
                            SL_OK);
    cr_assert(strstr(out, "\"server_uuid\":\"7a96ccdb-ee03-11f1-ace8-02fc00000001\""), "%s", out);
    cr_assert(strstr(out, "\"gtid\":\"7a96ccdb-ee03-11f1-ace8-02fc00000001:101\""), "%s", out);
    cr_assert(strstr(out, "\"event\":3"), "%s", out);
    free(out);
    /* Debezium's unfinished snapshot is no position to set. */
    out = offsets_set("{\"file\":\"binlog.000003\",\"pos\":4,\"snapshot\":\"INITIAL\"}", SL_CONFIG);
    cr_assert(strstr(out, "use reset"), "%s", out);
    free(out);
    /* A position text as the offsets file holds it still is one. */
    out = offsets_set("{\"file\":\"binlog.000003\",\"pos\":4,\"server_id\":2,\"ts_sec\":5,"
                      "\"server_uuid\":\"7a96ccdb-ee03-11f1-ace8-02fc00000001\"}",
                      SL_OK);
    cr_assert(strstr(out, "\"sluice_server_uuid\":\"7a96ccdb-ee03-11f1-ace8-02fc00000001\""), "%s",
              out);
    free(out);
}

/*
 * Transaction metadata counts inside a transaction: Debezium's map holds
 * them as transaction_id and transaction_data_collection_order_<table>;
 * they become the position's counts (the pipeline reads them back with
 * position_tx_counts) and go back into the map unchanged.
 */
Test(my_offset, transaction_metadata_counts_go_both_ways)
{
    const char *map = "{\"file\":\"binlog.000002\",\"pos\":1234,\"event\":3,\"row\":7,"
                      "\"server_id\":2,\"transaction_id\":\"file=binlog.000002,pos=1234\","
                      "\"transaction_data_collection_order_inventory.orders\":40,"
                      "\"transaction_data_collection_order_inventory.items\":2}";
    char *text = from_map(&sl_source_mysql, map, NULL);
    sl_position bin;
    sl_error err;
    cr_assert_eq(sl_source_mysql.position_parse(text, &bin, &err), SL_OK, "%s", err.msg);
    sl_arena a;
    sl_arena_init(&a, 256);
    sl_tx_counts c;
    bool found = false;
    cr_assert_eq(sl_source_mysql.position_tx_counts(&bin, &a, &c, &found, &err), SL_OK);
    cr_assert(found);
    cr_assert_str_eq(c.txid, "file=binlog.000002,pos=1234");
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.collections[0].name, "inventory.orders");
    cr_assert_eq(c.collections[0].count, 40);
    cr_assert_eq(c.collections[1].count, 2);
    sl_arena_destroy(&a);
    char *back = to_map(&sl_source_mysql, text, "");
    cr_assert(strstr(back, "\"transaction_id\":\"file=binlog.000002,pos=1234\""), "%s", back);
    cr_assert(strstr(back, "\"transaction_data_collection_order_inventory.orders\":40"), "%s",
              back);
    free(back);
    free(text);

    /* Between transactions Debezium writes a null id: no counts. */
    text = from_map(&sl_source_mysql,
                    "{\"file\":\"binlog.000002\",\"pos\":99,\"transaction_id\":null}", NULL);
    cr_assert_eq(sl_source_mysql.position_parse(text, &bin, &err), SL_OK, "%s", err.msg);
    sl_arena_init(&a, 256);
    cr_assert_eq(sl_source_mysql.position_tx_counts(&bin, &a, &c, &found, &err), SL_OK);
    cr_assert_not(found);
    sl_arena_destroy(&a);
    free(text);

    /* Counts that do not fit beside the rest of the position: SL_FULL, the position unchanged. */
    cr_assert_eq(
        sl_source_mysql.position_parse("{\"file\":\"binlog.000002\",\"pos\":99}", &bin, &err),
        SL_OK);
    sl_position before = bin;
    sl_tx_collection_count many[20];
    char names[20][32];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "inventory.table_number_%02d", i);
        many[i] = (sl_tx_collection_count){names[i], i + 1};
    }
    sl_tx_counts big = {.txid = "file=binlog.000002,pos=99", .collections = many, .n = 20};
    cr_assert_eq(sl_source_mysql.position_add_tx_counts(&bin, &big, &err), SL_FULL);
    cr_assert_eq(bin.len, before.len);
    cr_assert_eq(memcmp(bin.bytes, before.bytes, bin.len), 0);
    big.n = 2;
    cr_assert_eq(sl_source_mysql.position_add_tx_counts(&bin, &big, &err), SL_OK, "%s", err.msg);
    cr_assert_gt(bin.len, before.len);
}
