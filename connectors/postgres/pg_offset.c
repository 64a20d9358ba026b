/*
 * Kafka Connect's offset of Debezium's PostgreSQL connector, both ways, for
 * the Kafka offset store (offset.storage=kafka): what lets a team stop
 * Debezium and start sluice on the same slot and offsets topic, and go back.
 *
 * Debezium's PostgresOffsetContext writes a map of
 *   lsn         the LSN of the last event it emitted (Lsn.asLong())
 *   lsn_commit  the end LSN of the last transaction it saw commit
 *   lsn_proc    the last LSN it processed completely
 *   txId, ts_usec, messageType, xmin, lsn_events_processed
 *   snapshot, snapshot_completed, last_snapshot_record (while a snapshot runs)
 *   incremental_snapshot_* (while an incremental snapshot runs)
 *
 * sluice's position is the end LSN of the last transaction it delivered
 * completely, so it writes lsn = lsn_commit = that LSN with the
 * transaction's txId and ts_usec, and no lsn_proc: without lsn_proc,
 * Debezium starts the stream at lsn and emits everything the server sends
 * from there, which is every transaction committed after it (the server
 * skips those whose commit record starts before the requested LSN). With
 * lsn_proc, Debezium would first search the stream for that LSN
 * (WalPositionLocator), a search meant for positions inside a transaction,
 * which can skip the first changes of a transaction that began before it
 * and has a change at exactly that LSN. The slot's identity goes in keys of
 * sluice's own (sluice_slot, sluice_system_identifier, sluice_timeline),
 * which Debezium ignores, and so does sluice's state (sluice_state, the
 * source's state as JSON text).
 *
 * Reading a map back, the resume point is lsn_commit (everything up to the
 * last commit Debezium saw is delivered; a transaction it had only begun to
 * emit comes again), else lsn_proc, else lsn.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres/pg_source_int.h"
#include "sluice/log.h"

/* A JSON integer that is a valid LSN (Debezium writes Lsn.asLong(), never negative). */
static bool get_lsn(json_t *map, const char *key, uint64_t *lsn)
{
    json_t *v = json_object_get(map, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *lsn = (uint64_t)json_integer_value(v);
    return true;
}

/* True when state (the snapshot machinery's JSON) has an initial snapshot in progress. */
static bool state_has_initial_snapshot(const char *state)
{
    json_t *root = json_loads(state, 0, NULL);
    bool initial = false;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(root, "collections"), i, c)
    {
        const char *kind = json_string_value(json_object_get(c, "kind"));
        if (kind && strcmp(kind, "initial") == 0)
            initial = true;
    }
    json_decref(root);
    return initial;
}

