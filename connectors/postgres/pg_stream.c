/*
 * Events of the PostgreSQL source (pg_source_int.h): each pgoutput message of
 * the stream becomes batch items, BEGIN, EVENTs with their row values and
 * source block, COMMIT. Values are carved from the batch arena; transactions
 * that commit before the resume point are skipped. The messages of a
 * transaction streamed while in progress go to its spool (pg_spool.c), which
 * feeds them back through here once it commits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres/pg_source_int.h"
#include "sluice/log.h"

const char *const pg_source_field_names[SRC_FIELDS] = {
    "version", "connector", "name",  "ts_ms", "snapshot", "db",   "sequence", "ts_us",
    "ts_ns",   "schema",    "table", "txId",  "lsn",      "xmin", "origin",   "origin_lsn",
};

sl_item *pg_stream_push(sl_source *s, sl_batch *batch, sl_item_kind kind)
{
    uint32_t i = s->replay_count++;
    if (i < s->replay_skip)
        return &s->spare_item; /* emitted at an earlier poll */
    if (!s->overflow && !sl_batch_full(batch))
        return sl_batch_push(batch, kind);
    if (!s->overflow) {
        s->overflow = true;
        s->replay_resume = i;
    }
    return &s->spare_item;
}

/*
 * The id of the open transaction as Debezium's transaction metadata writes
 * it, "xid:lsn" with the LSN of the message at hand (so it differs between
 * the BEGIN, each event and the END of one transaction); in arena.
 */
static const char *tx_id(const sl_source *s, uint64_t lsn, sl_arena *arena)
{
    char buf[48];
    int n = snprintf(buf, sizeof buf, "%u:%llu", s->xid, (unsigned long long)lsn);
    return sl_arena_strndup(arena, buf, (size_t)n);
}

bool pg_stream_push_commit(sl_source *s, sl_batch *batch, uint64_t lsn)
{
    sl_item *item = pg_stream_push(s, batch, SL_ITEM_COMMIT);
    if (item == &s->spare_item)
        return false;
    item->u.position = s->position_template;
    pg_position_set_lsn(&item->u.position, lsn);
    /* The last transaction read, which an idle position comes after too. */
    if (s->xid != 0 && pg_position_identity_end(&item->u.position) > 8)
        pg_position_set_tx(&item->u.position, s->xid, s->commit_time_us);
    pg_position_set_version(&item->u.position, pg_snap_version(s));
    return true;
}

/* The COMMIT of the open transaction, named for transaction metadata. */
static bool push_tx_commit(sl_source *s, sl_batch *batch, uint64_t lsn)
{
    if (!pg_stream_push_commit(s, batch, lsn))
        return false;
    if (s->tx_metadata) {
        sl_item *item = &batch->items[batch->count - 1];
        item->txid = tx_id(s, s->frame_lsn, &batch->arena);
        item->tx_ts_ms = s->commit_time_us / 1000;
    }
    return true;
}

static void warn_limited(sl_source *s, const char *fmt, const char *a, const char *b,
                         const char *msg)
{
    if (s->warnings < 100)
        sl_warn(fmt, a, b, msg);
    else if (s->warnings == 100)
        sl_warn("further conversion warnings are not logged");
    s->warnings++;
}

