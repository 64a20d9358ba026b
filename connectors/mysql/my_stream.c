/*
 * Events of the MySQL/MariaDB source (my_source_int.h): each binlog event
 * becomes batch items, BEGIN, EVENTs with their row values and source
 * block, COMMIT with the position after the transaction.
 *
 * A transaction larger than a batch is cut at row boundaries: the batch
 * ends with a COMMIT carrying the position inside the transaction (its
 * BEGIN, the events and rows emitted), and the next poll starts with a
 * BEGIN. So the checkpoint moves through a large transaction and a restart
 * sends only what was not acknowledged; each piece is a transaction to the
 * pipeline, which changes nothing downstream (no transaction metadata).
 *
 * An event is handled in one step or not at all: a handler first checks
 * that the batch has room for every item it may add, and leaves the event
 * for the next poll otherwise (a rows event goes on from the row it
 * reached). Nothing is read from the connection while an event waits, so
 * its bytes stay valid.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mysql/my_source_int.h"
#include "sluice/log.h"

const char *const my_source_field_names[MY_SRC_FIELDS] = {
    "version", "connector", "name", "ts_ms", "snapshot", "db",  "sequence", "ts_us", "ts_ns",
    "table",   "server_id", "gtid", "file",  "pos",      "row", "thread",   "query",
};

/* Items a row may add: a key change's delete and create, and a COMMIT cutting the transaction. */
#define ROW_ROOM 3

void my_stream_reset(sl_source *s)
{
    memset(&s->cur, 0, sizeof s->cur);
    s->in_payload = false;
    s->in_tx = false;
    s->tx_begun = false;
    s->pending_gtid = false;
    s->has_tx_gtid = false;
    s->thread_id = -1;
    s->tx_skip = false;
    s->tx_meta = false;
    s->tx_meta_begun = false;
    free(s->query_text);
    s->query_text = NULL;
    s->query_len = 0;
    s->batch_file = NULL;
    s->batch_gtid = NULL;
    s->batch_query = NULL;
    s->batch_txid = NULL;
}

static size_t room(const sl_batch *b)
{
    return b->capacity - b->count;
}

/* ---- positions ---- */

/* Pushes a COMMIT with position p, and remembers it as where a reconnect resumes. */
static void push_commit(sl_source *s, sl_batch *batch, const my_position *p)
{
    sl_item *item = my_batch_push(batch, SL_ITEM_COMMIT);
    bool dropped = false;
    sl_error err;
    /* The snapshot's state as of this position goes with it (my_snapshot.c). */
    my_position versioned = *p;
    versioned.snap_version = s->snap ? my_snap_version(s) : 0;
    if (my_position_encode(&versioned, &item->u.position, &dropped, &err) != SL_OK) {
        /* A file name that does not fit: keep the position without anything but the file's start.
         */
        sl_warn("%s", err.msg);
        item->u.position.len = 0;
    }
    if (dropped && !s->gtids_warned) {
        s->gtids_warned = true;
        sl_warn("the server's GTID set is too large to be kept with each position (%d bytes); "
                "positions hold the binlog file and position only, so sluice can resume on this "
                "server but not follow a failover (gtid.source.includes can narrow the set)",
                SL_POSITION_MAX);
    }
    if (item->u.position.len) {
        s->emitted = item->u.position;
        s->have_emitted = true;
        snprintf(s->emitted_file, sizeof s->emitted_file, "%s", p->file);
        s->emitted_pos = p->pos;
    }
}

/* The position inside the current transaction: rows of its current event emitted. */
static void position_inside(sl_source *s, uint32_t rows_done, my_position *p)
{
    my_source_position_here(s, p);
    snprintf(p->file, sizeof p->file, "%s", s->tx_file);
    p->pos = s->tx_pos;
    p->event = s->tx_events;
    p->row = rows_done;
    p->has_gtid = s->has_tx_gtid;
    p->gtid = s->tx_gtid;
}

/* Ends the items of the transaction so far with a COMMIT inside it; the next poll BEGINs again. */
static void cut_transaction(sl_source *s, sl_batch *batch, uint32_t rows_done)
{
    my_position p;
    position_inside(s, rows_done, &p);
    push_commit(s, batch, &p);
    s->tx_begun = false;
}

/* The transaction's id in the batch arena (transaction metadata), copied once per poll. */
static const char *batch_txid(sl_source *s, sl_batch *batch)
{
    if (!s->batch_txid || s->batch_txid_poll != s->poll_count ||
        s->batch_txid_serial != s->tx_serial) {
        s->batch_txid = sl_arena_strdup(&batch->arena, s->tx_id);
        s->batch_txid_poll = s->poll_count;
        s->batch_txid_serial = s->tx_serial;
    }
    return s->batch_txid;
}

/*
 * Pushes the transaction's BEGIN before its first event. The first BEGIN
 * of a transaction with metadata carries its id, so the pipeline writes its
 * BEGIN record; the BEGIN after a cut (cut_transaction()) carries none, and
 * the pipeline's count goes on.
 */
static void ensure_begun(sl_source *s, sl_batch *batch)
{
    if (!s->tx_begun) {
        sl_item *item = my_batch_push(batch, SL_ITEM_BEGIN);
        s->tx_begun = true;
        if (s->tx_meta && !s->tx_meta_begun) {
            item->txid = batch_txid(s, batch);
            item->tx_ts_ms = s->tx_begin_ms;
            s->tx_meta_begun = true;
        }
    }
}