sl_code pg_connect_offset_format(const char *position, const char *state, sl_buf *out,
                                 sl_error *err)
{
    uint64_t lsn;
    json_t *map = json_object();
    json_t *pos = NULL;
    if (position[0] == '{') {
        pos = json_loads(position, 0, NULL);
        const char *text = json_string_value(json_object_get(pos, "lsn"));
        if (!text || pgo_lsn_parse(text, &lsn) != 0) {
            json_decref(pos);
            json_decref(map);
            return sl_error_set(err, SL_INVALID, "the position has no valid \"lsn\"");
        }
    } else if (pgo_lsn_parse(position, &lsn) != 0) {
        json_decref(map);
        return sl_error_set(err, SL_INVALID, "the position is not an LSN");
    }
    json_object_set_new(map, "lsn", json_integer((json_int_t)lsn));
    json_object_set_new(map, "lsn_commit", json_integer((json_int_t)lsn));
    json_t *xid = json_object_get(pos, "txId");
    json_t *ts = json_object_get(pos, "ts_usec");
    if (json_is_integer(xid) && json_is_integer(ts)) {
        json_object_set(map, "txId", xid);
        json_object_set(map, "ts_usec", ts);
    }
    json_t *slot = json_object_get(pos, "slot");
    if (slot) {
        json_object_set(map, "sluice_slot", slot);
        json_object_set(map, "sluice_system_identifier", json_object_get(pos, "system_identifier"));
        json_object_set(map, "sluice_timeline", json_object_get(pos, "timeline"));
    }
    if (state && *state) {
        /* Debezium then takes its own snapshot again, as after an interrupted one. */
        if (state_has_initial_snapshot(state)) {
            json_object_set_new(map, "snapshot", json_string("INITIAL"));
            json_object_set_new(map, "snapshot_completed", json_false());
            json_object_set_new(map, "last_snapshot_record", json_false());
        }
        json_object_set_new(map, "sluice_state", json_string(state));
    }
    json_decref(pos);
    char *text = json_dumps(map, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(map);
    if (!text)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    sl_buf_puts(out, text);
    free(text);
    return SL_OK;
}

/* Whether Debezium's map says its initial (or blocking) snapshot was not finished. */
static bool snapshot_unfinished(json_t *map)
{
    json_t *snap = json_object_get(map, "snapshot");
    const char *s = json_string_value(snap);
    bool running =
        json_is_true(snap) ||
        (s && (strcmp(s, "INITIAL") == 0 || strcmp(s, "BLOCKING") == 0 || strcmp(s, "true") == 0));
    json_t *done = json_object_get(map, "snapshot_completed");
    const char *d = json_string_value(done);
    return running && !json_is_true(done) && !(d && strcmp(d, "true") == 0);
}

sl_code pg_connect_offset_parse(const char *offset, sl_buf *position, sl_buf *state, bool *found,
                                sl_error *err)
{
    *found = false;
    json_t *map = json_loads(offset, 0, NULL);
    if (!json_is_object(map)) {
        json_decref(map);
        return sl_error_set(err, SL_STATE, "the offset is not a JSON object");
    }
    const char *sluice_state = json_string_value(json_object_get(map, "sluice_state"));
    if (snapshot_unfinished(map) && !sluice_state) {
        json_decref(map); /* Debezium's own snapshot, which sluice cannot continue */
        return SL_OK;
    }
    uint64_t lsn;
    if (!get_lsn(map, "lsn_commit", &lsn) && !get_lsn(map, "lsn_proc", &lsn) &&
        !get_lsn(map, "lsn", &lsn)) {
        json_decref(map);
        return sl_error_set(err, SL_STATE,
                            "the offset has none of \"lsn_commit\", \"lsn_proc\" and \"lsn\" as "
                            "a non-negative integer");
    }
    if (json_object_get(map, "incremental_snapshot_collections"))
        sl_warn("the stored offset holds an incremental snapshot in progress, which sluice does "
                "not continue; streaming goes on from it (send the execute-snapshot signal "
                "again to take it)");
    char text[32];
    pgo_lsn_format(lsn, text, sizeof text);
    const char *slot = json_string_value(json_object_get(map, "sluice_slot"));
    const char *sysid = json_string_value(json_object_get(map, "sluice_system_identifier"));
    json_t *tl = json_object_get(map, "sluice_timeline");
    if (slot && sysid && json_is_integer(tl)) {
        json_t *pos = json_pack("{s:s, s:s, s:s, s:O}", "lsn", text, "slot", slot,
                                "system_identifier", sysid, "timeline", tl);
        json_t *xid = json_object_get(map, "txId");
        json_t *ts = json_object_get(map, "ts_usec");
        if (json_is_integer(xid) && json_is_integer(ts)) {
            json_object_set(pos, "txId", xid);
            json_object_set(pos, "ts_usec", ts);
        }
        char *p = json_dumps(pos, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(pos);
        if (!p) {
            json_decref(map);
            return sl_error_set(err, SL_NOMEM, "out of memory");
        }
        sl_buf_puts(position, p);
        free(p);
    } else {
        sl_buf_puts(position, text); /* Debezium's: no identity to check */
    }
    if (sluice_state)
        sl_buf_puts(state, sluice_state);
    json_decref(map);
    *found = true;
    return SL_OK;
}