/* Converts a tuple into row values in the batch arena. */
static sl_code tuple_values(sl_source *s, pg_table *t, const pgo_tuple *tuple, sl_arena *arena,
                            sl_value **out, sl_error *err)
{
    if (tuple->ncols != t->ncols)
        return sl_error_set(err, SL_PROTOCOL, "table \"%s.%s\": tuple has %u columns, relation %u",
                            t->base.schema_name, t->base.name, tuple->ncols, t->ncols);
    uint32_t nfields = t->base.row_schema->nfields;
    sl_value *vals = sl_arena_alloc(arena, (nfields ? nfields : 1) * sizeof *vals);
    for (uint32_t i = 0; i < t->ncols; i++) {
        const pgo_column_value *c = &tuple->cols[i];
        int32_t f = t->field_of[i];
        if (f < 0)
            continue; /* left out by column.include.list / column.exclude.list */
        sl_value *v = &vals[f];
        switch (c->kind) {
        case 't': {
            sl_error cerr;
            if (pg_convert_text(&t->convs[i], c->data, c->len, arena, v, &cerr) != SL_OK) {
                warn_limited(s, "table \"%s\", column \"%s\": %s; emitted as null", t->base.topic,
                             t->base.row_schema->fields[f].name, cerr.msg);
                *v = sl_value_null();
            }
            break;
        }
        case 'u':
            pg_unchanged_toast_value(&t->convs[i], v);
            break;
        default: {
            /*
             * A null in a required column without a default (a delete's
             * columns outside REPLICA IDENTITY DEFAULT's key): the value
             * Debezium's converter falls back to for the type.
             */
            const sl_schema *fs = t->base.row_schema->fields[f].schema;
            if (t->not_null[i] && !fs->default_value)
                pg_fallback_value(&t->convs[i], arena, v);
            else
                *v = sl_value_null();
            break;
        }
        }
        if (t->plans[i].op != SL_COLUMN_KEEP)
            sl_transform_value(&t->plans[i], v, arena);
    }
    *out = vals;
    return SL_OK;
}

static const char *u64_text(sl_arena *arena, uint64_t v, uint32_t *len)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char *out = sl_arena_alloc(arena, (size_t)n + 1);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    *len = (uint32_t)n;
    return out;
}

/*
 * The source block of an event at lsn of table t, at ts_us (Unix epoch);
 * snapshot is source.snapshot's text; with_xid false leaves txId null;
 * first_null writes sequence's first element as null.
 */
static const sl_value *source_block(sl_source *s, pg_table *t, uint64_t lsn, int64_t ts_us,
                                    const char *snapshot, bool with_xid, bool first_null,
                                    sl_arena *arena)
{
    sl_value *v = sl_arena_alloc(arena, SRC_FIELDS * sizeof *v);
    static const char version[] = SOURCE_VERSION;
    v[SRC_VERSION] = sl_value_string(version, sizeof version - 1);
    v[SRC_CONNECTOR] = sl_value_string("postgresql", 10);
    v[SRC_NAME] = sl_value_string(s->topic_prefix, (uint32_t)strlen(s->topic_prefix));
    v[SRC_TS_MS] = sl_value_int(ts_us / 1000);
    v[SRC_SNAPSHOT] = sl_value_string(snapshot, (uint32_t)strlen(snapshot));
    v[SRC_DB] = sl_value_string(s->dbname, (uint32_t)strlen(s->dbname));

    /*
     * sequence: ["<end of the last commit>","<this LSN>"], decimal strings, as
     * Debezium writes it; the first element is null until a commit was seen
     * (or a stored position was resumed from).
     */
    uint32_t l1 = 0, l2 = 0;
    const char *a =
        s->have_last_commit && !first_null ? u64_text(arena, s->last_commit_lsn, &l1) : NULL;
    const char *b = u64_text(arena, lsn, &l2);
    char *seq = sl_arena_alloc(arena, l1 + l2 + 16);
    size_t n = 0;
    seq[n++] = '[';
    if (a) {
        seq[n++] = '"';
        memcpy(seq + n, a, l1);
        n += l1;
        seq[n++] = '"';
    } else {
        memcpy(seq + n, "null", 4);
        n += 4;
    }
    seq[n++] = ',';
    seq[n++] = '"';
    memcpy(seq + n, b, l2);
    n += l2;
    seq[n++] = '"';
    seq[n++] = ']';
    v[SRC_SEQUENCE] = sl_value_string(seq, (uint32_t)n);

    v[SRC_TS_US] = sl_value_int(ts_us);
    v[SRC_TS_NS] = sl_value_int(ts_us * 1000);
    v[SRC_SCHEMA] = sl_value_string(t->base.schema_name, (uint32_t)strlen(t->base.schema_name));
    v[SRC_TABLE] = sl_value_string(t->base.name, (uint32_t)strlen(t->base.name));
    v[SRC_TXID] = with_xid ? sl_value_int(s->xid) : sl_value_null();
    v[SRC_LSN] = sl_value_int((int64_t)lsn);
    v[SRC_XMIN] = sl_value_null();
    if (s->origin[0] && !first_null) {
        v[SRC_ORIGIN] = sl_value_string(s->origin, (uint32_t)strlen(s->origin));
        v[SRC_ORIGIN_LSN] = sl_value_int((int64_t)s->origin_lsn);
    } else {
        v[SRC_ORIGIN] = sl_value_null();
        v[SRC_ORIGIN_LSN] = sl_value_null();
    }
    return v;
}

