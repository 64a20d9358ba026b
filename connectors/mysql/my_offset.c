/*
 * Kafka Connect's offset of Debezium's MySQL and MariaDB connectors, both
 * ways, for the Kafka offset store (offset.storage=kafka): what lets a team
 * stop Debezium and start sluice on the same offsets topic, and go back.
 *
 * Debezium 3.x (BinlogOffsetContext) writes a map of
 *   file, pos   where a restart reads from: after the last complete
 *               transaction, or inside one, its BEGIN (MySQL's BEGIN
 *               query, MariaDB's GTID event)
 *   gtids       the GTID set (MySQL) or GTID position (MariaDB) of the
 *               complete transactions; absent when the server has none
 *   event, row  inside a transaction: its events done (the BEGIN being the
 *               first) and the rows of the next one done; absent when 0
 *   server_id   of the last event; absent when 0
 *   ts_sec      the last event's time, in seconds; absent before any event
 *   snapshot    while a snapshot runs: "INITIAL", "BLOCKING" or
 *               "INCREMENTAL" (Debezium 1.x/2.x: true)
 *   transaction_id, transaction_data_collection_order_<db.table>
 *               inside a transaction, with provide.transaction.metadata:
 *               its id and each table's events so far (the total being
 *               their sum), which sluice's position carries too
 *   incremental_snapshot_*  an incremental snapshot's progress, which
 *               sluice ignores
 * with every number a JSON integer, as JsonConverter writes Java longs.
 *
 * sluice's position (my_position.h) has those members with the same
 * meaning (the stream counts events and rows as Debezium does), so the map
 * is the position text with zero members left out as Debezium leaves them
 * out, and sluice's own members renamed so that Debezium ignores them:
 * server_uuid and gtid become sluice_server_uuid and sluice_gtid, and the
 * source's state goes in sluice_state as for PostgreSQL.
 *
 * Reading a map back follows Debezium's loader: "file" is required, the
 * numbers may be JSON integers or strings of digits, a missing one is 0.
 * Debezium's MariaDB GTID position may hold several GTIDs of one domain
 * (one per server that wrote to it); a MariaDB replica starts from one per
 * domain, the newest, which is the highest sequence number.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql/my_gtid.h"
#include "mysql/my_offset.h"
#include "mysql/my_position.h"
#include "sluice/log.h"

/* Copies member key of from to to as name when it is an integer above 0. */
static void copy_count(json_t *from, const char *key, json_t *to, const char *name)
{
    json_t *v = json_object_get(from, key);
    if (json_is_integer(v) && json_integer_value(v) > 0)
        json_object_set(to, name, v);
}

/* Copies a transaction's metadata counts (transaction_*) of from to to, when it has an id. */
static void copy_tx_counts(json_t *from, json_t *to)
{
    if (!json_is_string(json_object_get(from, "transaction_id")))
        return;
    const char *key;
    json_t *v;
    json_object_foreach(from, key, v)
    {
        if (strcmp(key, "transaction_id") == 0 ||
            strncmp(key, "transaction_data_collection_order_",
                    sizeof "transaction_data_collection_order_" - 1) == 0)
            json_object_set(to, key, v);
    }
}

/* Copies member key of from to to as name when it is a non-empty string. */
static void copy_text(json_t *from, const char *key, json_t *to, const char *name)
{
    const char *s = json_string_value(json_object_get(from, key));
    if (s && *s)
        json_object_set_new(to, name, json_string(s));
}