/*
 * Between transactions: pushes a position-only COMMIT at the stream's
 * position when it moved past the last one emitted (events outside any
 * transaction: a rotation's, a server heartbeat's).
 */
static void push_position_if_moved(sl_source *s, sl_batch *batch)
{
    if (room(batch) >= 1 && s->next_pos > 4 &&
        (s->emitted_pos != s->next_pos || strcmp(s->emitted_file, s->file) != 0)) {
        my_position p;
        my_source_position_here(s, &p);
        push_commit(s, batch, &p);
    }
}

/* ---- transactions ---- */

static void tx_gtid_text(sl_source *s)
{
    s->gtid_text_len = 0;
    if (!s->has_tx_gtid)
        return;
    sl_buf b;
    sl_buf_init(&b);
    my_tx_gtid_format(&s->tx_gtid, s->server.flavor == MY_FLAVOR_MARIADB, &b);
    if (b.len < sizeof s->gtid_text) {
        memcpy(s->gtid_text, b.data, b.len);
        s->gtid_text_len = b.len;
    }
    sl_buf_free(&b);
    s->gtid_serial++;
}

/* The source block's ts_ms of the current event: the GTID's commit time, or the header's. */
static int64_t event_ms(const sl_source *s)
{
    return s->commit_us_exact ? s->commit_us / 1000 : (int64_t)s->cur.ev.timestamp * 1000;
}

/*
 * The transaction's id as Debezium's MySQL and MariaDB connectors write it
 * in transaction metadata: its GTID (as source.gtid shows it), or without
 * one "file=<binlog>,pos=<position of its BEGIN>".
 */
static void tx_meta_start(sl_source *s)
{
    s->tx_meta = true;
    s->tx_meta_begun = false;
    s->tx_serial++;
    s->tx_begin_ms = event_ms(s);
    if (s->has_tx_gtid && s->gtid_text_len)
        snprintf(s->tx_id, sizeof s->tx_id, "%.*s", (int)s->gtid_text_len, s->gtid_text);
    else
        snprintf(s->tx_id, sizeof s->tx_id, "file=%s,pos=%" PRIu64, s->tx_file, s->tx_pos);
}

/*
 * A transaction starts at the current event (MySQL's BEGIN, MariaDB's GTID
 * event; with_meta), or a statement is a transaction of its own, which
 * Debezium gives no transaction metadata.
 */
static void tx_begin(sl_source *s, bool have_gtid, const my_tx_gtid *gtid, bool with_meta)
{
    s->in_tx = true;
    s->tx_begun = false;
    s->tx_events = 0; /* the BEGIN counts once handled */
    snprintf(s->tx_file, sizeof s->tx_file, "%s", s->file);
    s->tx_pos = s->cur.start_pos;
    s->has_tx_gtid = have_gtid;
    if (have_gtid)
        s->tx_gtid = *gtid;
    s->tx_skip = false;
    if (s->resume_skip_pending) {
        const my_position *r = &s->resume;
        bool same = true;
        if (r->has_gtid && have_gtid) {
            same = s->server.flavor == MY_FLAVOR_MARIADB
                       ? (r->gtid.domain == gtid->domain && r->gtid.seq == gtid->seq &&
                          r->gtid.server_id == gtid->server_id)
                       : (memcmp(r->gtid.uuid, gtid->uuid, 16) == 0 &&
                          strcmp(r->gtid.tag, gtid->tag) == 0 && r->gtid.gno == gtid->gno);
        } else if (r->has_gtid && !have_gtid) {
            /* Resumed by file and position at the BEGIN: the GTID event was before it. */
            s->has_tx_gtid = true;
            s->tx_gtid = r->gtid;
        }
        if (same) {
            s->tx_skip = true;
            s->skip_events = r->event;
            s->skip_rows = r->row;
            s->resume_skip_pending = false;
        }
    }
    tx_gtid_text(s);
    s->tx_meta = false;
    s->tx_meta_begun = false;
    if (with_meta && s->provide_txmeta)
        tx_meta_start(s);
    if (s->snap)
        my_snap_on_begin(s);
}

/*
 * Whether the batch has room for the COMMIT; then ends the transaction with
 * it. With metadata the COMMIT carries the id, for the END record, and a
 * transaction none of whose events was emitted gets its BEGIN first: its
 * records come with event_count 0, as Debezium's.
 */
static bool tx_commit(sl_source *s, sl_batch *batch)
{
    bool meta = s->tx_meta;
    if (room(batch) < (meta && !s->tx_begun ? 2u : 1u))
        return false;
    if (meta)
        ensure_begun(s, batch);
    if (s->has_tx_gtid) {
        sl_error err;
        if (s->server.flavor == MY_FLAVOR_MARIADB) {
            my_mariadb_gtid g = {s->tx_gtid.domain, s->tx_gtid.server_id, s->tx_gtid.seq};
            if (my_mariadb_gtid_list_set(&s->mgtids, &g, &err) == SL_OK)
                s->have_gtids = true;
        } else if (s->have_gtids || s->server.gtid_mode_on) {
            if (my_gtid_set_add(&s->gtids, s->tx_gtid.uuid, s->tx_gtid.tag, s->tx_gtid.gno, &err) ==
                SL_OK)
                s->have_gtids = true;
        }
    }
    my_position p;
    my_source_position_here(s, &p);
    push_commit(s, batch, &p);
    if (meta) {
        sl_item *item = &batch->items[batch->count - 1];
        item->txid = batch_txid(s, batch);
        item->tx_ts_ms = event_ms(s);
    }
    s->in_tx = false;
    s->tx_meta = false;
    s->tx_meta_begun = false;
    s->tx_begun = false;
    s->has_tx_gtid = false;
    s->tx_skip = false;
    s->thread_id = -1;
    s->commit_us_exact = false;
    free(s->query_text);
    s->query_text = NULL;
    s->query_len = 0;
    if (s->snap)
        my_snap_on_position(s);
    return true;
}