static const sl_value *source_values(sl_source *s, pg_table *t, uint64_t lsn, bool with_xid,
                                     sl_arena *arena)
{
    return source_block(s, t, lsn, s->commit_time_us, "false", with_xid, false, arena);
}

/*
 * The source key of a read event: the previous read's when the source block
 * is made of the same (an incremental snapshot's also holds the stream's
 * last commit and origin), else a new one.
 */
static uint64_t read_source_key(sl_source *s, const pg_table *t, const char *snapshot,
                                int64_t read_unix_ms, uint64_t h_pos, bool incremental)
{
    __typeof__(s->read_source) *r = &s->read_source;
    const char *sn = t->base.schema_name, *tn = t->base.name;
    if (strlen(sn) >= sizeof r->schema_name || strlen(tn) >= sizeof r->table_name)
        return r->key = 0;
    if (r->key && strcmp(r->schema_name, sn) == 0 && strcmp(r->table_name, tn) == 0 &&
        r->schema == s->source_schema && r->h_pos == h_pos && r->read_unix_ms == read_unix_ms &&
        strcmp(r->snapshot, snapshot) == 0 &&
        (!incremental ||
         (r->have_last_commit == s->have_last_commit && r->last_commit_lsn == s->last_commit_lsn &&
          r->origin_lsn == s->origin_lsn && strcmp(r->origin, s->origin) == 0)))
        return r->key;
    r->key = sl_source_key_new();
    strcpy(r->schema_name, sn);
    strcpy(r->table_name, tn);
    r->schema = s->source_schema;
    r->h_pos = h_pos;
    r->read_unix_ms = read_unix_ms;
    r->snapshot = snapshot;
    r->have_last_commit = s->have_last_commit;
    r->last_commit_lsn = s->last_commit_lsn;
    r->origin_lsn = s->origin_lsn;
    memcpy(r->origin, s->origin, sizeof r->origin);
    return r->key;
}

/*
 * A read event of a snapshot row. Debezium's initial snapshot events carry
 * the snapshot's LSN with a null first sequence element; sluice's rows are
 * placed in the stream at their chunk's H, which is their LSN. A read has no
 * transaction of its own (it writes nothing), so txId is null.
 */
void pg_stream_push_read(sl_source *s, sl_batch *batch, pg_table *t, const sl_value *row,
                         const char *snapshot, int64_t read_unix_ms, uint64_t h_pos)
{
    sl_item *item = sl_batch_push(batch, SL_ITEM_EVENT);
    if (!item)
        abort(); /* the caller keeps room */
    sl_event *ev = &item->u.event;
    memset(ev, 0, sizeof *ev);
    ev->op = SL_OP_READ;
    ev->table = &t->base;
    ev->after = row;
    ev->source_schema = s->source_schema;
    bool incremental = strcmp(snapshot, "incremental") == 0;
    ev->source_key = read_source_key(s, t, snapshot, read_unix_ms, h_pos, incremental);
    /* The previous read's block, when it is the same and in this batch's arena too. */
    const sl_item *prev = batch->count >= 2 ? &batch->items[batch->count - 2] : NULL;
    if (ev->source_key && prev && prev->kind == SL_ITEM_EVENT &&
        prev->u.event.source_key == ev->source_key)
        ev->source = prev->u.event.source;
    else
        ev->source = source_block(s, t, h_pos, read_unix_ms * 1000, snapshot, false, !incremental,
                                  &batch->arena);
}