sl_code my_connect_offset_format(const char *position, const char *state, sl_buf *out,
                                 sl_error *err)
{
    json_t *pos = json_loads(position, 0, NULL);
    json_t *file = json_object_get(pos, "file");
    json_t *at = json_object_get(pos, "pos");
    if (!json_is_string(file) || !json_is_integer(at) || json_integer_value(at) < 0) {
        json_decref(pos);
        return sl_error_set(err, SL_INVALID, "the position has no binlog \"file\" and \"pos\"");
    }
    /* The members in the order Debezium's HashMap gives them, as operators know it. */
    json_t *map = json_object();
    copy_count(pos, "ts_sec", map, "ts_sec");
    json_object_set(map, "file", file);
    json_object_set(map, "pos", at);
    copy_text(pos, "gtids", map, "gtids");
    copy_count(pos, "row", map, "row");
    copy_count(pos, "server_id", map, "server_id");
    copy_count(pos, "event", map, "event");
    copy_text(pos, "server_uuid", map, "sluice_server_uuid");
    copy_text(pos, "gtid", map, "sluice_gtid");
    copy_tx_counts(pos, map);
    if (state && *state)
        json_object_set_new(map, "sluice_state", json_string(state));
    json_decref(pos);
    char *text = json_dumps(map, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(map);
    if (!text)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    sl_buf_puts(out, text);
    free(text);
    return SL_OK;
}

/*
 * Debezium's MariaDB GTID position reduced to one GTID per domain, the
 * highest sequence number of each, as text appended to out. false when
 * text is not a list of domain-server-sequence GTIDs.
 */
static bool mariadb_newest_per_domain(const char *text, sl_buf *out)
{
    my_mariadb_gtid_list list, one;
    my_mariadb_gtid_list_init(&list);
    my_mariadb_gtid_list_init(&one);
    char *copy = strdup(text);
    bool ok = copy != NULL;
    char *save = NULL;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; ok && tok;
         tok = strtok_r(NULL, ",", &save)) {
        sl_error e;
        /* One GTID at a time through sluice's reader, which refuses two of one domain. */
        ok = my_mariadb_gtid_list_parse(&one, tok, &e) == SL_OK;
        for (size_t k = 0; ok && k < one.n; k++) {
            bool newer = true;
            for (size_t i = 0; i < list.n; i++)
                if (list.g[i].domain == one.g[k].domain && list.g[i].seq >= one.g[k].seq)
                    newer = false;
            if (newer)
                ok = my_mariadb_gtid_list_set(&list, &one.g[k], &e) == SL_OK;
        }
    }
    if (ok)
        my_mariadb_gtid_list_format(&list, out);
    free(copy);
    my_mariadb_gtid_list_free(&one);
    my_mariadb_gtid_list_free(&list);
    return ok;
}

/* Whether the map says Debezium's initial snapshot was not finished. */
static bool initial_snapshot_unfinished(json_t *map)
{
    json_t *snap = json_object_get(map, "snapshot");
    const char *s = json_string_value(snap);
    bool initial =
        json_is_true(snap) || (s && (strcmp(s, "INITIAL") == 0 || strcmp(s, "true") == 0));
    json_t *done = json_object_get(map, "snapshot_completed");
    const char *d = json_string_value(done);
    return initial && !json_is_true(done) && !(d && strcmp(d, "true") == 0);
}

/* The member key of map turned into an integer member of pos (Debezium's longOffsetValue). */
static const char *take_number(json_t *map, const char *key, json_t *pos)
{
    json_t *v = json_object_get(map, key);
    if (!v || json_is_null(v))
        return NULL;
    json_int_t i;
    if (json_is_integer(v)) {
        i = json_integer_value(v);
    } else {
        const char *s = json_string_value(v);
        char *end;
        if (!s || *s < '0' || *s > '9')
            return key;
        long long ll = strtoll(s, &end, 10);
        if (*end)
            return key;
        i = (json_int_t)ll;
    }
    if (i < 0)
        return key;
    json_object_set_new(pos, key, json_integer(i));
    return NULL;
}