/* ---- source blocks ---- */

/* The value of text in the batch arena, copied once per poll. */
static const char *batch_copy(sl_arena *arena, const char *text, size_t len)
{
    return sl_arena_strndup(arena, text, len);
}

static sl_value *source_block(sl_source *s, sl_batch *batch, const my_table *t, uint32_t row)
{
    sl_arena *a = &batch->arena;
    sl_value *v = sl_arena_alloc(a, MY_SRC_FIELDS * sizeof *v);
    static const char version[] = MY_SOURCE_VERSION;
    const char *connector = s->ops->connector_name;
    v[MY_SRC_VERSION] = sl_value_string(version, sizeof version - 1);
    v[MY_SRC_CONNECTOR] = sl_value_string(connector, (uint32_t)strlen(connector));
    v[MY_SRC_NAME] = sl_value_string(s->topic_prefix, (uint32_t)strlen(s->topic_prefix));
    int64_t us = s->commit_us_exact ? s->commit_us : (int64_t)s->cur.ev.timestamp * 1000000;
    v[MY_SRC_TS_MS] = sl_value_int(us / 1000);
    v[MY_SRC_SNAPSHOT] = sl_value_string("false", 5);
    const char *db = t ? t->base.database : "";
    v[MY_SRC_DB] = sl_value_string(db, (uint32_t)strlen(db));
    v[MY_SRC_SEQUENCE] = sl_value_null();
    v[MY_SRC_TS_US] = sl_value_int(us);
    v[MY_SRC_TS_NS] = sl_value_int(us * 1000);
    v[MY_SRC_TABLE] =
        t ? sl_value_string(t->base.name, (uint32_t)strlen(t->base.name)) : sl_value_null();
    v[MY_SRC_SERVER_ID] = sl_value_int(s->cur.ev.server_id);
    if (s->has_tx_gtid && s->gtid_text_len) {
        if (s->batch_gtid_poll != s->poll_count || s->batch_gtid_serial != s->gtid_serial) {
            s->batch_gtid = batch_copy(a, s->gtid_text, s->gtid_text_len);
            s->batch_gtid_poll = s->poll_count;
            s->batch_gtid_serial = s->gtid_serial;
        }
        v[MY_SRC_GTID] = sl_value_string(s->batch_gtid, (uint32_t)s->gtid_text_len);
    } else {
        v[MY_SRC_GTID] = sl_value_null();
    }
    size_t fl = strlen(s->file);
    if (s->batch_file_poll != s->poll_count || !s->batch_file ||
        strcmp(s->batch_file, s->file) != 0) {
        s->batch_file = batch_copy(a, s->file, fl);
        s->batch_file_poll = s->poll_count;
    }
    v[MY_SRC_FILE] = sl_value_string(s->batch_file, (uint32_t)fl);
    v[MY_SRC_POS] = sl_value_int((int64_t)s->cur.start_pos);
    v[MY_SRC_ROW] = sl_value_int(row);
    v[MY_SRC_THREAD] = s->thread_id >= 0 ? sl_value_int(s->thread_id) : sl_value_null();
    if (s->query_text) {
        if (s->batch_query_poll != s->poll_count || !s->batch_query) {
            s->batch_query = batch_copy(a, s->query_text, s->query_len);
            s->batch_query_poll = s->poll_count;
        }
        v[MY_SRC_QUERY] = sl_value_string(s->batch_query, (uint32_t)s->query_len);
    } else {
        v[MY_SRC_QUERY] = sl_value_null();
    }
    return v;
}

static sl_event *push_event(sl_source *s, sl_batch *batch, my_table *t, sl_op op, uint32_t row)
{
    ensure_begun(s, batch);
    sl_item *item = my_batch_push(batch, SL_ITEM_EVENT);
    sl_event *ev = &item->u.event;
    memset(ev, 0, sizeof *ev);
    ev->op = op;
    ev->table = &t->base;
    ev->source_schema = s->source_schema;
    ev->source = source_block(s, batch, t, row);
    if (s->tx_meta)
        ev->txid = batch_txid(s, batch);
    return ev;
}

/* ---- rows ---- */

static bool values_equal(const sl_value *a, const sl_value *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case SL_VALUE_NULL:
    case SL_VALUE_ABSENT:
        return true;
    case SL_VALUE_BOOL:
        return a->u.b == b->u.b;
    case SL_VALUE_INT:
        return a->u.i == b->u.i;
    case SL_VALUE_DOUBLE:
        return memcmp(&a->u.d, &b->u.d, sizeof a->u.d) == 0;
    case SL_VALUE_STRING:
    case SL_VALUE_BYTES:
        return a->len == b->len && memcmp(a->u.bytes, b->u.bytes, a->len) == 0;
    case SL_VALUE_ARRAY:
    case SL_VALUE_STRUCT:
        if (a->len != b->len)
            return false;
        for (uint32_t i = 0; i < a->len; i++)
            if (!values_equal(&a->u.items[i], &b->u.items[i]))
                return false;
        return true;
    }
    return false;
}

/*
 * The event's row from a decoded image: the fields the column filters keep,
 * and a null in a required field replaced as Debezium's converters do (the
 * default, which the encoder writes for a null, or the type's fallback).
 */