/* Fills the event of item (see pg_stream_push); a dropped item gets no source block. */
static sl_event *fill_event(sl_source *s, sl_item *item, sl_batch *batch, pg_table *t, sl_op op,
                            uint64_t lsn)
{
    sl_event *ev = &item->u.event;
    memset(ev, 0, sizeof *ev);
    ev->op = op;
    ev->table = &t->base;
    ev->source_schema = s->source_schema;
    if (item != &s->spare_item) {
        ev->source = source_values(s, t, lsn, op != SL_OP_MESSAGE || s->in_tx, &batch->arena);
        if (s->tx_metadata && s->in_tx)
            ev->txid = tx_id(s, lsn, &batch->arena);
    }
    return ev;
}

static sl_event *push_event(sl_source *s, sl_batch *batch, pg_table *t, sl_op op, uint64_t lsn)
{
    return fill_event(s, pg_stream_push(s, batch, SL_ITEM_EVENT), batch, t, op, lsn);
}

/* True when a key column differs between the old and the new tuple. */
static bool key_changed(const pg_table *t, const pgo_tuple *old, const pgo_tuple *new_tuple)
{
    for (uint32_t k = 0; k < t->nkey_cols; k++) {
        uint32_t i = t->key_cols[k];
        const pgo_column_value *a = &old->cols[i], *b = &new_tuple->cols[i];
        if (a->kind == 'n' || a->kind == 'u' || b->kind == 'u')
            continue; /* not in the old key image, or not sent: cannot have changed */
        if (a->kind != b->kind || a->len != b->len || memcmp(a->data, b->data, a->len) != 0)
            return true;
    }
    return false;
}

static sl_code handle_change(sl_source *s, const pgo_message *m, uint64_t lsn, sl_batch *batch,
                             sl_error *err)
{
    pg_table *t = pg_relmap_get(s, m->u.change.relid);
    if (!t)
        return sl_error_set(err, SL_PROTOCOL, "change for relation %u before its Relation message",
                            m->u.change.relid);
    /* The snapshot's windows see every change, even one that is not emitted. */
    bool suppressed = s->snap && pg_snap_on_change(s, t, m, lsn);
    /* Debezium emits nothing for a table without columns. */
    if (!t->included || s->skipping_tx || t->ncols == 0 || suppressed)
        return SL_OK;
    sl_arena *arena = &batch->arena;
    sl_value *old_vals = NULL, *new_vals = NULL;
    sl_code rc = SL_OK;
    if (m->u.change.old_kind)
        rc = tuple_values(s, t, &m->u.change.old_tuple, arena, &old_vals, err);
    if (rc == SL_OK && m->type != 'D')
        rc = tuple_values(s, t, &m->u.change.new_tuple, arena, &new_vals, err);
    if (rc != SL_OK)
        return rc;
    /*
     * A TOASTed value the update left unchanged is not in the new tuple
     * ('u'); an old tuple that has it (REPLICA IDENTITY FULL, or a key
     * column) gives the true value, which Debezium copies too. Only without
     * it does the placeholder stand in.
     */
    if (old_vals && new_vals && m->u.change.old_tuple.ncols == m->u.change.new_tuple.ncols) {
        for (uint32_t i = 0; i < t->ncols; i++) {
            char old_kind = m->u.change.old_tuple.cols[i].kind;
            if (t->field_of[i] >= 0 && m->u.change.new_tuple.cols[i].kind == 'u' &&
                (old_kind == 't' || old_kind == 'b'))
                new_vals[t->field_of[i]] = old_vals[t->field_of[i]];
        }
    }

    switch (m->type) {
    case 'I':
        push_event(s, batch, t, SL_OP_CREATE, lsn)->after = new_vals;
        break;
    case 'U':
        if (old_vals && t->base.nkey > 0 &&
            key_changed(t, &m->u.change.old_tuple, &m->u.change.new_tuple)) {
            /* A new primary key: Debezium emits a delete of the old key and a create. */
            sl_event *del = push_event(s, batch, t, SL_OP_DELETE, lsn);
            del->before = old_vals;
            del->key_change_row = new_vals;
            sl_event *create = push_event(s, batch, t, SL_OP_CREATE, lsn);
            create->after = new_vals;
            create->key_change_row = old_vals;
        } else {
            sl_event *ev = push_event(s, batch, t, SL_OP_UPDATE, lsn);
            ev->before = m->u.change.old_kind == 'O' ? old_vals : NULL;
            ev->after = new_vals;
        }
        break;
    case 'D':
        push_event(s, batch, t, SL_OP_DELETE, lsn)->before = old_vals;
        break;
    }
    return SL_OK;
}