static sl_code connect_offset_parse(const char *offset, bool mariadb, sl_buf *position,
                                    sl_buf *state, bool *found, sl_error *err)
{
    *found = false;
    json_t *map = json_loads(offset, 0, NULL);
    if (!json_is_object(map)) {
        json_decref(map);
        return sl_error_set(err, SL_STATE, "the offset is not a JSON object");
    }
    const char *sluice_state = json_string_value(json_object_get(map, "sluice_state"));
    if (initial_snapshot_unfinished(map) && !sluice_state) {
        sl_warn("the stored offset is of Debezium's unfinished initial snapshot, which sluice "
                "does not continue (nor take for MySQL/MariaDB yet): starting as if nothing "
                "were stored, as Debezium would start its snapshot again");
        json_decref(map);
        return SL_OK;
    }
    json_t *snap = json_object_get(map, "snapshot");
    const char *snap_text = json_string_value(snap);
    if (snap && !json_is_boolean(snap) &&
        !(snap_text && (strcmp(snap_text, "INITIAL") == 0 || strcmp(snap_text, "BLOCKING") == 0 ||
                        strcmp(snap_text, "INCREMENTAL") == 0 || strcmp(snap_text, "true") == 0 ||
                        strcmp(snap_text, "false") == 0))) {
        json_decref(map);
        return sl_error_set(err, SL_STATE, "the offset's \"snapshot\" is not a snapshot type");
    }
    if (snap_text && strcmp(snap_text, "BLOCKING") == 0)
        sl_warn("the stored offset holds a blocking snapshot in progress, which sluice does not "
                "continue; streaming goes on from its binlog position");
    if ((snap_text && strcmp(snap_text, "INCREMENTAL") == 0) ||
        json_object_get(map, "incremental_snapshot_collections"))
        sl_warn("the stored offset holds an incremental snapshot in progress, which sluice does "
                "not continue; streaming goes on from it (send the execute-snapshot signal "
                "again to take it)");

    json_t *pos = json_object();
    const char *bad = NULL;
    const char *file = json_string_value(json_object_get(map, "file"));
    const char *gtids = json_string_value(json_object_get(map, "gtids"));
    json_t *gt = json_object_get(map, "gtids");
    if (!file)
        bad = "file";
    else if (gt && !json_is_null(gt) && !gtids)
        bad = "gtids";
    if (!bad) {
        json_object_set_new(pos, "file", json_string(file));
        /* Debezium's loader takes a missing pos as 0; a binlog has nothing before 4. */
        json_object_set_new(pos, "pos", json_integer(0));
    }
    static const char *const numbers[] = {"pos", "event", "row", "server_id", "ts_sec"};
    for (size_t i = 0; !bad && i < sizeof numbers / sizeof *numbers; i++)
        bad = take_number(map, numbers[i], pos);
    if (!bad && gtids && *gtids) {
        /* The text says the family: MySQL's sets have "uuid:", MariaDB's GTIDs none. */
        bool maria_text = !strchr(gtids, ':');
        if (maria_text) {
            sl_buf b;
            sl_buf_init(&b);
            if (mariadb_newest_per_domain(gtids, &b))
                json_object_set_new(pos, "gtids", json_string(sl_buf_cstr(&b)));
            else
                bad = "gtids";
            sl_buf_free(&b);
        } else {
            json_object_set_new(pos, "gtids", json_string(gtids));
        }
        mariadb = maria_text;
    }
    const char *uuid = json_string_value(json_object_get(map, "sluice_server_uuid"));
    if (!bad && uuid) {
        json_object_set_new(pos, "server_uuid", json_string(uuid));
        mariadb = false;
    }
    const char *gtid = json_string_value(json_object_get(map, "sluice_gtid"));
    if (!bad && gtid)
        json_object_set_new(pos, "gtid", json_string(gtid));
    if (!bad)
        copy_tx_counts(map, pos);
    if (bad) {
        json_decref(pos);
        json_decref(map);
        return sl_error_set(err, SL_STATE, "the offset's \"%s\" is %s", bad,
                            strcmp(bad, "file") == 0    ? "missing or not a binlog file name"
                            : strcmp(bad, "gtids") == 0 ? "not a GTID set"
                                                        : "not a non-negative integer");
    }
    if (!*file && !(gtids && *gtids)) {
        json_decref(pos);
        json_decref(map);
        return sl_error_set(err, SL_STATE,
                            "the offset's \"file\" is empty and it has no \"gtids\": it holds no "
                            "place in the binlog to resume from");
    }

    /* Through sluice's own reader, which checks every member, and back to its canonical text. */
    char *text = json_dumps(pos, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(pos);
    if (!text) {
        json_decref(map);
        return sl_error_set(err, SL_NOMEM, "out of memory");
    }
    my_position p;
    my_position_init(&p);
    sl_code rc = my_position_parse(text, mariadb, &p, err);
    free(text);
    if (rc == SL_OK) {
        my_position_format(&p, position);
        if (sluice_state)
            sl_buf_puts(state, sluice_state);
        *found = true;
    }
    my_position_free(&p);
    json_decref(map);
    return rc;
}

sl_code my_connect_offset_parse_mysql(const char *offset, sl_buf *position, sl_buf *state,
                                      bool *found, sl_error *err)
{
    return connect_offset_parse(offset, false, position, state, found, err);
}

sl_code my_connect_offset_parse_mariadb(const char *offset, sl_buf *position, sl_buf *state,
                                        bool *found, sl_error *err)
{
    return connect_offset_parse(offset, true, position, state, found, err);
}