sl_value *my_row_fields(sl_source *s, sl_arena *arena, const my_table *t, sl_value *cols)
{
    sl_value *row = cols;
    if (t->field_of) {
        row = sl_arena_alloc(arena, (t->nfields ? t->nfields : 1) * sizeof *row);
        for (uint32_t i = 0; i < t->ncols; i++)
            if (t->field_of[i] >= 0)
                row[t->field_of[i]] = cols[i];
    }
    for (uint32_t f = 0; f < t->nfields; f++) {
        if (row[f].kind == SL_VALUE_NULL && t->required[f] && !t->has_default[f]) {
            uint32_t c = f;
            if (t->field_of)
                for (c = 0; c < t->ncols && t->field_of[c] != (int32_t)f; c++)
                    ;
            my_fallback_value(&t->convs[c], arena, &row[f]);
        }
    }
    if (t->transforms)
        my_table_transform_row(t, row, arena);
    (void)s;
    return row;
}

/* The problem a table version has, as the failure mode wants it. */
static sl_code table_problem(sl_source *s, my_table *t, bool *skip, sl_error *err)
{
    *skip = true;
    switch (s->failure_mode) {
    case MY_FAIL_FAIL:
        return sl_error_set(err, SL_STATE,
                            "cannot decode the rows at binlog \"%s\" position %" PRIu64 ": %s",
                            s->file, s->cur.start_pos, t->problem);
    case MY_FAIL_WARN:
        my_warn_limited(s,
                        "skipping the rows at binlog \"%s\" position %" PRIu64
                        " (event.processing.failure.handling.mode is warn): %s",
                        s->file, s->cur.start_pos, t->problem);
        return SL_OK;
    case MY_FAIL_SKIP:
        return SL_OK;
    }
    return SL_OK;
}

/* Handles (part of) a rows event; *done when every row is emitted. */
static sl_code handle_rows(sl_source *s, sl_batch *batch, bool *done, sl_error *err)
{
    my_current *c = &s->cur;
    *done = false;
    if (!c->rows_parsed) {
        sl_code rc = my_rows_parse(c->fmt, &c->ev, &c->rows, err);
        if (rc != SL_OK)
            return rc;
        c->table = my_tmap_get(s, c->rows.table_id);
        if (!c->table)
            return sl_error_set(err, SL_PROTOCOL,
                                "rows event for table id %" PRIu64
                                " without its TABLE_MAP at binlog \"%s\" position %" PRIu64,
                                c->rows.table_id, s->file, c->start_pos);
        c->rows_parsed = true;
        c->row_pos = 0;
        c->row_index = 0;
        c->row_items_done = 0;
    }
    my_table *t = c->table;
    uint32_t ordinal = s->tx_events + 1; /* of this event in its transaction */
    bool skip_all = s->tx_skip && ordinal <= s->skip_events;
    uint32_t skip_rows = s->tx_skip && ordinal == s->skip_events + 1 ? s->skip_rows : 0;
    if ((!t->included && !t->is_signal) || skip_all || !s->in_tx) {
        *done = true;
        return SL_OK;
    }
    if (t->problem[0]) {
        bool skip;
        sl_code rc = table_problem(s, t, &skip, err);
        *done = rc == SL_OK;
        return rc;
    }
    if (c->rows.ncols != t->ncols)
        return sl_error_set(err, SL_PROTOCOL,
                            "table \"%s.%s\": rows event of %u columns at binlog \"%s\" position "
                            "%" PRIu64 ", its TABLE_MAP has %u",
                            t->base.database, t->base.name, c->rows.ncols, s->file, c->start_pos,
                            t->ncols);
    my_row_decoder_table(&s->dec, t->convs, t->ncols);
    bool has_before = c->rows.kind != MY_ROWS_WRITE, has_after = c->rows.kind != MY_ROWS_DELETE;
    size_t nv = t->ncols ? t->ncols : 1;
    for (;;) {
        size_t need = ROW_ROOM + (s->tx_begun ? 0 : 1);
        if (room(batch) < need) {
            if (s->tx_begun && room(batch) >= 1 && c->row_items_done == 0)
                cut_transaction(s, batch, c->row_index);
            return SL_OK;
        }
        size_t row_start = c->row_pos;
        sl_value *before = has_before ? sl_arena_alloc(&batch->arena, nv * sizeof *before) : NULL;
        sl_value *after = has_after ? sl_arena_alloc(&batch->arena, nv * sizeof *after) : NULL;
        bool end;
        sl_code rc =
            my_rows_next(&s->dec, &c->rows, &c->row_pos, &batch->arena, before, after, &end, err);
        if (rc != SL_OK)
            return sl_error_prefix(err, "table \"%s.%s\" at binlog \"%s\" position %" PRIu64,
                                   t->base.database, t->base.name, s->file, c->start_pos);
        if (end)
            break;
        uint32_t row = c->row_index;
        if (s->dec.problems) {
            const char *col = s->dec.problem_column < t->base.row_schema->nfields
                                  ? t->base.row_schema->fields[s->dec.problem_column].name
                                  : "?";
            my_warn_limited(s, "table \"%s.%s\", column \"%s\": %s; emitted as null",
                            t->base.database, t->base.name, col, s->dec.problem.msg);
        }
        if (row < skip_rows) {
            c->row_index++;
            continue; /* emitted before the restart */
        }
        sl_value *b = has_before ? my_row_fields(s, &batch->arena, t, before) : NULL;
        sl_value *a = has_after ? my_row_fields(s, &batch->arena, t, after) : NULL;
        bool key_change = false;
        if (b && a && t->base.nkey) {
            for (uint32_t k = 0; k < t->base.nkey; k++) {
                uint32_t f = t->base.key_fields[k];
                if (a[f].kind == SL_VALUE_ABSENT)
                    a[f] = b[f]; /* MINIMAL: an unchanged key is not in the after image */
                else if (b[f].kind != SL_VALUE_ABSENT && !values_equal(&a[f], &b[f]))
                    key_change = true;
            }
        }
        if (t->is_signal && c->rows.kind == MY_ROWS_WRITE && a)
            my_snap_on_signal_row(s, t, a);
        if (!t->included) {
            c->row_items_done = 0;
            c->row_index++;
            s->last_row = row;
            continue; /* the signal table, not captured */
        }
        /* The snapshot's windows see every change, even one that is not emitted. */
        if (s->snap && my_snap_on_row(s, t, b, a)) {
            c->row_items_done = 0;
            c->row_index++;
            s->last_row = row;
            continue; /* a row that a read of a table without a key already holds */
        }
        uint32_t item = 0;
        if (c->rows.kind == MY_ROWS_WRITE) {
            if (item++ >= c->row_items_done)
                push_event(s, batch, t, SL_OP_CREATE, row)->after = a;
        } else if (c->rows.kind == MY_ROWS_DELETE) {
            if (item++ >= c->row_items_done)
                push_event(s, batch, t, SL_OP_DELETE, row)->before = b;
        } else if (key_change) {
            /* A new key: Debezium's delete of the old one and create of the new one. */
            if (item++ >= c->row_items_done) {
                sl_event *del = push_event(s, batch, t, SL_OP_DELETE, row);
                del->before = b;
                del->key_change_row = a;
            }
            if (item++ >= c->row_items_done) {
                sl_event *cr = push_event(s, batch, t, SL_OP_CREATE, row);
                cr->after = a;
                cr->key_change_row = b;
            }
        } else {
            if (item++ >= c->row_items_done) {
                sl_event *up = push_event(s, batch, t, SL_OP_UPDATE, row);
                up->before = b;
                up->after = a;
            }
        }
        (void)row_start;
        c->row_items_done = 0;
        c->row_index++;
        s->last_row = row;
    }
    *done = true;
    return SL_OK;
}