/* Emits truncate events for the pending relids that fit into the batch. */
void pg_stream_drain_truncates(sl_source *s, sl_batch *batch)
{
    while (s->npending_truncates > 0) {
        pg_table *t = pg_relmap_get(s, s->pending_truncates[s->npending_truncates - 1]);
        if (t && t->included && !s->skipping_tx && t->ncols > 0) {
            /* Straight into the batch: a truncate keeps its own list of what is left to emit. */
            sl_item *item = sl_batch_push(batch, SL_ITEM_EVENT);
            if (!item)
                return;
            fill_event(s, item, batch, t, SL_OP_TRUNCATE, s->truncate_lsn);
        }
        s->npending_truncates--;
    }
}

/*
 * A logical decoding message (pg_logical_emit_message): an event on the
 * connector's message topic. A transactional one belongs to its transaction;
 * a non-transactional one comes alone and is a transaction of its own, whose
 * position is the message's LSN.
 */
static void handle_logical_message(sl_source *s, const pgo_message *m, sl_batch *batch)
{
    bool transactional = m->u.message.flags & 1;
    if (transactional ? s->skipping_tx : m->u.message.lsn <= s->skip_before)
        return;
    /* A snapshot reader's flush (pg_snapshot.c), of this sluice or another: not an event. */
    if (strcmp(m->u.message.prefix, PG_FLUSH_MESSAGE_PREFIX) == 0)
        return;
    if (!sl_filter_match(s->message_filter, m->u.message.prefix))
        return;
    if (!transactional) {
        /* Debezium's sequence starts with the LSN of such a message. */
        s->last_commit_lsn = m->u.message.lsn;
        s->have_last_commit = true;
        if (pg_stream_push(s, batch, SL_ITEM_BEGIN) != &s->spare_item)
            s->unfinished_tx = true;
    }
    sl_value *row = sl_arena_alloc(&batch->arena, 2 * sizeof *row);
    size_t plen = strlen(m->u.message.prefix);
    row[0] =
        sl_value_string(sl_arena_strndup(&batch->arena, m->u.message.prefix, plen), (uint32_t)plen);
    sl_dbz_binary_value(s->type_opts.binary, (const uint8_t *)m->u.message.content,
                        m->u.message.len, &batch->arena, &row[1]);
    push_event(s, batch, s->message_table, SL_OP_MESSAGE, m->u.message.lsn)->after = row;
    if (!transactional && pg_stream_push_commit(s, batch, m->u.message.lsn)) {
        s->emitted_lsn = m->u.message.lsn;
        s->unfinished_tx = false;
    }
}