/* ---- statements ---- */

static bool query_is(const my_binlog_query *q, const char *word)
{
    size_t n = strlen(word);
    return q->query_len >= n && strncasecmp(q->query, word, n) == 0 &&
           (q->query_len == n || q->query[n] == ' ' || q->query[n] == '\t' || q->query[n] == '\n' ||
            q->query[n] == ';');
}

/*
 * A statement that is a transaction of its own (DDL, and whatever else the
 * server logs as a QUERY outside BEGIN/COMMIT): the catalog follows it,
 * TRUNCATE becomes truncate events, DDL a schema change event.
 */
static sl_code handle_statement(sl_source *s, sl_batch *batch, const my_binlog_query *q, bool *done,
                                sl_error *err)
{
    *done = false;
    /* A BEGIN, the schema change event, a truncate event and the COMMIT. */
    if (room(batch) < 4)
        return SL_OK;
    char *db = sl_arena_strndup(&s->scratch, q->db, q->db_len);
    my_ddl_result res;
    unsigned flags = my_ddl_flags_of_sql_mode(q->sql_mode, s->server.flavor == MY_FLAVOR_MARIADB);
    char *catalog_before = my_catalog_state_before_ddl(s);
    sl_code rc = my_ddl_apply(&s->catalog, db, q->query, q->query_len, flags, &res, err);
    my_catalog_state_after_ddl(s, catalog_before, rc == SL_OK && res.neffects > 0);
    if (rc != SL_OK)
        return rc;
    bool standalone = !s->in_tx;
    if (standalone) {
        tx_begin(s, s->pending_gtid, &s->next_gtid, false);
        s->pending_gtid = false;
    }
    bool captured = false;
    for (size_t i = 0; i < res.neffects; i++) {
        const my_ddl_effect *e = &res.effects[i];
        my_tables_invalidate(s, e->db, e->table);
        if (!my_table_included(s, e->db, e->table))
            continue;
        captured = true;
        if (e->unknown)
            sl_warn("table \"%s.%s\": sluice could not follow this DDL statement; its "
                    "definition is read from the server when its rows come",
                    e->db, e->table);
        if (e->change == MY_DDL_TRUNCATED) {
            my_table *t = NULL;
            for (my_table *v = s->versions; v; v = v->next_version)
                if (v->included && !v->problem[0] && strcmp(v->base.database, e->db) == 0 &&
                    strcmp(v->base.name, e->table) == 0)
                    t = v;
            if (s->snap)
                my_snap_on_truncate(s, e->db, e->table);
            if (t)
                push_event(s, batch, t, SL_OP_TRUNCATE, s->last_row);
        }
    }
    if (res.is_ddl && s->include_schema_changes) {
        const char *about = res.database ? res.database : db;
        bool ddl_captured =
            captured || (res.database_change && sl_filter_match(s->db_filter, about));
        bool truncate_only = res.neffects == 1 && res.effects[0].change == MY_DDL_TRUNCATED;
        if (ddl_captured && !truncate_only) {
            ensure_begun(s, batch);
            sl_value *src = source_block(s, batch, NULL, 0);
            if (res.neffects > 0) {
                const char *tname = res.effects[res.neffects - 1].table;
                src[MY_SRC_TABLE] =
                    sl_value_string(sl_arena_strdup(&batch->arena, tname), (uint32_t)strlen(tname));
            }
            const char *sdb = res.neffects ? res.effects[0].db : about;
            src[MY_SRC_DB] =
                sl_value_string(sl_arena_strdup(&batch->arena, sdb), (uint32_t)strlen(sdb));
            src[MY_SRC_THREAD] = sl_value_null();
            my_schema_change_push(s, batch, sdb, q->query, q->query_len, &res, src);
        }
    }
    my_ddl_result_free(&res);
    s->tx_events++;
    if (standalone)
        tx_commit(s, batch);
    *done = true;
    return SL_OK;
}

static sl_code handle_query(sl_source *s, sl_batch *batch, bool *done, sl_error *err)
{
    my_current *c = &s->cur;
    *done = true;
    sl_arena_reset(&s->scratch);
    my_binlog_query q;
    sl_code rc = my_binlog_parse_query(c->fmt, &c->ev, &s->scratch, &q, err);
    if (rc != SL_OK)
        return rc;
    if (query_is(&q, "BEGIN") || query_is(&q, "XA START")) {
        bool gtid = s->pending_gtid;
        s->pending_gtid = false;
        /* Debezium gives XA transactions no metadata. */
        if (!s->in_tx || s->server.flavor != MY_FLAVOR_MARIADB)
            tx_begin(s, gtid, &s->next_gtid, query_is(&q, "BEGIN"));
        s->thread_id = s->server.flavor == MY_FLAVOR_MARIADB ? -1 : (int64_t)q.thread_id;
        s->tx_events++;
        return SL_OK;
    }
    if (query_is(&q, "COMMIT") || query_is(&q, "ROLLBACK") || query_is(&q, "XA COMMIT") ||
        query_is(&q, "XA ROLLBACK")) {
        if (!s->in_tx)
            return SL_OK;
        *done = tx_commit(s, batch);
        return SL_OK;
    }
    if (s->in_tx && (query_is(&q, "SAVEPOINT") || query_is(&q, "ROLLBACK TO") ||
                     query_is(&q, "XA END") || query_is(&q, "RELEASE"))) {
        s->tx_events++;
        return SL_OK;
    }
    return handle_statement(s, batch, &q, done, err);
}

/* ---- one event ---- */

static sl_code handle_event(sl_source *s, sl_batch *batch, bool *done, sl_error *err)
{
    my_current *c = &s->cur;
    const my_binlog_event *ev = &c->ev;
    *done = true;
    sl_code rc = SL_OK;
    switch (ev->type) {
    case MY_EV_FORMAT_DESCRIPTION:
    case MY_EV_ROTATE:
    case MY_EV_PREVIOUS_GTIDS:
    case MY_EV_MARIADB_GTID_LIST:
    case MY_EV_MARIADB_BINLOG_CHECKPOINT:
    case MY_EV_MARIADB_START_ENCRYPTION:
    case MY_EV_STOP:
        return SL_OK;
    case MY_EV_HEARTBEAT:
    case MY_EV_HEARTBEAT_V2:
        /* Idle and up to date: the position may move over what the server skipped. */
        if (!s->in_tx)
            push_position_if_moved(s, batch);
        if (!s->in_tx && s->snap)
            my_snap_on_position(s);
        return SL_OK;
    case MY_EV_GTID:
    case MY_EV_ANONYMOUS_GTID:
    case MY_EV_GTID_TAGGED: {
        my_binlog_gtid g;
        rc = my_binlog_parse_gtid(c->fmt, ev, &g, err);
        if (rc != SL_OK)
            return rc;
        s->pending_gtid = !g.anonymous;
        memset(&s->next_gtid, 0, sizeof s->next_gtid);
        memcpy(s->next_gtid.uuid, g.uuid, 16);
        snprintf(s->next_gtid.tag, sizeof s->next_gtid.tag, "%s", g.tag);
        s->next_gtid.gno = g.gno;
        s->commit_us_exact = g.original_commit_us != 0;
        s->commit_us = (int64_t)g.original_commit_us;
        return SL_OK;
    }
    case MY_EV_MARIADB_GTID: {
        my_binlog_mariadb_gtid g;
        rc = my_binlog_parse_mariadb_gtid(c->fmt, ev, &g, err);
        if (rc != SL_OK)
            return rc;
        my_tx_gtid t = {.domain = g.domain, .server_id = g.server_id, .seq = g.seq};
        s->commit_us_exact = false;
        if (g.flags & MY_MARIADB_GTID_F_STANDALONE) {
            /* A DDL statement follows, without BEGIN/COMMIT. */
            s->pending_gtid = true;
            s->next_gtid = t;
            return SL_OK;
        }
        tx_begin(s, true, &t, true);
        s->thread_id = -1;
        s->tx_events++;
        return SL_OK;
    }
    case MY_EV_QUERY:
        return handle_query(s, batch, done, err);
    case MY_EV_XID:
    case MY_EV_XA_PREPARE:
        if (!s->in_tx)
            return SL_OK;
        *done = tx_commit(s, batch);
        return SL_OK;
    case MY_EV_TABLE_MAP:
        rc = my_tables_on_table_map(s, c->fmt, ev, err);
        if (rc == SL_OK && s->in_tx)
            s->tx_events++;
        return rc;
    case MY_EV_ROWS_QUERY:
    case MY_EV_MARIADB_ANNOTATE_ROWS:
        if (s->include_query) {
            const char *text;
            size_t n;
            if (my_binlog_parse_rows_query(c->fmt, ev, &text, &n, err) == SL_OK) {
                char *copy = malloc(n + 1);
                if (copy) {
                    memcpy(copy, text, n);
                    copy[n] = '\0';
                    free(s->query_text);
                    s->query_text = copy;
                    s->query_len = n;
                    s->batch_query = NULL;
                }
            }
        }
        if (s->in_tx)
            s->tx_events++;
        return SL_OK;
    case MY_EV_TRANSACTION_PAYLOAD: {
        my_payload p;
        rc = my_payload_parse(c->fmt, ev, &p, err);
        if (rc == SL_OK)
            rc = my_payload_reader_open(&s->payload, &p, err);
        if (rc != SL_OK)
            return rc;
        s->in_payload = true;
        s->payload_pos = c->start_pos;
        s->inner_fmt = *c->fmt;
        s->inner_fmt.checksum = MY_CHECKSUM_OFF;
        return SL_OK;
    }
    case MY_EV_INCIDENT:
        if (s->failure_mode == MY_FAIL_FAIL)
            return sl_error_set(err, SL_STATE,
                                "server reports an incident at binlog \"%s\" position %" PRIu64
                                " (changes may be missing from its binlog)",
                                s->file, c->start_pos);
        my_warn_limited(s, "server reports an incident at binlog \"%s\" position %" PRIu64, s->file,
                        c->start_pos);
        return SL_OK;
    default:
        break;
    }
    if (my_rows_is_rows_event(ev->type)) {
        rc = handle_rows(s, batch, done, err);
        if (rc == SL_OK && *done && s->in_tx)
            s->tx_events++;
        return rc;
    }
    if (my_binlog_is_compressed(ev->type)) {
        /* MariaDB's compressed events: handled as the plain event they hold. */
        my_binlog_event plain;
        rc = my_binlog_uncompress(c->fmt, ev, (size_t)1 << 30, &s->uncompressed, &plain, err);
        if (rc != SL_OK)
            return rc;
        s->inner_fmt = *c->fmt;
        s->inner_fmt.checksum = MY_CHECKSUM_OFF;
        c->ev = plain;
        c->fmt = &s->inner_fmt;
        return handle_event(s, batch, done, err);
    }
    /* Other events (statement-based context, LOAD DATA, ...) carry nothing row-based CDC emits. */
    if (s->in_tx)
        s->tx_events++;
    return SL_OK;
}