void pg_stream_begin(sl_source *s, uint32_t xid, uint64_t final_lsn, int64_t commit_time,
                     uint64_t wal_start, sl_batch *batch)
{
    s->frame_lsn = wal_start;
    s->in_tx = true;
    s->xid = xid;
    s->final_lsn = final_lsn;
    s->commit_time_us = commit_time + PG_EPOCH_OFFSET_US;
    s->origin[0] = '\0';
    s->skipping_tx = s->final_lsn < s->skip_before;
    if (!s->skipping_tx) {
        sl_item *item = pg_stream_push(s, batch, SL_ITEM_BEGIN);
        if (item != &s->spare_item) {
            s->unfinished_tx = true;
            if (s->tx_metadata) {
                item->txid = tx_id(s, wal_start, &batch->arena);
                item->tx_ts_ms = s->commit_time_us / 1000;
            }
        }
    }
    if (s->snap)
        pg_snap_on_begin(s, s->xid);
}

void pg_stream_commit(sl_source *s, uint64_t end_lsn, uint64_t wal_start, sl_batch *batch)
{
    s->frame_lsn = wal_start;
    if (!s->skipping_tx && push_tx_commit(s, batch, end_lsn)) {
        s->emitted_lsn = end_lsn;
        s->unfinished_tx = false;
    }
    s->last_commit_lsn = end_lsn;
    s->have_last_commit = true;
    s->in_tx = false;
    s->skipping_tx = false;
    if (s->snap)
        pg_snap_on_position(s, end_lsn);
}

sl_code pg_stream_message(sl_source *s, const pgo_frame *f, sl_batch *batch, sl_error *err)
{
    /* Inside a stream block, the transaction's messages go to its spool until it commits. */
    if (s->stream_xid && f->len > 0 && f->data[0] != 'E')
        return pg_spool_message(s, f, err);
    pgo_message m;
    sl_arena_reset(&s->scratch);
    sl_code rc = pgo_message_decode(f->data, f->len, &s->scratch, &m, err);
    if (rc != SL_OK)
        return rc;
    s->frame_lsn = f->wal_start;

    switch (m.type) {
    case 'B':
        pg_stream_begin(s, m.u.begin.xid, m.u.begin.final_lsn, m.u.begin.commit_time, f->wal_start,
                        batch);
        break;
    case 'C':
        pg_stream_commit(s, m.u.commit.end_lsn, f->wal_start, batch);
        break;
    case 'S':
        return pg_spool_stream_start(s, m.u.stream_start.xid, m.u.stream_start.first_segment != 0,
                                     err);
    case 'E':
        pg_spool_stream_stop(s);
        break;
    case 'c':
        return pg_spool_commit(s, &m, f->wal_start, err);
    case 'A':
        return pg_spool_abort(s, m.u.stream_abort.xid, m.u.stream_abort.subxid, err);
    case 'O':
        snprintf(s->origin, sizeof s->origin, "%s", m.u.origin.name);
        s->origin_lsn = m.u.origin.lsn;
        break;
    case 'R': {
        pg_table *t = NULL;
        rc = pg_table_build(s, &m, &t, err);
        if (rc != SL_OK)
            return rc;
        pg_relmap_put(s, t->relid, t);
        break;
    }
    case 'I':
    case 'U':
    case 'D':
        return handle_change(s, &m, f->wal_start, batch, err);
    case 'T': {
        uint32_t n = m.u.truncate.nrels;
        uint32_t *relids = realloc(s->pending_truncates, (n ? n : 1) * sizeof *relids);
        if (!relids)
            abort();
        s->pending_truncates = relids;
        /* Stored in reverse, drained from the end: the events keep the message's order. */
        for (uint32_t i = 0; i < n; i++)
            relids[n - 1 - i] = m.u.truncate.relids[i];
        s->npending_truncates = n;
        s->truncate_lsn = f->wal_start;
        for (uint32_t i = 0; s->snap && i < n; i++)
            pg_snap_on_truncate(s, m.u.truncate.relids[i]);
        pg_stream_drain_truncates(s, batch);
        break;
    }
    case 'M':
        handle_logical_message(s, &m, batch);
        if (s->snap && !(m.u.message.flags & 1))
            pg_snap_on_position(s, m.u.message.lsn);
        break;
    default: /* 'Y' types carry nothing sluice emits */
        break;
    }
    return SL_OK;
}