/* Reads the next event into s->cur; false when none is waiting. */
static sl_code next_event(sl_source *s, bool *got, sl_error *err)
{
    my_current *c = &s->cur;
    *got = false;
    while (s->in_payload) {
        const uint8_t *data;
        size_t len;
        bool end;
        sl_code rc = my_payload_reader_next(&s->payload, &data, &len, &end, err);
        if (rc != SL_OK)
            return rc;
        if (end) {
            s->in_payload = false;
            break;
        }
        memset(c, 0, sizeof *c);
        rc = my_binlog_event_split(&s->inner_fmt, data, len, &c->ev, err);
        if (rc != SL_OK)
            return rc;
        c->fmt = &s->inner_fmt;
        c->start_pos = s->payload_pos;
        c->from_payload = true;
        c->active = true;
        *got = true;
        return SL_OK;
    }
    my_event ev;
    my_read_result res;
    sl_code rc = my_conn_read(s->conn, &ev, &res, err);
    if (rc != SL_OK) {
        if (rc == SL_STATE) {
            /* The server has lost what the resume position needs: name that position. */
            sl_buf b;
            sl_buf_init(&b);
            if (s->have_resume)
                my_position_format(&s->resume, &b);
            else
                sl_buf_printf(&b, "binlog \"%s\" at %" PRIu64, s->file, s->next_pos);
            sl_error_prefix(err, "cannot resume from %s", sl_buf_cstr(&b));
            sl_buf_free(&b);
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof err->msg - n,
                     "; the changes since are gone from the server: delete the offsets file to "
                     "start from its current position (and take a new snapshot)");
        }
        return rc;
    }
    if (res == MY_READ_END)
        return sl_error_set(err, SL_CONNECT, "server \"%s\" ended the binlog stream",
                            my_conn_address(s->conn));
    if (res != MY_READ_EVENT)
        return SL_OK;
    memset(c, 0, sizeof *c);
    c->ev = ev.frame;
    c->fmt = ev.format;
    uint64_t prev = s->next_pos;
    snprintf(s->file, sizeof s->file, "%s", ev.next_file);
    s->next_pos = ev.next_pos;
    bool artificial = ev.log_pos == 0 || (ev.flags & MY_EVENT_FLAG_ARTIFICIAL);
    c->start_pos = artificial || ev.type == MY_EVENT_ROTATE ? prev
                   : ev.next_pos >= ev.len                  ? ev.next_pos - ev.len
                                                            : prev;
    if (!artificial && ev.type != MY_EVENT_HEARTBEAT && ev.type != MY_EVENT_HEARTBEAT_V2) {
        s->last_server_id = ev.server_id;
        s->last_ts = ev.timestamp;
    }
    c->active = true;
    *got = true;
    return SL_OK;
}

sl_code my_stream_poll(sl_source *s, sl_batch *batch, sl_error *err)
{
    /* The connector's heartbeat asked for the position (my_source.c). */
    if (s->position_due && my_stream_between_transactions(s)) {
        push_position_if_moved(s, batch);
        s->position_due = false;
    }
    /* A start from the server's current end: that position first (my_source.c, my_start). */
    if (s->start_due && my_stream_between_transactions(s)) {
        push_position_if_moved(s, batch);
        s->start_due = false;
    }
    for (;;) {
        if (!s->cur.active) {
            bool got;
            sl_code rc = next_event(s, &got, err);
            if (rc != SL_OK)
                return rc;
            if (!got)
                return SL_OK;
        }
        bool done;
        sl_code rc = handle_event(s, batch, &done, err);
        if (rc != SL_OK)
            return rc;
        if (!done)
            return SL_OK;
        s->cur.active = false;
        if (sl_batch_full(batch))
            return SL_OK;
        /* Snapshot rows wait for the end of a transaction: the next poll emits them. */
        if (s->snap && my_snap_emit_due(s))
            return SL_OK;
    }
}

bool my_stream_between_transactions(const sl_source *s)
{
    return s->state == MY_STREAMING && !s->in_tx && !s->cur.active && !s->in_payload &&
           !s->pending_gtid && !s->resume_skip_pending;
}

void my_stream_push_here(sl_source *s, sl_batch *batch, uint64_t version)
{
    my_position p;
    my_source_position_here(s, &p);
    p.snap_version = version;
    sl_item *item = my_batch_push(batch, SL_ITEM_COMMIT);
    sl_error err;
    if (my_position_encode(&p, &item->u.position, NULL, &err) != SL_OK) {
        sl_warn("%s", err.msg);
        item->u.position.len = 0;
    }
}

/* The source key of a read event: the previous read's when its source block is made of the same. */
static uint64_t read_source_key(sl_source *s, const my_table *t, const char *marker,
                                int64_t read_unix_ms, const char *file, uint64_t pos)
{
    __typeof__(s->read_source) *r = &s->read_source;
    const char *db = t->base.database, *name = t->base.name;
    if (strlen(db) >= sizeof r->database || strlen(name) >= sizeof r->table ||
        strlen(file) >= sizeof r->file)
        return r->key = 0;
    if (r->key && r->schema == s->source_schema && r->read_unix_ms == read_unix_ms &&
        r->pos == pos && strcmp(r->marker, marker) == 0 && strcmp(r->database, db) == 0 &&
        strcmp(r->table, name) == 0 && strcmp(r->file, file) == 0)
        return r->key;
    r->key = sl_source_key_new();
    r->schema = s->source_schema;
    r->read_unix_ms = read_unix_ms;
    r->pos = pos;
    r->marker = marker;
    strcpy(r->database, db);
    strcpy(r->table, name);
    strcpy(r->file, file);
    return r->key;
}

void my_stream_push_read(sl_source *s, sl_batch *batch, my_table *t, const sl_value *row,
                         const char *marker, int64_t read_unix_ms, const char *file, uint64_t pos)
{
    sl_item *item = my_batch_push(batch, SL_ITEM_EVENT);
    sl_event *ev = &item->u.event;
    memset(ev, 0, sizeof *ev);
    ev->op = SL_OP_READ;
    ev->table = &t->base;
    ev->after = row;
    ev->source_schema = s->source_schema;
    ev->source_key = read_source_key(s, t, marker, read_unix_ms, file, pos);
    /* The previous read's block, when it is the same and in this batch's arena too. */
    const sl_item *prev = batch->count >= 2 ? &batch->items[batch->count - 2] : NULL;
    if (ev->source_key && prev && prev->kind == SL_ITEM_EVENT &&
        prev->u.event.source_key == ev->source_key) {
        ev->source = prev->u.event.source;
        return;
    }
    /*
     * As Debezium's snapshot records: the read's time, the binlog position
     * of the snapshot, no event of the binlog (server id 0, no GTID, row 0,
     * no thread, no query).
     */
    sl_arena *a = &batch->arena;
    sl_value *v = sl_arena_alloc(a, MY_SRC_FIELDS * sizeof *v);
    static const char version[] = MY_SOURCE_VERSION;
    const char *connector = s->ops->connector_name;
    v[MY_SRC_VERSION] = sl_value_string(version, sizeof version - 1);
    v[MY_SRC_CONNECTOR] = sl_value_string(connector, (uint32_t)strlen(connector));
    v[MY_SRC_NAME] = sl_value_string(s->topic_prefix, (uint32_t)strlen(s->topic_prefix));
    v[MY_SRC_TS_MS] = sl_value_int(read_unix_ms);
    v[MY_SRC_SNAPSHOT] = sl_value_string(marker, (uint32_t)strlen(marker));
    v[MY_SRC_DB] = sl_value_string(t->base.database, (uint32_t)strlen(t->base.database));
    v[MY_SRC_SEQUENCE] = sl_value_null();
    v[MY_SRC_TS_US] = sl_value_int(read_unix_ms * 1000);
    v[MY_SRC_TS_NS] = sl_value_int(read_unix_ms * 1000000);
    v[MY_SRC_TABLE] = sl_value_string(t->base.name, (uint32_t)strlen(t->base.name));
    v[MY_SRC_SERVER_ID] = sl_value_int(0);
    v[MY_SRC_GTID] = sl_value_null();
    const char *f = sl_arena_strdup(a, file);
    v[MY_SRC_FILE] = sl_value_string(f, (uint32_t)strlen(f));
    v[MY_SRC_POS] = sl_value_int((int64_t)pos);
    v[MY_SRC_ROW] = sl_value_int(0);
    v[MY_SRC_THREAD] = sl_value_null();
    v[MY_SRC_QUERY] = sl_value_null();
    ev->source = v;
}
