/*
 * Snapshots of the MySQL/MariaDB source: what src/snapshot/ needs from the
 * server (tables from its catalog, chunk reads on reader connections,
 * transaction visibility), the snapshot.mode decision at start, the hooks
 * the stream calls, and the emission of read events.
 *
 * A chunk read is one START TRANSACTION WITH CONSISTENT SNAPSHOT on a
 * reader's own connection (REPEATABLE READ, InnoDB's read view taken at
 * once). What the coordinator needs besides the rows is which streamed
 * transactions that read view sees, and a stream position H after all of
 * them:
 *
 *   MariaDB   SHOW STATUS LIKE 'binlog_snapshot_%' names the binlog file
 *             and position the read view corresponds to exactly (the
 *             server keeps commits in binlog order for that). A
 *             transaction is visible iff it starts before that position;
 *             H is that position.
 *   MySQL     has no such status. With binlog_order_commits (the default)
 *             transactions commit in binlog order and a GTID enters
 *             @@global.gtid_executed only after its commit, so every GTID
 *             of gtid_executed read just before the snapshot is visible to
 *             it; one committed in between is taken for invisible, and the
 *             coordinator then reads the chunk again (rare). H is SHOW
 *             BINARY LOG STATUS read after the snapshot: the binlog is
 *             written before the commit.
 *   MySQL, gtid_mode OFF: nothing says which commits a read view holds,
 *             so each read is started as mysqldump --single-transaction
 *             starts its dump: FLUSH TABLES WITH READ LOCK (no commit is
 *             in flight while it is held), the snapshot, SHOW BINARY LOG
 *             STATUS, UNLOCK TABLES. The read then sees exactly the
 *             transactions before that position, as on MariaDB. The lock
 *             lasts three statements per chunk (snapshot.locking.mode
 *             minimal, Debezium's default); with snapshot.locking.mode none
 *             the snapshot refuses to start (docs/architecture.md).
 *
 * Stream positions are (binlog file number << 32 | position), monotonic in
 * stream order. Transaction ids are the transaction's start position
 * (MariaDB) or its GTID: the number of its UUID:tag in a table kept here,
 * << 48, | its gno (MySQL).
 *
 * Rows: read with the text protocol, without charset conversion
 * (character_set_results NULL), each value turned into the bytes the binlog
 * holds for it and converted by my_convert_value(), the stream's own
 * converter, so that a snapshot row and a streamed row of the same content
 * are the same event values; ENUM and SET are selected as numbers, FLOAT
 * widened to a double. Only MySQL's JSON differs: Debezium's snapshots keep
 * the server's JSON text, which sluice does too.
 *
 * Keys are compared as text (snapshot.h): a key column's text is made from
 * its converted value (my_snap_key_text), on both sides, and turned back
 * into an SQL literal for the chunk bounds. Tables whose key has a column
 * type without such a literal (FLOAT, BIT, SET, JSON, spatial) are read
 * whole, like tables without a key.
 *
 * Threads: reader_*() and snap_read() run on reader threads and touch only
 * their connection, their job and the table they were given (read-only).
 * Everything else runs on the pipeline thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <mysql.h>

#include "mysql/my_source_int.h"
#include "snapshot/signal.h"
#include "snapshot/snapshot.h"
#include "sluice/log.h"

/* Chunks are cut to about this many bytes of rows, whatever snapshot.fetch.size says. */
#define CHUNK_BYTES (4 * 1024 * 1024)
#define EMIT_WAIT_MS 2000
#define GNO_BITS 48

typedef enum snap_mode {
    MODE_INITIAL,
    MODE_INITIAL_ONLY,
    MODE_NO_DATA,
    MODE_WHEN_NEEDED,
    MODE_ALWAYS,
} snap_mode;

static const char *const mode_names[] = {"initial", "initial_only", "no_data", "when_needed",
                                         "always"};

/* A UUID:tag that transaction ids number (MySQL). */
typedef struct uuid_tag {
    uint8_t uuid[16];
    char tag[MY_GTID_TAG_MAX + 1];
} uuid_tag;

typedef struct my_snap {
    sl_snapshot *coord;
    snap_mode mode;
    sl_filter *include; /* snapshot.include.collection.list */
    char *signal_file;
    int64_t signal_poll_ms, last_signal_poll_ms;
    char *signal_db, *signal_table; /* the source channel's table, or NULL */
    char last_signal_file[256];     /* where the last signal row was: a replay runs it once */
    uint64_t last_signal_pos;
    uint32_t last_signal_row;
    bool chunk_open; /* the BEGIN of the chunk being emitted is in a batch */
    bool stopped;    /* initial_only: everything emitted */
    bool started;
    bool whole_reads;  /* a table was read whole: the stream's changes may be left out */
    bool locking_none; /* snapshot.locking.mode none */
    /*
     * snapshot.lock.timeout.ms, as the whole seconds of MySQL's
     * lock_wait_timeout (rounded up): how long a read waits for the global
     * read lock, or for LOCK TABLES ... READ, before it gives up.
     */
    int64_t lock_timeout_ms;
    unsigned lock_wait_s;
    bool global_lock; /* MySQL without GTIDs: reads start under a global read lock */
    /*
     * With global_lock: held shared by a reader while its statements run,
     * exclusively while one takes the global read lock, which would
     * otherwise wait for another reader's statement (a table read whole
     * runs one for long) with every writer of the server queued behind it.
     */
    pthread_rwlock_t reads;
    int epoll_fd;
    int epoll_conn_fd; /* the binlog socket registered in epoll_fd, or -1 */
    _Atomic unsigned conversion_warnings;
    uuid_tag *uuids; /* pipeline thread only */
    size_t nuuids, cap_uuids;
} my_snap;

/* ---- positions and visibility ---- */

/* (binlog file number << 32 | pos): "binlog.000012" at 345 is 12 << 32 | 345. */
static uint64_t pack_position(const char *file, uint64_t pos)
{
    const char *dot = strrchr(file, '.');
    uint64_t seq = dot ? strtoull(dot + 1, NULL, 10) : 0;
    return seq << 32 | (pos & 0xffffffffu);
}

enum { VIS_POS = 1, VIS_GTID = 2 };

/*
 * The visibility of a read, self-contained (the coordinator copies it):
 * the header, then nsrc vis_src, then the intervals they index.
 */
typedef struct vis_head {
    uint32_t kind;
    uint32_t nsrc;
    uint64_t pos;         /* VIS_POS: transactions starting before it are visible */
    const my_snap *owner; /* VIS_GTID: the table of UUID:tags txids number */
} vis_head;

typedef struct vis_src {
    uint8_t uuid[16];
    char tag[MY_GTID_TAG_MAX + 1];
    uint32_t first, n; /* its intervals */
} vis_src;

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Reader thread: the visibility of a gtid_executed set, in arena. */
static void *vis_of_gtids(const my_gtid_set *g, const my_snap *owner, sl_arena *arena, size_t *len)
{
    size_t niv = 0;
    for (size_t i = 0; i < g->n; i++)
        niv += g->src[i].n;
    size_t at = align8(sizeof(vis_head) + g->n * sizeof(vis_src));
    *len = at + niv * sizeof(my_gtid_interval);
    uint8_t *b = sl_arena_alloc(arena, *len);
    memset(b, 0, *len);
    vis_head *h = (vis_head *)b;
    h->kind = VIS_GTID;
    h->nsrc = (uint32_t)g->n;
    h->owner = owner;
    vis_src *src = (vis_src *)(b + sizeof *h);
    my_gtid_interval *iv = (my_gtid_interval *)(b + at);
    uint32_t k = 0;
    for (size_t i = 0; i < g->n; i++) {
        memcpy(src[i].uuid, g->src[i].uuid, 16);
        memcpy(src[i].tag, g->src[i].tag, sizeof src[i].tag);
        src[i].first = k;
        src[i].n = (uint32_t)g->src[i].n;
        for (size_t j = 0; j < g->src[i].n; j++)
            iv[k++] = g->src[i].iv[j];
    }
    return b;
}

/* Pipeline thread (the owner's UUID table is read here only). */
static bool snap_visible(const void *vis, size_t len, uint64_t txid)
{
    const vis_head *h = vis;
    if (h->kind == VIS_POS)
        return txid < h->pos;
    uint64_t idx = txid >> GNO_BITS;
    int64_t gno = (int64_t)(txid & ((UINT64_C(1) << GNO_BITS) - 1));
    if (idx == 0 || idx > h->owner->nuuids)
        return false;
    const uuid_tag *u = &h->owner->uuids[idx - 1];
    const vis_src *src = (const vis_src *)((const uint8_t *)vis + sizeof *h);
    const my_gtid_interval *iv =
        (const my_gtid_interval *)((const uint8_t *)vis +
                                   align8(sizeof *h + h->nsrc * sizeof(vis_src)));
    (void)len;
    for (uint32_t i = 0; i < h->nsrc; i++) {
        if (memcmp(src[i].uuid, u->uuid, 16) != 0 || strcmp(src[i].tag, u->tag) != 0)
            continue;
        uint32_t lo = src[i].first, hi = src[i].first + src[i].n;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (gno < iv[mid].start)
                hi = mid;
            else if (gno >= iv[mid].end)
                lo = mid + 1;
            else
                return true;
        }
        return false;
    }
    return false;
}

/* The transaction id of the stream's current transaction. Pipeline thread. */
static uint64_t current_txid(sl_source *s)
{
    my_snap *p = s->snap;
    if (s->server.flavor == MY_FLAVOR_MARIADB || !s->has_tx_gtid)
        return pack_position(s->tx_file, s->tx_pos);
    size_t i;
    for (i = 0; i < p->nuuids; i++)
        if (memcmp(p->uuids[i].uuid, s->tx_gtid.uuid, 16) == 0 &&
            strcmp(p->uuids[i].tag, s->tx_gtid.tag) == 0)
            break;
    if (i == p->nuuids) {
        if (p->nuuids == p->cap_uuids) {
            p->cap_uuids = p->cap_uuids ? p->cap_uuids * 2 : 8;
            p->uuids = realloc(p->uuids, p->cap_uuids * sizeof *p->uuids);
            if (!p->uuids)
                abort();
        }
        memcpy(p->uuids[i].uuid, s->tx_gtid.uuid, 16);
        memcpy(p->uuids[i].tag, s->tx_gtid.tag, sizeof p->uuids[i].tag);
        p->nuuids++;
    }
    return (uint64_t)(i + 1) << GNO_BITS |
           ((uint64_t)s->tx_gtid.gno & ((UINT64_C(1) << GNO_BITS) - 1));
}

/* ---- keys ---- */

/* The binlog column of key field k of t, or UINT32_MAX. */
static uint32_t key_column(const my_table *t, uint32_t k)
{
    uint32_t f = t->pk_fields[k];
    if (!t->field_of)
        return f;
    for (uint32_t i = 0; i < t->ncols; i++)
        if (t->field_of[i] == (int32_t)f)
            return i;
    return UINT32_MAX;
}

/* A Decimal's unscaled big-endian two's-complement bytes as plain text with scale digits. */
static void decimal_text(const uint8_t *b, size_t n, int scale, sl_buf *out)
{
    uint8_t mag[64];
    if (n > sizeof mag)
        n = sizeof mag;
    bool neg = n && (b[0] & 0x80);
    for (size_t i = 0; i < n; i++)
        mag[i] = neg ? (uint8_t)~b[i] : b[i];
    if (neg) /* two's complement: invert and add one */
        for (size_t i = n; i-- > 0;)
            if (++mag[i] != 0)
                break;
    char digits[200];
    size_t nd = 0;
    for (;;) {
        bool zero = true;
        unsigned rem = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned cur = rem << 8 | mag[i];
            mag[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
            zero &= mag[i] == 0;
        }
        digits[nd++] = (char)('0' + rem);
        if (zero || nd == sizeof digits)
            break;
    }
    while ((int)nd <= scale)
        digits[nd++] = '0';
    if (neg)
        sl_buf_putc(out, '-');
    for (size_t i = nd; i-- > 0;) {
        sl_buf_putc(out, digits[i]);
        if (scale > 0 && i == (size_t)scale)
            sl_buf_putc(out, '.');
    }
}

static void hex_text(const uint8_t *b, size_t n, sl_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        sl_buf_putc(out, hex[b[i] >> 4]);
        sl_buf_putc(out, hex[b[i] & 15]);
    }
}

/*
 * The text of a key column's converted value, the same on both sides of the
 * coordinator; false for a type without one (the table is then read whole)
 * or a value that is not known (a MINIMAL image without it).
 */
static bool key_text(const my_converter *c, const sl_value *v, sl_buf *out)
{
    if (v->kind == SL_VALUE_ABSENT)
        return false;
    char buf[64];
    int n;
    switch ((my_conv_kind)c->kind) {
    case MY_CONV_INT:
        if (v->kind != SL_VALUE_INT)
            return false;
        n = c->is_unsigned && c->type == MY_TYPE_LONGLONG
                ? snprintf(buf, sizeof buf, "%" PRIu64, (uint64_t)v->u.i)
                : snprintf(buf, sizeof buf, "%" PRId64, v->u.i);
        sl_buf_append(out, buf, (size_t)n);
        return true;
    case MY_CONV_BOOL:
        sl_buf_puts(out, v->kind == SL_VALUE_BOOL && v->u.b ? "1" : "0");
        return v->kind == SL_VALUE_BOOL;
    case MY_CONV_YEAR:
    case MY_CONV_DATE:
    case MY_CONV_TIME:
    case MY_CONV_DATETIME:
        if (v->kind != SL_VALUE_INT)
            return false;
        n = snprintf(buf, sizeof buf, "%" PRId64, v->u.i);
        sl_buf_append(out, buf, (size_t)n);
        return true;
    case MY_CONV_UINT64_DECIMAL:
    case MY_CONV_DECIMAL:
        if (v->kind == SL_VALUE_BYTES) {
            decimal_text(v->u.bytes, v->len, c->kind == MY_CONV_DECIMAL ? c->scale : 0, out);
            return true;
        }
        if (v->kind == SL_VALUE_STRING) {
            sl_buf_append(out, v->u.str, v->len);
            return true;
        }
        return false; /* decimal.handling.mode=double: no exact literal */
    case MY_CONV_STRING:
    case MY_CONV_UUID:
    case MY_CONV_ENUM:
    case MY_CONV_TIMESTAMP:
        if (v->kind != SL_VALUE_STRING)
            return false;
        sl_buf_append(out, v->u.str, v->len);
        return true;
    case MY_CONV_BINARY:
        if (v->kind == SL_VALUE_BYTES)
            hex_text(v->u.bytes, v->len, out);
        else if (v->kind == SL_VALUE_STRING)
            sl_buf_append(out, v->u.str, v->len);
        else
            return false;
        return true;
    default:
        return false;
    }
}

/* Whether a key of converters of these kinds has text forms and literals. */
static bool key_supported(const my_table *t)
{
    for (uint32_t k = 0; k < t->npk; k++) {
        uint32_t i = key_column(t, k);
        if (i == UINT32_MAX)
            return false;
        const my_converter *c = &t->convs[i];
        switch ((my_conv_kind)c->kind) {
        case MY_CONV_INT:
        case MY_CONV_BOOL:
        case MY_CONV_YEAR:
        case MY_CONV_DATE:
        case MY_CONV_TIME:
        case MY_CONV_DATETIME:
        case MY_CONV_UINT64_DECIMAL:
        case MY_CONV_STRING:
        case MY_CONV_UUID:
        case MY_CONV_ENUM:
        case MY_CONV_TIMESTAMP:
        case MY_CONV_BINARY:
            break;
        case MY_CONV_DECIMAL:
            if (c->decimal_form == SL_DBZ_AS_DOUBLE)
                return false;
            break;
        default:
            return false;
        }
    }
    return true;
}

/* The key of a row (event fields) into key; false when it has none. */
static bool row_key(const my_table *t, const sl_value *row, sl_buf *key)
{
    sl_buf_reset(key);
    sl_buf col;
    sl_buf_init(&col);
    bool ok = true;
    for (uint32_t k = 0; k < t->npk && ok; k++) {
        uint32_t i = key_column(t, k);
        const sl_value *v = &row[t->pk_fields[k]];
        if (i == UINT32_MAX) {
            ok = false;
        } else if (v->kind == SL_VALUE_NULL) {
            sl_snap_key_add_null(key);
        } else {
            sl_buf_reset(&col);
            ok = key_text(&t->convs[i], v, &col);
            if (ok)
                sl_snap_key_add(key, col.data ? col.data : "", col.len);
        }
    }
    sl_buf_free(&col);
    return ok;
}

/* ---- tables ---- */

/* What a snapshot reads a table with; the coordinator's "table". */
typedef struct snap_table {
    my_table *t;
    char *from;     /* `db`.`t`, or (override) AS sluice_override */
    char *cols;     /* the select list: one expression per binlog column */
    uint32_t nkey;  /* 0: read whole */
    char **key_sql; /* per key column: the quoted column */
    char **key_cs;  /* per key column: charset and collation of a character key, else NULL */
    char **key_coll;
    bool mysql_json; /* MySQL's binary JSON: the server's text instead (Debezium's snapshot) */
} snap_table;

static void quote_ident(sl_buf *b, const char *name)
{
    sl_buf_putc(b, '`');
    for (const char *p = name; *p; p++) {
        if (*p == '`')
            sl_buf_putc(b, '`');
        sl_buf_putc(b, *p);
    }
    sl_buf_putc(b, '`');
}

/* 'text' with quotes and backslashes escaped (for any sql_mode: no backslash escapes). */
static void quote_string(sl_buf *b, const char *text)
{
    sl_buf_puts(b, "_utf8mb4 X'");
    hex_text((const uint8_t *)text, strlen(text), b);
    sl_buf_putc(b, '\'');
}

/* One column of information_schema.COLUMNS, as read. */
typedef struct col_info {
    char *name, *data_type, *column_type, *charset, *collation;
    bool nullable;
    int64_t precision, scale, dt_precision, octets, collation_id;
} col_info;

typedef struct cols_ctx {
    col_info *cols;
    size_t n, cap;
} cols_ctx;

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int collect_column(void *ctx, unsigned ncols, char **row)
{
    cols_ctx *c = ctx;
    if (ncols < 11 || !row[0] || !row[1])
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 32;
        c->cols = realloc(c->cols, c->cap * sizeof *c->cols);
        if (!c->cols)
            abort();
    }
    col_info *ci = &c->cols[c->n++];
    ci->name = strdup(row[0]);
    ci->data_type = strdup(row[1]);
    for (char *p = ci->data_type; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    ci->column_type = dup_or_null(row[2]);
    ci->nullable = row[3] && strcasecmp(row[3], "YES") == 0;
    ci->precision = row[4] ? strtoll(row[4], NULL, 10) : -1;
    ci->scale = row[5] ? strtoll(row[5], NULL, 10) : -1;
    ci->dt_precision = row[6] ? strtoll(row[6], NULL, 10) : 0;
    ci->octets = row[7] ? strtoll(row[7], NULL, 10) : -1;
    ci->collation_id = row[8] ? strtoll(row[8], NULL, 10) : 0;
    ci->charset = dup_or_null(row[9]);
    ci->collation = dup_or_null(row[10]);
    return 0;
}

static void cols_free(cols_ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->cols[i].name);
        free(c->cols[i].data_type);
        free(c->cols[i].column_type);
        free(c->cols[i].charset);
        free(c->cols[i].collation);
    }
    free(c->cols);
}

/*
 * The TABLE_MAP column a server would write for a column of the catalog:
 * its binlog type and the metadata the converters read. Character and
 * binary strings are given a 4-byte length (the converter reads the same
 * values whatever the length bytes), BINARY(n) its n (values are padded to
 * it). False for a type sluice does not know.
 */
static bool map_column(const col_info *ci, bool mariadb, my_tm_column *out)
{
    memset(out, 0, sizeof *out);
    out->nullable = ci->nullable;
    out->is_unsigned = ci->column_type && strstr(ci->column_type, "unsigned") != NULL;
    out->collation = (uint16_t)ci->collation_id;
    out->visible = true;
    out->geometry_type = 0xff;
    const char *t = ci->data_type;
    bool binary_cs = ci->collation_id == 63 || !ci->charset;
    if (strcmp(t, "tinyint") == 0) {
        out->type = MY_TYPE_TINY;
    } else if (strcmp(t, "smallint") == 0) {
        out->type = MY_TYPE_SHORT;
    } else if (strcmp(t, "mediumint") == 0) {
        out->type = MY_TYPE_INT24;
    } else if (strcmp(t, "int") == 0 || strcmp(t, "integer") == 0) {
        out->type = MY_TYPE_LONG;
    } else if (strcmp(t, "bigint") == 0) {
        out->type = MY_TYPE_LONGLONG;
    } else if (strcmp(t, "float") == 0) {
        out->type = MY_TYPE_FLOAT;
        out->meta = 4;
    } else if (strcmp(t, "double") == 0 || strcmp(t, "real") == 0 ||
               strcmp(t, "double precision") == 0) {
        out->type = MY_TYPE_DOUBLE;
        out->meta = 8;
    } else if (strcmp(t, "decimal") == 0 || strcmp(t, "numeric") == 0) {
        out->type = MY_TYPE_NEWDECIMAL;
        out->meta = (uint16_t)(ci->precision << 8 | (ci->scale < 0 ? 0 : ci->scale));
    } else if (strcmp(t, "bit") == 0) {
        int64_t bits = ci->precision > 0 ? ci->precision : 1;
        out->type = MY_TYPE_BIT;
        out->meta = (uint16_t)((bits / 8) << 8 | (bits % 8));
    } else if (strcmp(t, "year") == 0) {
        out->type = MY_TYPE_YEAR;
    } else if (strcmp(t, "date") == 0) {
        out->type = MY_TYPE_DATE;
    } else if (strcmp(t, "time") == 0) {
        out->type = MY_TYPE_TIME2;
        out->meta = (uint16_t)ci->dt_precision;
    } else if (strcmp(t, "datetime") == 0) {
        out->type = MY_TYPE_DATETIME2;
        out->meta = (uint16_t)ci->dt_precision;
    } else if (strcmp(t, "timestamp") == 0) {
        out->type = MY_TYPE_TIMESTAMP2;
        out->meta = (uint16_t)ci->dt_precision;
    } else if (strcmp(t, "binary") == 0 ||
               (mariadb &&
                (strcmp(t, "uuid") == 0 || strcmp(t, "inet6") == 0 || strcmp(t, "inet4") == 0))) {
        /* MariaDB's UUID, INET6 and INET4 are BINARY(16), (16) and (4) in the binlog. */
        out->type = MY_TYPE_STRING;
        out->meta =
            (uint16_t)(strcmp(t, "binary") != 0 ? (strcmp(t, "inet4") == 0 ? 4 : 16) : ci->octets);
        out->collation = 63;
        if (out->meta > 255)
            return false;
    } else if (strcmp(t, "char") == 0 || strcmp(t, "varchar") == 0 || strcmp(t, "varbinary") == 0 ||
               strstr(t, "text") || strstr(t, "blob")) {
        out->type = MY_TYPE_BLOB;
        out->meta = 4;
        if (binary_cs)
            out->collation = 63;
    } else if (strcmp(t, "enum") == 0) {
        out->type = MY_TYPE_ENUM;
        uint32_t n = 0;
        for (const char *p = ci->column_type ? ci->column_type : ""; *p; p++)
            n += *p == ',';
        out->meta = n + 1 > 255 ? 2 : 1;
    } else if (strcmp(t, "set") == 0) {
        out->type = MY_TYPE_SET;
        uint32_t n = 0;
        for (const char *p = ci->column_type ? ci->column_type : ""; *p; p++)
            n += *p == ',';
        uint32_t bytes = (n + 1 + 7) / 8;
        out->meta = (uint16_t)(bytes > 4 ? 8 : bytes == 3 ? 3 : bytes);
    } else if (strcmp(t, "json") == 0 && !mariadb) {
        out->type = MY_TYPE_JSON;
        out->meta = 4;
    } else if (strcmp(t, "geometry") == 0 || strcmp(t, "point") == 0 ||
               strcmp(t, "linestring") == 0 || strcmp(t, "polygon") == 0 ||
               strcmp(t, "multipoint") == 0 || strcmp(t, "multilinestring") == 0 ||
               strcmp(t, "multipolygon") == 0 || strcmp(t, "geometrycollection") == 0 ||
               strcmp(t, "geomcollection") == 0) {
        out->type = MY_TYPE_GEOMETRY;
        out->meta = 4;
        /* As the table map's GEOMETRY_TYPE (binlog_row_metadata=FULL) says. */
        out->geometry_type = strcmp(t, "point") == 0 ? 1 : 0;
    } else if (strcmp(t, "vector") == 0) {
        out->type = MY_TYPE_VECTOR;
        out->meta = 4;
    } else {
        return false;
    }
    out->binlog_type = out->type;
    return true;
}

/*
 * The TABLE_MAP column of a column whose type sluice does not know: a text
 * column in utf8mb4, which the snapshot reads with CAST(... AS CHAR), so
 * that its values keep the text the server shows rather than fail the table.
 */
static void map_text_column(const col_info *ci, my_tm_column *out)
{
    memset(out, 0, sizeof *out);
    out->nullable = ci->nullable;
    out->visible = true;
    out->geometry_type = 0xff;
    out->type = out->binlog_type = MY_TYPE_BLOB;
    out->meta = 4;
    out->collation = 45; /* utf8mb4_general_ci */
}

/* Splits "db.table" at its first dot. */
static bool split_id(const char *id, char *db, size_t db_size, const char **table)
{
    const char *dot = strchr(id, '.');
    if (!dot || (size_t)(dot - id) >= db_size)
        return false;
    memcpy(db, id, (size_t)(dot - id));
    db[dot - id] = '\0';
    *table = dot + 1;
    return true;
}

/*
 * The SELECT of snapshot.select.statement.overrides.<db>.<table>, for a
 * table listed in snapshot.select.statement.overrides, or NULL.
 */
static const char *override_for(sl_source *s, const char *id)
{
    const char *list = sl_config_str(s->cfg, "snapshot.select.statement.overrides");
    bool listed = false;
    for (const char *c = list ? list : ""; *c && !listed;) {
        while (*c == ' ' || *c == ',')
            c++;
        size_t n = strcspn(c, ",");
        size_t m = n;
        while (m > 0 && c[m - 1] == ' ')
            m--;
        listed = m == strlen(id) && strncmp(c, id, m) == 0;
        c += n;
    }
    if (!listed)
        return NULL;
    char key[700];
    snprintf(key, sizeof key, "snapshot.select.statement.overrides.%s", id);
    const char *v = sl_config_has(s->cfg, key) ? sl_config_str(s->cfg, key) : NULL;
    return v && *v ? v : NULL;
}

static const char *COLUMNS_SQL =
    "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.IS_NULLABLE, c.NUMERIC_PRECISION, "
    "c.NUMERIC_SCALE, c.DATETIME_PRECISION, c.CHARACTER_OCTET_LENGTH, co.ID, "
    "c.CHARACTER_SET_NAME, c.COLLATION_NAME "
    "FROM information_schema.COLUMNS c LEFT JOIN information_schema.COLLATIONS co "
    "ON co.COLLATION_NAME = c.COLLATION_NAME "
    "WHERE c.TABLE_SCHEMA = %s AND c.TABLE_NAME = %s ORDER BY c.ORDINAL_POSITION";

/*
 * Builds the table of a snapshot from the server's catalog as the stream
 * would from a TABLE_MAP of it (binlog_row_metadata=FULL), so that read
 * events and change events of the table have the same schemas. Pipeline
 * thread.
 */
static sl_code snap_resolve(void *ctx, const char *id, void **table, uint64_t *stream_id,
                            bool *keyed, int64_t *estimated, int64_t *row_bytes, sl_error *err)
{
    sl_source *s = ctx;
    *table = NULL;
    char db[256];
    const char *name;
    if (!split_id(id, db, sizeof db, &name))
        return SL_OK;
    if (!my_table_included(s, db, name)) {
        sl_warn("snapshot of table \"%s\" skipped: the table is not captured (see "
                "table.include.list)",
                id);
        return SL_OK;
    }
    sl_code rc = my_source_query_conn(s, err);
    if (rc != SL_OK)
        return rc;
    sl_buf sql, qdb, qname;
    sl_buf_init(&sql);
    sl_buf_init(&qdb);
    sl_buf_init(&qname);
    quote_string(&qdb, db);
    quote_string(&qname, name);
    sl_buf_printf(&sql, COLUMNS_SQL, sl_buf_cstr(&qdb), sl_buf_cstr(&qname));
    cols_ctx cols = {0};
    rc = my_conn_query_each(s->query, sl_buf_cstr(&sql), collect_column, &cols, err);
    sl_buf_reset(&sql);
    sl_buf_printf(&sql,
                  "SELECT TABLE_ROWS, AVG_ROW_LENGTH FROM information_schema.TABLES "
                  "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                  sl_buf_cstr(&qdb), sl_buf_cstr(&qname));
    char *rows_text = NULL;
    if (rc == SL_OK && cols.n)
        rc = my_conn_query_value(s->query, sl_buf_cstr(&sql), &rows_text, err);
    *estimated = rows_text ? strtoll(rows_text, NULL, 10) : -1;
    free(rows_text);
    *row_bytes = 0;
    sl_buf_free(&qdb);
    sl_buf_free(&qname);
    if (rc != SL_OK || cols.n == 0) {
        sl_buf_free(&sql);
        cols_free(&cols);
        return rc; /* no such table: nothing to read */
    }

    bool mariadb = s->server.flavor == MY_FLAVOR_MARIADB;
    my_table *t = my_table_new_detached(s);
    my_table_map m;
    memset(&m, 0, sizeof m);
    m.db = sl_arena_strdup(&t->arena, db);
    m.table = sl_arena_strdup(&t->arena, name);
    m.ncols = (uint32_t)cols.n;
    m.cols = sl_arena_alloc(&t->arena, cols.n * sizeof *m.cols);
    m.has_signedness = m.has_charsets = m.has_names = true;
    /* Columns of a type sluice does not know, read as their text (CAST AS CHAR). */
    bool *as_text = calloc(cols.n, sizeof *as_text);
    if (!as_text)
        abort();
    for (size_t i = 0; i < cols.n && rc == SL_OK; i++) {
        if (!map_column(&cols.cols[i], mariadb, &m.cols[i])) {
            sl_warn("snapshot of table \"%s\": column \"%s.%s\" has type %s, which sluice does "
                    "not know; its values are read as their text",
                    id, id, cols.cols[i].name, cols.cols[i].data_type);
            as_text[i] = true;
            map_text_column(&cols.cols[i], &m.cols[i]);
        }
        m.cols[i].name = sl_arena_strdup(&t->arena, cols.cols[i].name);
        m.cols[i].name_len = (uint32_t)strlen(cols.cols[i].name);
    }
    if (rc == SL_OK)
        rc = my_table_build_detached(s, t, &m, err);
    if (rc == SL_OK && t->problem[0])
        rc = sl_error_set(err, SL_UNSUPPORTED, "snapshot of table \"%s\": %s", id, t->problem);
    if (rc != SL_OK) {
        sl_buf_free(&sql);
        cols_free(&cols);
        free(as_text);
        my_table_free(t);
        return rc;
    }

    snap_table *st = calloc(1, sizeof *st);
    if (!st)
        abort();
    st->t = t;
    sl_arena *a = &t->arena;
    const char *override = override_for(s, id);
    sl_buf_reset(&sql);
    if (override) {
        sl_buf_printf(&sql, "(%s) AS sluice_override", override);
    } else {
        quote_ident(&sql, db);
        sl_buf_putc(&sql, '.');
        quote_ident(&sql, name);
    }
    st->from = sl_arena_strdup(a, sl_buf_cstr(&sql));
    sl_buf_reset(&sql);
    for (uint32_t i = 0; i < t->ncols; i++) {
        if (i)
            sl_buf_puts(&sql, ", ");
        uint8_t type = t->convs[i].type;
        if (as_text[i]) {
            sl_buf_puts(&sql, "CAST(");
            quote_ident(&sql, cols.cols[i].name);
            sl_buf_puts(&sql, " AS CHAR CHARACTER SET utf8mb4)");
        } else if (type == MY_TYPE_ENUM || type == MY_TYPE_SET) {
            sl_buf_putc(&sql, '(');
            quote_ident(&sql, cols.cols[i].name);
            sl_buf_puts(&sql, ") + 0");
        } else if (type == MY_TYPE_FLOAT) {
            /* A FLOAT's own text may be rounded (MariaDB prints 6 digits); a double's is exact. */
            sl_buf_putc(&sql, '(');
            quote_ident(&sql, cols.cols[i].name);
            sl_buf_puts(&sql, ") + 0e0");
        } else {
            quote_ident(&sql, cols.cols[i].name);
        }
        st->mysql_json |= type == MY_TYPE_JSON;
    }
    st->cols = sl_arena_strdup(a, sl_buf_cstr(&sql));
    if (t->npk && !key_supported(t)) {
        sl_warn("snapshot of table \"%s\": its key has a column type that chunks cannot be cut "
                "by; the table is read whole, as a table without a key",
                id);
    } else if (t->npk) {
        st->nkey = t->npk;
        st->key_sql = sl_arena_alloc(a, st->nkey * sizeof *st->key_sql);
        st->key_cs = sl_arena_alloc(a, st->nkey * sizeof *st->key_cs);
        st->key_coll = sl_arena_alloc(a, st->nkey * sizeof *st->key_coll);
        for (uint32_t k = 0; k < st->nkey; k++) {
            uint32_t i = key_column(t, k);
            sl_buf_reset(&sql);
            quote_ident(&sql, cols.cols[i].name);
            st->key_sql[k] = sl_arena_strdup(a, sl_buf_cstr(&sql));
            bool text = t->convs[i].kind == MY_CONV_STRING && cols.cols[i].charset &&
                        cols.cols[i].collation;
            st->key_cs[k] = text ? sl_arena_strdup(a, cols.cols[i].charset) : NULL;
            st->key_coll[k] = text ? sl_arena_strdup(a, cols.cols[i].collation) : NULL;
        }
    }
    sl_buf_free(&sql);
    cols_free(&cols);
    free(as_text);
    *table = st;
    /* The stream names tables by "db.table" (my_snap_on_row); a hash of it stands for it. */
    uint64_t h = 1469598103934665603ull;
    for (const char *p = id; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    *stream_id = h;
    *keyed = st->nkey > 0;
    s->snap->whole_reads |= !*keyed;
    return SL_OK;
}

static uint64_t stream_id_of(const char *db, const char *table)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = db; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    h = (h ^ (uint8_t)'.') * 1099511628211ull;
    for (const char *p = table; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return h;
}

static void snap_release(void *ctx, void *table)
{
    (void)ctx;
    snap_table *st = table;
    if (!st)
        return;
    my_table_free(st->t);
    free(st);
}

/* ---- readers ---- */

typedef struct snap_reader {
    sl_source *s;
    my_conn *conn;
    bool broken;
    sl_buf image;   /* a value as the binlog holds it */
    sl_buf scratch; /* my_convert_value's */
    sl_buf key;
    sl_buf col;
} snap_reader;

static sl_code reader_connect(snap_reader *r, sl_error *err)
{
    my_conn_close(r->conn);
    r->conn = NULL;
    sl_code rc = my_conn_open(&r->s->conn_opts, &r->conn, err);
    /*
     * REPEATABLE READ for the consistent snapshot; UTC for TIMESTAMP's text;
     * values in the bytes of their column's charset, as the binlog has them.
     */
    static const char *const setup[] = {
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        "SET time_zone = '+00:00'",
        "SET NAMES utf8mb4",
        "SET character_set_results = NULL",
    };
    for (size_t i = 0; rc == SL_OK && i < sizeof setup / sizeof *setup; i++)
        rc = my_conn_exec(r->conn, setup[i], err);
    /* A global read lock waits for running statements; writers queue behind it meanwhile. */
    if (rc == SL_OK && r->s->snap->global_lock) {
        char sql[64];
        snprintf(sql, sizeof sql, "SET SESSION lock_wait_timeout = %u", r->s->snap->lock_wait_s);
        rc = my_conn_exec(r->conn, sql, err);
    }
    r->broken = rc != SL_OK;
    return rc;
}

static sl_code snap_reader_open(void *ctx, void **out, sl_error *err)
{
    snap_reader *r = calloc(1, sizeof *r);
    if (!r)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    r->s = ctx;
    sl_buf_init(&r->image);
    sl_buf_init(&r->scratch);
    sl_buf_init(&r->key);
    sl_buf_init(&r->col);
    sl_code rc = reader_connect(r, err);
    if (rc != SL_OK) {
        my_conn_close(r->conn);
        free(r);
        return rc;
    }
    *out = r;
    return SL_OK;
}

static void snap_reader_close(void *reader)
{
    snap_reader *r = reader;
    if (!r)
        return;
    my_conn_close(r->conn);
    sl_buf_free(&r->image);
    sl_buf_free(&r->scratch);
    sl_buf_free(&r->key);
    sl_buf_free(&r->col);
    free(r);
}

/* A failed statement: SL_CONNECT when the connection is gone (read again), else SL_SOURCE. */
static sl_code reader_error(snap_reader *r, const char *what, sl_error *err)
{
    MYSQL *m = my_conn_handle(r->conn);
    unsigned no = mysql_errno(m);
    bool lost = no == 2006 || no == 2013 || no == 2055 || no == 1927 || no == 4031;
    if (lost)
        r->broken = true;
    return sl_error_set(err, lost ? SL_CONNECT : SL_SOURCE, "could not %s: %s", what,
                        mysql_error(m));
}

static void put_le(sl_buf *b, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_buf_putc(b, (char)(uint8_t)(v >> (8 * i)));
}

static void put_be(sl_buf *b, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0;)
        sl_buf_putc(b, (char)(uint8_t)(v >> (8 * i)));
}

static size_t frac_bytes(unsigned fsp)
{
    return (fsp + 1) / 2;
}

/* The fraction of a second in its TIME2/DATETIME2/TIMESTAMP2 bytes. */
static void put_fraction(sl_buf *b, uint32_t us, unsigned fsp)
{
    switch (frac_bytes(fsp)) {
    case 1:
        put_be(b, us / 10000, 1);
        break;
    case 2:
        put_be(b, us / 100, 2);
        break;
    case 3:
        put_be(b, us, 3);
        break;
    default:
        break;
    }
}

/* "[.ffffff]" at *p: microseconds. */
static uint32_t parse_fraction(const char **p, const char *end)
{
    uint32_t us = 0;
    if (*p < end && **p == '.') {
        (*p)++;
        int digits = 0;
        while (*p < end && **p >= '0' && **p <= '9') {
            if (digits < 6) {
                us = us * 10 + (uint32_t)(**p - '0');
                digits++;
            }
            (*p)++;
        }
        for (; digits < 6; digits++)
            us *= 10;
    }
    return us;
}

static int64_t parse_num(const char **p, const char *end)
{
    int64_t v = 0;
    while (*p < end && **p >= '0' && **p <= '9')
        v = v * 10 + (**p - '0'), (*p)++;
    return v;
}

/* "YYYY-MM-DD[ HH:MM:SS[.ffffff]]" */
static void parse_datetime_text(const char *p, size_t n, int64_t *y, int64_t *mo, int64_t *d,
                                int64_t *h, int64_t *mi, int64_t *sec, uint32_t *us)
{
    const char *end = p + n;
    *y = parse_num(&p, end);
    p += p < end;
    *mo = parse_num(&p, end);
    p += p < end;
    *d = parse_num(&p, end);
    *h = *mi = *sec = 0;
    *us = 0;
    if (p < end) {
        p++;
        *h = parse_num(&p, end);
        p += p < end;
        *mi = parse_num(&p, end);
        p += p < end;
        *sec = parse_num(&p, end);
        *us = parse_fraction(&p, end);
    }
}

/*
 * Converts a value of the text protocol into the converter's value: the
 * bytes the binlog would hold for it, then my_convert_value(). Reader
 * thread; everything in arena.
 */
static sl_code text_value(snap_reader *r, const my_converter *c, const char *text, size_t n,
                          sl_arena *arena, sl_value *out, sl_error *err)
{
    sl_buf *b = &r->image;
    sl_buf_reset(b);
    char num[80];
    size_t nn = n < sizeof num - 1 ? n : sizeof num - 1;
    memcpy(num, text, nn);
    num[nn] = '\0';
    switch (c->type) {
    case MY_TYPE_TINY:
    case MY_TYPE_SHORT:
    case MY_TYPE_INT24:
    case MY_TYPE_LONG:
    case MY_TYPE_LONGLONG:
    case MY_TYPE_ENUM:
    case MY_TYPE_SET: {
        uint64_t v = num[0] == '-' ? (uint64_t)strtoll(num, NULL, 10) : strtoull(num, NULL, 10);
        put_le(b, v, c->fixed);
        break;
    }
    case MY_TYPE_FLOAT: {
        float f = (float)strtod(num, NULL);
        uint32_t u;
        memcpy(&u, &f, 4);
        put_le(b, u, 4);
        break;
    }
    case MY_TYPE_DOUBLE: {
        double d = strtod(num, NULL);
        uint64_t u;
        memcpy(&u, &d, 8);
        put_le(b, u, 8);
        break;
    }
    case MY_TYPE_NEWDECIMAL:
        /* The stream's path from the binlog's decimal goes through the same text. */
        if (sl_dbz_decimal_value(text, n, false, (sl_dbz_decimal_form)c->decimal_form, c->scale,
                                 arena, out) != SL_DBZ_DECIMAL_OK)
            return sl_error_set(err, SL_INVALID, "DECIMAL value does not fit its scale");
        return SL_OK;
    case MY_TYPE_BIT: {
        /* The text protocol sends a BIT's big-endian bytes, as the binlog has them. */
        for (size_t i = n; i < c->fixed; i++)
            sl_buf_putc(b, 0);
        sl_buf_append(b, text + (n > c->fixed ? n - c->fixed : 0), n > c->fixed ? c->fixed : n);
        break;
    }
    case MY_TYPE_YEAR: {
        int64_t y = strtoll(num, NULL, 10);
        put_le(b, (uint64_t)(y >= 1901 ? y - 1900 : 0), 1);
        break;
    }
    case MY_TYPE_DATE:
    case MY_TYPE_NEWDATE: {
        int64_t y, mo, d, h, mi, sec;
        uint32_t us;
        parse_datetime_text(text, n, &y, &mo, &d, &h, &mi, &sec, &us);
        put_le(b, (uint64_t)(d | mo << 5 | y << 9), 3);
        break;
    }
    case MY_TYPE_TIME2: {
        const char *p = text, *end = text + n;
        bool neg = p < end && *p == '-';
        p += neg;
        int64_t h = parse_num(&p, end);
        p += p < end;
        int64_t mi = parse_num(&p, end);
        p += p < end;
        int64_t sec = parse_num(&p, end);
        uint32_t us = parse_fraction(&p, end);
        size_t fb = frac_bytes(c->meta);
        uint64_t frac = fb == 1 ? us / 10000 : fb == 2 ? us / 100 : fb == 3 ? us : 0;
        uint64_t mag = ((uint64_t)(h << 12 | mi << 6 | sec) << (fb * 8)) | frac;
        int64_t v = neg ? -(int64_t)mag : (int64_t)mag;
        size_t bits = (3 + fb) * 8;
        put_be(b, (uint64_t)(v + (int64_t)(UINT64_C(1) << (bits - 1))), 3 + fb);
        break;
    }
    case MY_TYPE_DATETIME2: {
        int64_t y, mo, d, h, mi, sec;
        uint32_t us;
        parse_datetime_text(text, n, &y, &mo, &d, &h, &mi, &sec, &us);
        uint64_t ymd = (uint64_t)(y * 13 + mo) << 5 | (uint64_t)d;
        uint64_t hms = (uint64_t)(h << 12 | mi << 6 | sec);
        put_be(b, (ymd << 17 | hms) + UINT64_C(0x8000000000), 5);
        put_fraction(b, us, c->meta);
        break;
    }
    case MY_TYPE_TIMESTAMP2: {
        int64_t y, mo, d, h, mi, sec;
        uint32_t us;
        parse_datetime_text(text, n, &y, &mo, &d, &h, &mi, &sec, &us);
        int64_t secs =
            y == 0 ? 0
                   : sl_dbz_days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + sec;
        put_be(b, (uint64_t)secs, 4);
        put_fraction(b, us, c->meta);
        break;
    }
    case MY_TYPE_STRING:
        if (c->kind == MY_CONV_UUID) {
            /* MariaDB sends a UUID as its text; the binlog has its 16 bytes in text order. */
            uint8_t u[16] = {0};
            size_t k = 0;
            for (size_t i = 0; i + 1 < n && k < 16; i++) {
                if (text[i] == '-')
                    continue;
                char pair[3] = {text[i], text[i + 1], 0};
                u[k++] = (uint8_t)strtoul(pair, NULL, 16);
                i++;
            }
            put_le(b, 16, c->prefix);
            sl_buf_append(b, (const char *)u, 16);
            break;
        }
        if (c->kind == MY_CONV_INET) {
            /* MariaDB sends an INET4/INET6 as its text; the binlog has the address's bytes. */
            char addr[INET6_ADDRSTRLEN];
            uint8_t a[16];
            size_t an = n < sizeof addr - 1 ? n : sizeof addr - 1;
            memcpy(addr, text, an);
            addr[an] = '\0';
            if (inet_pton(c->length == 4 ? AF_INET : AF_INET6, addr, a) != 1)
                return sl_error_set(err, SL_INVALID, "\"%s\" is not an INET%s address", addr,
                                    c->length == 4 ? "4" : "6");
            put_le(b, c->length, c->prefix);
            sl_buf_append(b, (const char *)a, c->length);
            break;
        }
        put_le(b, n, c->prefix);
        sl_buf_append(b, text, n);
        break;
    case MY_TYPE_JSON:
        /* Debezium's snapshot of MySQL keeps the server's text of a JSON value. */
        out->kind = SL_VALUE_STRING;
        out->u.str = sl_arena_strndup(arena, text, n);
        out->len = (uint32_t)n;
        return SL_OK;
    default:
        /* Length-prefixed values (strings, BLOBs, GEOMETRY, VECTOR): the bytes as they are. */
        put_le(b, n, c->prefix);
        sl_buf_append(b, text, n);
        break;
    }
    size_t used;
    return my_convert_value(c, (const uint8_t *)(b->data ? b->data : ""), b->len, &used, arena,
                            &r->scratch, out, err);
}

/* Appends the SQL literal of key column k whose text (key_text) is text. */
static void key_literal(const snap_table *st, uint32_t k, const char *text, size_t n, sl_buf *sql)
{
    const my_table *t = st->t;
    const my_converter *c = &t->convs[key_column(t, k)];
    char buf[96];
    switch ((my_conv_kind)c->kind) {
    case MY_CONV_DATE: {
        int64_t y;
        int m, d;
        sl_dbz_civil_from_days(strtoll(text, NULL, 10), &y, &m, &d);
        snprintf(buf, sizeof buf, "'%04" PRId64 "-%02d-%02d'", y, m, d);
        sl_buf_puts(sql, buf);
        return;
    }
    case MY_CONV_DATETIME: {
        int64_t v = strtoll(text, NULL, 10);
        int64_t us = c->millis ? v * 1000 : v;
        int64_t days = us >= 0 ? us / SL_DBZ_US_PER_DAY : -((-us - 1) / SL_DBZ_US_PER_DAY) - 1;
        int64_t rest = us - days * SL_DBZ_US_PER_DAY;
        int64_t y;
        int m, d;
        sl_dbz_civil_from_days(days, &y, &m, &d);
        int64_t secs = rest / SL_DBZ_US_PER_SEC;
        snprintf(buf, sizeof buf, "'%04" PRId64 "-%02d-%02d %02d:%02d:%02d.%06d'", y, m, d,
                 (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
                 (int)(rest % SL_DBZ_US_PER_SEC));
        sl_buf_puts(sql, buf);
        return;
    }
    case MY_CONV_TIME: {
        int64_t v = strtoll(text, NULL, 10);
        int64_t us = c->millis ? v * 1000 : v;
        bool neg = us < 0;
        uint64_t mag = neg ? (uint64_t)-us : (uint64_t)us;
        uint64_t secs = mag / 1000000;
        snprintf(buf, sizeof buf, "'%s%" PRIu64 ":%02d:%02d.%06d'", neg ? "-" : "", secs / 3600,
                 (int)(secs / 60 % 60), (int)(secs % 60), (int)(mag % 1000000));
        sl_buf_puts(sql, buf);
        return;
    }
    case MY_CONV_TIMESTAMP: {
        /* "2018-06-20T13:37:03.5Z" in the session's UTC. */
        sl_buf_putc(sql, '\'');
        for (size_t i = 0; i < n; i++)
            if (text[i] != 'Z')
                sl_buf_putc(sql, text[i] == 'T' ? ' ' : text[i]);
        sl_buf_putc(sql, '\'');
        return;
    }
    case MY_CONV_ENUM:
        /* ENUMs sort by their index: compare by it. */
        for (uint32_t i = 0; c->labels && i < c->labels->n; i++)
            if (c->labels->len[i] == n && memcmp(c->labels->label[i], text, n) == 0) {
                snprintf(buf, sizeof buf, "%u", i + 1);
                sl_buf_puts(sql, buf);
                return;
            }
        sl_buf_puts(sql, "0");
        return;
    case MY_CONV_STRING:
        /* The column's own charset and collation, so that bounds agree with ORDER BY. */
        sl_buf_puts(sql, "CONVERT(_utf8mb4 X'");
        hex_text((const uint8_t *)text, n, sql);
        sl_buf_puts(sql, "' USING ");
        sl_buf_puts(sql, st->key_cs[k] ? st->key_cs[k] : "utf8mb4");
        sl_buf_putc(sql, ')');
        if (st->key_coll[k]) {
            sl_buf_puts(sql, " COLLATE ");
            sl_buf_puts(sql, st->key_coll[k]);
        }
        return;
    case MY_CONV_UUID:
        sl_buf_puts(sql, "'");
        sl_buf_append(sql, text, n);
        sl_buf_puts(sql, "'");
        return;
    case MY_CONV_BINARY:
        switch ((sl_dbz_binary_mode)c->binary) {
        case SL_DBZ_BINARY_BYTES:
        case SL_DBZ_BINARY_HEX:
            sl_buf_puts(sql, "X'");
            sl_buf_append(sql, text, n);
            sl_buf_puts(sql, "'");
            return;
        default:
            sl_buf_puts(sql, "FROM_BASE64(REPLACE(REPLACE('");
            sl_buf_append(sql, text, n);
            sl_buf_puts(sql, "', '-', '+'), '_', '/'))");
            return;
        }
    default:
        /* Numbers: integers and decimals as plain text. */
        sl_buf_append(sql, text, n);
        return;
    }
}

/* Appends the condition that the key is op ('>' or '<' with or_equal) than key. */
static void key_compare(const snap_table *st, const uint8_t *key, uint32_t len, bool greater,
                        bool or_equal, sl_buf *sql)
{
    /* (a > x) OR (a = x AND b > y) ...: row comparisons are not range scans everywhere. */
    sl_buf_putc(sql, '(');
    for (uint32_t k = 0; k < st->nkey; k++) {
        if (k)
            sl_buf_puts(sql, " OR ");
        sl_buf_putc(sql, '(');
        for (uint32_t j = 0; j <= k; j++) {
            const char *text;
            size_t n;
            sl_snap_key_column(key, len, j, &text, &n);
            if (j)
                sl_buf_puts(sql, " AND ");
            sl_buf_puts(sql, st->key_sql[j]);
            if (j < k)
                sl_buf_puts(sql, " = ");
            else if (k + 1 == st->nkey && or_equal)
                sl_buf_puts(sql, greater ? " >= " : " <= ");
            else
                sl_buf_puts(sql, greater ? " > " : " < ");
            if (text)
                key_literal(st, j, text, n, sql);
            else
                sl_buf_puts(sql, "NULL");
        }
        sl_buf_putc(sql, ')');
    }
    sl_buf_putc(sql, ')');
}

static void order_by(const snap_table *st, bool desc, sl_buf *sql)
{
    sl_buf_puts(sql, " ORDER BY ");
    for (uint32_t k = 0; k < st->nkey; k++) {
        if (k)
            sl_buf_puts(sql, ", ");
        sl_buf_puts(sql, st->key_sql[k]);
        if (desc)
            sl_buf_puts(sql, " DESC");
    }
}

/* Converts result row cells (one per binlog column) into the job's next row. */
static sl_code add_row(snap_reader *r, const snap_table *st, sl_snap_job *job, uint32_t *cap,
                       MYSQL_ROW cells, const unsigned long *lens, sl_error *err)
{
    const my_table *t = st->t;
    if (job->nrows == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 256;
        sl_snap_row *rows = sl_arena_alloc(&job->arena, ncap * sizeof *rows);
        if (job->nrows)
            memcpy(rows, job->rows, job->nrows * sizeof *rows);
        job->rows = rows;
        *cap = ncap;
    }
    sl_value *vals = sl_arena_alloc(&job->arena, (t->ncols ? t->ncols : 1) * sizeof *vals);
    for (uint32_t i = 0; i < t->ncols; i++) {
        if (!cells[i]) {
            vals[i] = sl_value_null();
            continue;
        }
        sl_error cerr;
        if (text_value(r, &t->convs[i], cells[i], lens[i], &job->arena, &vals[i], &cerr) != SL_OK) {
            unsigned n = atomic_fetch_add(&r->s->snap->conversion_warnings, 1);
            if (n < 100)
                sl_warn("snapshot of table \"%s.%s\", column %u: %s; emitted as null",
                        t->base.database, t->base.name, i, cerr.msg);
            vals[i] = sl_value_null();
        }
    }
    sl_value *row = my_row_fields(r->s, &job->arena, t, vals);
    sl_snap_row *out = &job->rows[job->nrows++];
    memset(out, 0, sizeof *out);
    out->values = row;
    if (st->nkey) {
        if (!row_key(t, row, &r->key))
            return sl_error_set(err, SL_INTERNAL, "a key without its text");
        uint8_t *copy = sl_arena_alloc(&job->arena, r->key.len ? r->key.len : 1);
        memcpy(copy, r->key.data, r->key.len);
        out->key = copy;
        out->key_len = (uint32_t)r->key.len;
    }
    return SL_OK;
}

/* Runs a query whose rows are whole rows; each goes to the job (blocks of a whole table). */
static sl_code read_rows(snap_reader *r, const snap_table *st, sl_snap_job *job, const char *sql,
                         sl_error *err)
{
    MYSQL *m = my_conn_handle(r->conn);
    if (mysql_real_query(m, sql, strlen(sql)) != 0)
        return reader_error(r, "read rows", err);
    MYSQL_RES *res = mysql_use_result(m);
    if (!res)
        return reader_error(r, "read rows", err);
    sl_code rc = SL_OK;
    uint32_t cap = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        if (rc != SL_OK)
            continue; /* the rest of the result must be read before the next statement */
        if (mysql_num_fields(res) != st->t->ncols) {
            rc = sl_error_set(err, SL_SOURCE, "the snapshot query returns %u columns, not %u",
                              mysql_num_fields(res), st->t->ncols);
            continue;
        }
        rc = add_row(r, st, job, &cap, row, mysql_fetch_lengths(res), err);
        if (rc == SL_OK && job->whole && job->nrows >= job->limit) {
            /* A full block: hand it over and wait until it may be replaced. */
            if (!sl_snap_job_block(job))
                rc = sl_error_set(err, SL_STOPPED, "cancelled");
            cap = 0;
        }
    }
    if (mysql_errno(m) && rc == SL_OK)
        rc = reader_error(r, "read rows", err);
    mysql_free_result(res);
    return rc;
}

/* The key of the first row of a query that selects the key columns, or NULL. */
static sl_code read_key(snap_reader *r, const snap_table *st, const char *sql, const uint8_t **key,
                        uint32_t *len, sl_arena *arena, sl_error *err)
{
    *key = NULL;
    MYSQL *m = my_conn_handle(r->conn);
    if (mysql_real_query(m, sql, strlen(sql)) != 0)
        return reader_error(r, "read the keys of a chunk", err);
    MYSQL_RES *res = mysql_store_result(m);
    if (!res)
        return reader_error(r, "read the keys of a chunk", err);
    MYSQL_ROW row = mysql_fetch_row(res);
    sl_code rc = SL_OK;
    if (row) {
        const unsigned long *lens = mysql_fetch_lengths(res);
        const my_table *t = st->t;
        sl_buf_reset(&r->key);
        for (uint32_t k = 0; k < st->nkey && rc == SL_OK; k++) {
            if (!row[k]) {
                sl_snap_key_add_null(&r->key);
                continue;
            }
            const my_converter *c = &t->convs[key_column(t, k)];
            sl_value v;
            rc = text_value(r, c, row[k], lens[k], arena, &v, err);
            sl_buf_reset(&r->col);
            if (rc == SL_OK && !key_text(c, &v, &r->col))
                rc = sl_error_set(err, SL_INTERNAL, "a key without its text");
            if (rc == SL_OK)
                sl_snap_key_add(&r->key, r->col.data ? r->col.data : "", r->col.len);
        }
        if (rc == SL_OK) {
            uint8_t *copy = sl_arena_alloc(arena, r->key.len ? r->key.len : 1);
            memcpy(copy, r->key.data, r->key.len);
            *key = copy;
            *len = (uint32_t)r->key.len;
        }
    }
    mysql_free_result(res);
    return rc;
}

static int collect_status(void *ctx, unsigned ncols, char **row)
{
    my_binlog_status *st = ctx;
    if (ncols < 2 || !row[0] || !row[1])
        return 0;
    if (strcasecmp(row[0], "binlog_snapshot_file") == 0)
        snprintf(st->file, sizeof st->file, "%s", row[1]);
    else if (strcasecmp(row[0], "binlog_snapshot_position") == 0)
        st->pos = strtoull(row[1], NULL, 10);
    return 0;
}

/*
 * MySQL without GTIDs: the read's snapshot and its binlog position under
 * FLUSH TABLES WITH READ LOCK, released before this returns. Commits wait
 * for the lock, and FLUSH waits for commits in flight, so while it is held
 * the binlog's end is exactly what the new read view holds. Reader thread,
 * no other reader's statement running (begin_locked).
 */
static sl_code lock_and_begin(snap_reader *r, my_binlog_status *st, sl_error *err)
{
    MYSQL *m = my_conn_handle(r->conn);
    if (mysql_query(m, "FLUSH TABLES WITH READ LOCK") != 0) {
        unsigned no = mysql_errno(m);
        if (no == 1227 || no == 1044 || no == 1045 || no == 1142)
            return sl_error_set(
                err, SL_CONFIG,
                "MySQL server \"%s\" has gtid_mode OFF, so each chunk's read starts "
                "under FLUSH TABLES WITH READ LOCK, which user \"%s\" may not take "
                "(%s): grant it RELOAD (or FLUSH_TABLES), or turn gtid_mode ON (no "
                "lock then), or set snapshot.mode to no_data",
                r->s->conn_opts.host, r->s->conn_opts.user ? r->s->conn_opts.user : "",
                mysql_error(m));
        if (no == 1205)
            return sl_error_set(err, SL_SOURCE,
                                "waited longer than snapshot.lock.timeout.ms (%lld ms) for "
                                "FLUSH TABLES WITH READ LOCK, which waits for running "
                                "statements and other sessions' table locks: %s",
                                (long long)r->s->snap->lock_timeout_ms, mysql_error(m));
        return reader_error(r, "take the global read lock (FLUSH TABLES WITH READ LOCK)", err);
    }
    sl_code rc =
        my_conn_exec(r->conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", err);
    if (rc == SL_OK)
        rc = my_conn_binlog_file_pos(r->conn, st, err);
    sl_error unlock_err;
    sl_code urc = my_conn_exec(r->conn, "UNLOCK TABLES", &unlock_err);
    if (rc == SL_OK && urc != SL_OK) {
        *err = unlock_err;
        rc = urc;
    }
    return rc;
}

/* lock_and_begin() while no other reader of this snapshot runs a statement. */
static sl_code begin_locked(snap_reader *r, my_binlog_status *st, sl_error *err)
{
    pthread_rwlock_wrlock(&r->s->snap->reads);
    sl_code rc = lock_and_begin(r, st, err);
    pthread_rwlock_unlock(&r->s->snap->reads);
    return rc;
}

/*
 * MySQL, a table read whole: LOCK TABLES ... READ on a connection of its
 * own, held while the read's snapshot is taken. The visibility of such a
 * read leaves the table's changes out of the stream (snapshot.h), so it
 * must be exact for them: every transaction that wrote the table has
 * finished (its GTID in gtid_executed) when the lock is granted, and none
 * writes it until the lock goes, after the snapshot. Without the LOCK
 * TABLES privilege the read goes on unlocked, with a warning: a
 * transaction committing at that instant may then come twice. *out NULL
 * then.
 */
static sl_code lock_table(snap_reader *r, const snap_table *st, my_conn **out, sl_error *err)
{
    *out = NULL;
    my_conn *c;
    sl_code rc = my_conn_open(&r->s->conn_opts, &c, err);
    if (rc != SL_OK)
        return rc;
    sl_buf sql;
    sl_buf_init(&sql);
    sl_buf_puts(&sql, "LOCK TABLES ");
    quote_ident(&sql, st->t->base.database);
    sl_buf_putc(&sql, '.');
    quote_ident(&sql, st->t->base.name);
    sl_buf_puts(&sql, " READ");
    char timeout[64];
    snprintf(timeout, sizeof timeout, "SET SESSION lock_wait_timeout = %u",
             r->s->snap->lock_wait_s);
    rc = my_conn_exec(c, timeout, err);
    if (rc == SL_OK)
        rc = my_conn_exec(c, sl_buf_cstr(&sql), err);
    sl_buf_free(&sql);
    if (rc != SL_OK) {
        unsigned no = my_conn_errno(c);
        my_conn_close(c);
        if (no == 1205)
            return sl_error_set(err, SL_SOURCE,
                                "LOCK TABLES \"%s.%s\" READ waited longer than "
                                "snapshot.lock.timeout.ms (%lld ms) for other sessions' locks "
                                "on the table",
                                st->t->base.database, st->t->base.name,
                                (long long)r->s->snap->lock_timeout_ms);
        if (no != 1044 && no != 1142 && no != 1227)
            return rc;
        sl_warn("snapshot of table \"%s.%s\": no LOCK TABLES privilege (%s); the table is read "
                "without a lock, and a transaction committing as the read starts may come twice",
                st->t->base.database, st->t->base.name, err->msg);
        return SL_OK;
    }
    *out = c;
    return SL_OK;
}

/*
 * Takes the snapshot of a read: the transaction, its visibility and H, and
 * the database's clock. Reader thread.
 */
static sl_code begin_read(snap_reader *r, const snap_table *table, sl_snap_job *job, sl_error *err)
{
    bool mariadb = r->s->server.flavor == MY_FLAVOR_MARIADB;
    bool locked = !mariadb && r->s->snap->global_lock;
    char *before = NULL;
    sl_code rc = SL_OK;
    my_conn *locker = NULL;
    my_binlog_status st = {0};
    if (locked && r->s->snap->locking_none) {
        /* An incremental snapshot (the initial one refused to start): the table is skipped. */
        rc = sl_error_set(err, SL_CONFIG,
                          "MySQL server \"%s\" has gtid_mode OFF and snapshot.locking.mode is "
                          "none: no read can start without the global read lock",
                          r->s->conn_opts.host);
    } else if (locked) {
        rc = begin_locked(r, &st, err);
    } else {
        if (!mariadb && job->whole && !r->s->snap->locking_none)
            rc = lock_table(r, table, &locker, err);
        if (!mariadb && rc == SL_OK)
            rc = my_conn_query_value(r->conn, "SELECT @@GLOBAL.gtid_executed", &before, err);
        if (rc == SL_OK)
            rc =
                my_conn_exec(r->conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", err);
    }
    if (rc == SL_OK && !locked) {
        if (mariadb)
            rc = my_conn_query_each(r->conn, "SHOW STATUS LIKE 'binlog\\_snapshot\\_%'",
                                    collect_status, &st, err);
        else
            rc = my_conn_binlog_status(r->conn, &st, err);
    }
    if (locker) {
        sl_error ignored;
        my_conn_exec(locker, "UNLOCK TABLES", &ignored);
        my_conn_close(locker);
    }
    if (rc == SL_OK && !st.file[0])
        rc = sl_error_set(err, SL_SOURCE, "the server did not say the snapshot's binlog position");
    if (rc == SL_OK) {
        job->h_pos = pack_position(st.file, st.pos);
        if (mariadb || locked) {
            vis_head *h = sl_arena_alloc(&job->arena, sizeof *h);
            memset(h, 0, sizeof *h);
            h->kind = VIS_POS;
            h->pos = job->h_pos;
            job->vis = h;
            job->vis_len = sizeof *h;
        } else {
            my_gtid_set g;
            my_gtid_set_init(&g);
            rc = my_gtid_set_parse(&g, before ? before : "", err);
            if (rc == SL_OK)
                job->vis = vis_of_gtids(&g, r->s->snap, &job->arena, &job->vis_len);
            my_gtid_set_free(&g);
        }
    }
    my_binlog_status_free(&st);
    free(before);
    char *now = NULL;
    if (rc == SL_OK)
        rc = my_conn_query_value(r->conn, "SELECT CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
                                 &now, err);
    job->read_unix_ms = now ? strtoll(now, NULL, 10) : 0;
    free(now);
    if (rc == SL_CONNECT || (rc != SL_OK && mysql_errno(my_conn_handle(r->conn)) >= 2000))
        r->broken = true;
    return rc;
}

static sl_code read_chunk(snap_reader *r, sl_snap_job *job, sl_error *err);

/* Reads one chunk (or a whole table, in blocks). Reader thread. */
static sl_code snap_read(void *reader, sl_snap_job *job, sl_error *err)
{
    snap_reader *r = reader;
    const snap_table *st = job->table;
    sl_code rc = SL_OK;
    if (r->broken && (rc = reader_connect(r, err)) != SL_OK)
        return rc;
    rc = begin_read(r, st, job, err);
    if (rc != SL_OK) {
        if (!r->broken)
            my_conn_exec(r->conn, "ROLLBACK", err);
        return rc;
    }
    bool shared = r->s->snap->global_lock;
    if (shared)
        pthread_rwlock_rdlock(&r->s->snap->reads);
    rc = read_chunk(r, job, err);
    if (shared)
        pthread_rwlock_unlock(&r->s->snap->reads);
    return rc;
}

/* The statements of a read, in the transaction begin_read() opened; ends it. Reader thread. */
static sl_code read_chunk(snap_reader *r, sl_snap_job *job, sl_error *err)
{
    const snap_table *st = job->table;
    sl_code rc = SL_OK;
    const char *cond = job->condition;
    sl_buf sql;
    sl_buf_init(&sql);
    if (job->whole) {
        sl_buf_printf(&sql, "SELECT %s FROM %s%s%s%s", st->cols, st->from, cond ? " WHERE (" : "",
                      cond ? cond : "", cond ? ")" : "");
        rc = read_rows(r, st, job, sl_buf_cstr(&sql), err);
    } else {
        if (!job->max) {
            sl_buf_reset(&sql);
            sl_buf_printf(&sql, "SELECT ");
            for (uint32_t k = 0; k < st->nkey; k++)
                sl_buf_printf(&sql, "%s%s", k ? ", " : "", st->key_sql[k]);
            sl_buf_printf(&sql, " FROM %s%s%s%s", st->from, cond ? " WHERE (" : "",
                          cond ? cond : "", cond ? ")" : "");
            order_by(st, true, &sql);
            sl_buf_puts(&sql, " LIMIT 1");
            rc = read_key(r, st, sl_buf_cstr(&sql), &job->max_found, &job->max_found_len,
                          &job->arena, err);
        }
        const uint8_t *max = job->max ? job->max : job->max_found;
        uint32_t max_len = job->max ? job->max_len : job->max_found_len;
        if (rc == SL_OK && max) {
            sl_buf where;
            sl_buf_init(&where);
            sl_buf_puts(&where, " WHERE ");
            if (job->lo) {
                key_compare(st, job->lo, job->lo_len, true, false, &where);
                sl_buf_puts(&where, " AND ");
            }
            key_compare(st, max, max_len, false, true, &where);
            if (cond)
                sl_buf_printf(&where, " AND (%s)", cond);
            if (job->limit != UINT32_MAX) {
                /* The chunk's upper key: published before its rows are read. */
                sl_buf_reset(&sql);
                sl_buf_puts(&sql, "SELECT ");
                for (uint32_t k = 0; k < st->nkey; k++)
                    sl_buf_printf(&sql, "%s%s", k ? ", " : "", st->key_sql[k]);
                sl_buf_printf(&sql, " FROM %s%s", st->from, sl_buf_cstr(&where));
                order_by(st, false, &sql);
                sl_buf_printf(&sql, " LIMIT 1 OFFSET %u", job->limit - 1);
                rc = read_key(r, st, sl_buf_cstr(&sql), &job->hi, &job->hi_len, &job->arena, err);
                if (rc == SL_OK && !job->hi) {
                    job->hi = max;
                    job->hi_len = max_len;
                    job->last = true;
                }
                if (rc == SL_OK)
                    sl_snap_job_publish_bound(job);
            } else {
                job->hi = max;
                job->hi_len = max_len;
            }
            if (rc == SL_OK) {
                sl_buf_reset(&sql);
                sl_buf_printf(&sql, "SELECT %s FROM %s WHERE ", st->cols, st->from);
                if (job->lo) {
                    key_compare(st, job->lo, job->lo_len, true, false, &sql);
                    sl_buf_puts(&sql, " AND ");
                }
                key_compare(st, job->hi, job->hi_len, false, true, &sql);
                if (cond)
                    sl_buf_printf(&sql, " AND (%s)", cond);
                order_by(st, false, &sql);
                rc = read_rows(r, st, job, sl_buf_cstr(&sql), err);
            }
            sl_buf_free(&where);
        } else if (rc == SL_OK) {
            /* An empty table (or nothing meets the condition): one empty, last chunk. */
            job->last = true;
            if (job->limit != UINT32_MAX)
                sl_snap_job_publish_bound(job);
        }
    }
    sl_buf_free(&sql);
    if (rc != SL_OK) {
        if (!r->broken) {
            sl_error ignored;
            my_conn_exec(r->conn, "ROLLBACK", &ignored);
        }
        if (rc != SL_STOPPED)
            sl_error_prefix(err, "table \"%s.%s\"", st->t->base.database, st->t->base.name);
        return rc;
    }
    return my_conn_exec(r->conn, "COMMIT", err);
}

static const sl_snap_ops my_snap_ops = {
    .resolve = snap_resolve,
    .release = snap_release,
    .reader_open = snap_reader_open,
    .reader_close = snap_reader_close,
    .reader_cancel = NULL,
    .read = snap_read,
    .visible = snap_visible,
};

/* ---- the tables a snapshot covers ---- */

typedef struct tables_ctx {
    sl_source *s;
    bool for_snapshot;
    sl_snap_ids *all;
} tables_ctx;

static int collect_table_id(void *p, unsigned ncols, char **row)
{
    tables_ctx *c = p;
    if (ncols < 2 || !row[0] || !row[1] || !my_table_included(c->s, row[0], row[1]))
        return 0;
    char id[600];
    snprintf(id, sizeof id, "%s.%s", row[0], row[1]);
    if (c->for_snapshot && c->s->snap->include && !sl_filter_match(c->s->snap->include, id))
        return 0;
    sl_snap_ids_add(c->all, id);
    return 0;
}

/*
 * The captured tables, in Debezium's snapshot order: by the expressions of
 * table.include.list in their order (each expression's tables by name), else
 * by name. With for_snapshot, only those snapshot.include.collection.list
 * selects.
 */
static sl_code captured_tables(sl_source *s, bool for_snapshot, sl_snap_ids *out, sl_error *err)
{
    sl_code rc = my_source_query_conn(s, err);
    if (rc != SL_OK)
        return rc;
    sl_snap_ids all = {0};
    tables_ctx ctx = {s, for_snapshot, &all};
    rc = my_conn_query_each(s->query,
                            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
                            "WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY 1, 2",
                            collect_table_id, &ctx, err);
    if (rc != SL_OK) {
        sl_snap_ids_free(&all);
        return rc;
    }
    sl_snap_ids_order(sl_config_has(s->cfg, "table.include.list")
                          ? sl_config_str(s->cfg, "table.include.list")
                          : NULL,
                      &all, out);
    sl_snap_ids_free(&all);
    return SL_OK;
}

/* ---- lifecycle ---- */

sl_code my_snap_open(sl_source *s, sl_error *err)
{
    my_snap *p = calloc(1, sizeof *p);
    if (!p)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    s->snap = p;
    p->epoll_fd = -1;
    p->epoll_conn_fd = -1;
    /* Writers first: a reader waiting for the global read lock is not starved by the others. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&p->reads, &attr);
    pthread_rwlockattr_destroy(&attr);
    const char *mode = sl_config_str(s->cfg, "snapshot.mode");
    if (!mode)
        mode = "initial";
    p->mode = strcasecmp(mode, "initial_only") == 0  ? MODE_INITIAL_ONLY
              : strcasecmp(mode, "no_data") == 0     ? MODE_NO_DATA
              : strcasecmp(mode, "never") == 0       ? MODE_NO_DATA
              : strcasecmp(mode, "when_needed") == 0 ? MODE_WHEN_NEEDED
              : strcasecmp(mode, "always") == 0      ? MODE_ALWAYS
                                                     : MODE_INITIAL;
    const char *locking = sl_config_str(s->cfg, "snapshot.locking.mode");
    p->locking_none = locking && strcasecmp(locking, "none") == 0;
    p->lock_timeout_ms = sl_config_int(s->cfg, "snapshot.lock.timeout.ms", 10000);
    p->lock_wait_s = (unsigned)((p->lock_timeout_ms + 999) / 1000);
    sl_code rc = SL_OK;
    if (sl_config_has(s->cfg, "snapshot.include.collection.list"))
        rc = sl_filter_new(s->cfg, "snapshot.include.collection.list", NULL, &p->include, err);
    const char *channels = sl_config_str(s->cfg, "signal.enabled.channels");
    for (const char *c = channels ? channels : ""; *c;) {
        while (*c == ' ' || *c == ',')
            c++;
        size_t n = strcspn(c, ", ");
        if (n == 4 && strncasecmp(c, "file", 4) == 0)
            p->signal_file = strdup(sl_config_str(s->cfg, "signal.file"));
        if (n == 6 && strncasecmp(c, "source", 6) == 0 &&
            sl_config_has(s->cfg, "signal.data.collection")) {
            const char *id = sl_config_str(s->cfg, "signal.data.collection");
            char db[256];
            const char *table;
            if (!split_id(id, db, sizeof db, &table) || !*table) {
                sl_warn("key \"signal.data.collection\": \"%s\" is not \"database.table\"; "
                        "no signals are read from a table",
                        id);
            } else {
                p->signal_db = strdup(db);
                p->signal_table = strdup(table);
            }
        }
        c += n;
    }
    p->signal_poll_ms = sl_config_int(s->cfg, "signal.poll.interval.ms", 5000);
    sl_snapshot_config cfg = {
        .threads = (uint32_t)sl_config_int(s->cfg, "snapshot.max.threads", 1),
        .initial_chunk = (uint32_t)sl_config_int(s->cfg, "snapshot.fetch.size", 10240),
        .incremental_chunk =
            (uint32_t)sl_config_int(s->cfg, "incremental.snapshot.chunk.size", 1024),
        .chunk_bytes = CHUNK_BYTES,
        /* Without a stream there is no H to wait for (initial_only). */
        .emit_wait_ms = p->mode == MODE_INITIAL_ONLY ? 0 : EMIT_WAIT_MS,
        .progress_interval_ms = sl_config_int(s->cfg, "snapshot.progress.interval.ms", 10000),
    };
    if (rc == SL_OK)
        rc = sl_snapshot_new(&my_snap_ops, s, &cfg, &p->coord, err);
    if (rc == SL_OK) {
        p->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = sl_snapshot_wait_fd(p->coord)};
        if (p->epoll_fd < 0 ||
            epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, sl_snapshot_wait_fd(p->coord), &ev) != 0)
            rc = sl_error_set(err, SL_IO, "could not create an epoll descriptor: %s",
                              strerror(errno));
    }
    return rc;
}

void my_snap_close(sl_source *s)
{
    my_snap *p = s->snap;
    if (!p)
        return;
    sl_snapshot_free(p->coord);
    sl_filter_free(p->include);
    free(p->signal_file);
    free(p->signal_db);
    free(p->signal_table);
    free(p->uuids);
    if (p->epoll_fd >= 0)
        close(p->epoll_fd);
    pthread_rwlock_destroy(&p->reads);
    free(p);
    s->snap = NULL;
}

sl_code my_snap_restore(sl_source *s, const char *state, sl_error *err)
{
    return sl_snapshot_restore(s->snap->coord, state, err);
}

bool my_snap_streams(const sl_source *s)
{
    return !s->snap || s->snap->mode != MODE_INITIAL_ONLY;
}

bool my_snap_when_needed(const sl_source *s)
{
    return s->snap && s->snap->mode == MODE_WHEN_NEEDED;
}

bool my_snap_initial_running(const sl_source *s)
{
    return s->snap && sl_snapshot_initial_running(s->snap->coord);
}

sl_code my_snap_start(sl_source *s, bool resumed, bool lost, sl_error *err)
{
    my_snap *p = s->snap;
    bool initial_unfinished = sl_snapshot_initial_running(p->coord);
    bool take = false;
    switch (p->mode) {
    case MODE_INITIAL:
    case MODE_INITIAL_ONLY:
        take = !resumed && !initial_unfinished;
        break;
    case MODE_WHEN_NEEDED:
        take = (!resumed || lost) && !initial_unfinished;
        break;
    case MODE_ALWAYS:
        take = !initial_unfinished;
        break;
    case MODE_NO_DATA:
        if (initial_unfinished) {
            sl_warn("snapshot.mode no_data: the unfinished initial snapshot of a previous run "
                    "is dropped");
            const char *all = ".*";
            sl_snapshot_stop(p->coord, SL_SNAP_INITIAL, &all, 1);
            initial_unfinished = false;
        }
        break;
    }
    /* Incremental snapshots (signals) read the same way: the lock is decided once here. */
    p->global_lock = s->server.flavor == MY_FLAVOR_MYSQL && !s->server.gtid_mode_on;
    if ((take || initial_unfinished) && p->global_lock && p->locking_none)
        return sl_error_set(err, SL_CONFIG,
                            "the snapshot of MySQL server \"%s\" with gtid_mode OFF needs a "
                            "global read lock while each chunk's read starts (without GTIDs "
                            "nothing else tells which transactions a read saw), and "
                            "snapshot.locking.mode is none: set it to minimal (the user needs "
                            "RELOAD), turn gtid_mode ON, or set snapshot.mode to no_data to "
                            "stream only",
                            s->conn_opts.host);
    if ((take || initial_unfinished) && p->global_lock)
        sl_info("MySQL server \"%s\" has gtid_mode OFF: each chunk's read starts under "
                "FLUSH TABLES WITH READ LOCK, released once its snapshot and binlog "
                "position are taken (snapshot.locking.mode minimal)",
                s->conn_opts.host);
    if (take) {
        sl_snap_ids tables = {0};
        sl_code rc = captured_tables(s, true, &tables, err);
        for (size_t i = 0; rc == SL_OK && i < tables.n; i++)
            rc = sl_snapshot_add(p->coord, SL_SNAP_INITIAL, tables.ids[i], NULL, err);
        if (rc == SL_OK)
            sl_info("initial snapshot of %zu table%s (snapshot.mode %s, %u reader%s)", tables.n,
                    tables.n == 1 ? "" : "s", mode_names[p->mode],
                    (unsigned)sl_config_int(s->cfg, "snapshot.max.threads", 1),
                    sl_config_int(s->cfg, "snapshot.max.threads", 1) == 1 ? "" : "s");
        sl_snap_ids_free(&tables);
        if (rc != SL_OK)
            return rc;
    } else if (initial_unfinished) {
        sl_info("resuming the unfinished initial snapshot");
    }
    p->started = true;
    /* The stream starts after everything before its start position: chunks need not wait. */
    if (my_snap_streams(s) && s->file[0])
        sl_snapshot_on_position(p->coord, pack_position(s->file, s->next_pos));
    return sl_snapshot_start(p->coord, err);
}

/* ---- signals (file channel) ---- */

static void apply_signal(void *ctx, const char *id, const char *type, const char *data)
{
    sl_source *s = ctx;
    sl_snap_ids tables = {0};
    sl_error err;
    if (strcmp(type, "execute-snapshot") == 0 && captured_tables(s, false, &tables, &err) != SL_OK)
        sl_warn("signal \"%s\": could not list the captured tables: %s", id, err.msg);
    sl_signal_apply(s->snap->coord, id, type, data, (const char *const *)tables.ids, tables.n);
    sl_snap_ids_free(&tables);
}

bool my_snap_is_signal_table(const sl_source *s, const char *db, const char *table)
{
    const my_snap *p = s->snap;
    return p && p->signal_db && strcmp(p->signal_db, db) == 0 &&
           strcmp(p->signal_table, table) == 0;
}

/* The text of field name of a row of t, NUL-terminated in out; "" when null or absent. */
static void signal_field(const my_table *t, const sl_value *row, const char *name, sl_buf *out)
{
    sl_buf_reset(out);
    const sl_schema *rs = t->base.row_schema;
    for (uint32_t f = 0; rs && f < rs->nfields; f++)
        if (strcasecmp(rs->fields[f].name, name) == 0 && row[f].kind == SL_VALUE_STRING)
            sl_buf_append(out, row[f].u.str, row[f].len);
    sl_buf_cstr(out);
}

void my_snap_on_signal_row(sl_source *s, const my_table *t, const sl_value *after)
{
    my_snap *p = s->snap;
    /* A transaction sent again after a reconnect or restart holds the same rows. */
    uint32_t row = s->cur.row_index;
    if (strcmp(p->last_signal_file, s->file) == 0 &&
        (s->cur.start_pos < p->last_signal_pos ||
         (s->cur.start_pos == p->last_signal_pos && row <= p->last_signal_row)))
        return;
    snprintf(p->last_signal_file, sizeof p->last_signal_file, "%s", s->file);
    p->last_signal_pos = s->cur.start_pos;
    p->last_signal_row = row;
    sl_buf id, type, data;
    sl_buf_init(&id);
    sl_buf_init(&type);
    sl_buf_init(&data);
    signal_field(t, after, "id", &id);
    signal_field(t, after, "type", &type);
    signal_field(t, after, "data", &data);
    if (p->started)
        apply_signal(s, sl_buf_cstr(&id), sl_buf_cstr(&type), sl_buf_cstr(&data));
    else
        sl_warn("signal \"%s\" from table \"%s.%s\" ignored: the snapshot machinery is not "
                "started yet",
                sl_buf_cstr(&id), p->signal_db, p->signal_table);
    sl_buf_free(&id);
    sl_buf_free(&type);
    sl_buf_free(&data);
}

/* ---- stream hooks (pipeline thread) ---- */

void my_snap_on_begin(sl_source *s)
{
    if (s->snap->started)
        sl_snapshot_on_begin(s->snap->coord, current_txid(s));
}

void my_snap_on_position(sl_source *s)
{
    if (s->snap->started)
        sl_snapshot_on_position(s->snap->coord, pack_position(s->file, s->next_pos));
}

bool my_snap_on_row(sl_source *s, const my_table *t, const sl_value *before, const sl_value *after)
{
    my_snap *p = s->snap;
    /* Nothing to log and nothing to leave out: the common case of a stream alone. */
    if (!p->started || (!p->whole_reads && !sl_snapshot_running(p->coord)))
        return false;
    uint64_t id = stream_id_of(t->base.database, t->base.name);
    uint64_t txid = current_txid(s);
    /* Without chunks only the suppressions of whole reads matter: no key needed. */
    if (!t->npk || !key_supported(t) || !sl_snapshot_running(p->coord))
        return sl_snapshot_on_change(p->coord, id, txid, NULL, 0);
    sl_buf key;
    sl_buf_init(&key);
    bool suppress = false;
    /* The old key first (a key change touches both), then the new one. */
    if (before) {
        bool known = row_key(t, before, &key);
        suppress |= sl_snapshot_on_change(p->coord, id, txid,
                                          known ? (const uint8_t *)key.data : NULL, key.len);
    }
    if (after) {
        bool known = row_key(t, after, &key);
        suppress |= sl_snapshot_on_change(p->coord, id, txid,
                                          known ? (const uint8_t *)key.data : NULL, key.len);
    }
    sl_buf_free(&key);
    return suppress;
}

void my_snap_on_truncate(sl_source *s, const char *db, const char *table)
{
    my_snap *p = s->snap;
    if (p->started)
        sl_snapshot_on_change(p->coord, stream_id_of(db, table), current_txid(s), NULL, 0);
}

/* ---- emission ---- */

/* The binlog file of a packed position: the stream's file name with its number. */
static void file_of(const sl_source *s, uint64_t packed, char *out, size_t size)
{
    const char *dot = strrchr(s->file, '.');
    int base = dot ? (int)(dot - s->file) : (int)strlen(s->file);
    size_t digits = dot ? strlen(dot + 1) : 6;
    char number[32];
    snprintf(number, sizeof number, "%06" PRIu64, packed >> 32);
    size_t have = strlen(number);
    snprintf(out, size, "%.*s.%.*s%s", base, s->file,
             (int)(digits > have && digits < 20 ? digits - have : 0), "0000000000000000000",
             number);
}

static bool may_emit(const sl_source *s)
{
    return my_stream_between_transactions(s) || !my_snap_streams(s);
}

/* Pushes the rows of emittable chunks, each as BEGIN, read events, COMMIT. */
static void emit(sl_source *s, sl_batch *batch)
{
    my_snap *p = s->snap;
    while (may_emit(s)) {
        sl_snap_chunk *c = sl_snapshot_emittable(p->coord);
        if (!c)
            return;
        if (!p->chunk_open) {
            if (batch->capacity - batch->count < 2)
                return;
            my_batch_push(batch, SL_ITEM_BEGIN);
            p->chunk_open = true;
        }
        sl_snap_emit e;
        while (batch->capacity - batch->count > 1) {
            if (!sl_snapshot_next_row(p->coord, c, &e)) {
                uint64_t version = sl_snapshot_chunk_emitted(p->coord, c);
                my_stream_push_here(s, batch, version);
                p->chunk_open = false;
                break;
            }
            const snap_table *st = e.table;
            char file[300];
            file_of(s, e.h_pos, file, sizeof file);
            my_stream_push_read(s, batch, st->t, e.row->values, sl_snap_marker_text(e.marker),
                                e.read_unix_ms, file, e.h_pos & 0xffffffffu);
        }
        if (p->chunk_open)
            return; /* the batch is full: the chunk goes on at the next poll */
    }
}

bool my_snap_emit_due(sl_source *s)
{
    return s->snap->started && !s->cur.active && !s->in_tx && !s->pending_gtid &&
           sl_snapshot_emittable(s->snap->coord) != NULL;
}

sl_code my_snap_poll(sl_source *s, sl_batch *batch, bool *hold, sl_error *err)
{
    my_snap *p = s->snap;
    *hold = false;
    if (!p->started)
        return SL_OK;
    sl_code rc = sl_snapshot_pump(p->coord, err);
    if (rc != SL_OK)
        return rc;
    if (p->signal_file && my_now_ms() - p->last_signal_poll_ms >= p->signal_poll_ms) {
        p->last_signal_poll_ms = my_now_ms();
        sl_error ferr;
        if (sl_signal_file_poll(p->signal_file, apply_signal, s, &ferr) != SL_OK)
            sl_warn("%s", ferr.msg);
        rc = sl_snapshot_pump(p->coord, err);
        if (rc != SL_OK)
            return rc;
    }
    emit(s, batch);
    *hold = p->chunk_open || sl_snapshot_stream_held(p->coord);
    return SL_OK;
}

sl_code my_snap_poll_alone(sl_source *s, sl_batch *batch, sl_error *err)
{
    my_snap *p = s->snap;
    bool hold;
    size_t before = batch->count;
    sl_code rc = my_snap_poll(s, batch, &hold, err);
    if (rc != SL_OK)
        return rc;
    if (batch->count == before && !p->chunk_open && !sl_snapshot_running(p->coord)) {
        if (!p->stopped)
            sl_info("snapshot.mode initial_only: the snapshot is complete");
        p->stopped = true;
        return SL_STOPPED;
    }
    return SL_OK;
}

int my_snap_wait_fd(sl_source *s, int conn_fd, int *timeout_ms)
{
    my_snap *p = s->snap;
    if (p->signal_file) {
        int64_t due = p->last_signal_poll_ms + p->signal_poll_ms - my_now_ms();
        if (due < *timeout_ms)
            *timeout_ms = due < 0 ? 0 : (int)due;
    }
    if (!p->started || !sl_snapshot_running(p->coord)) {
        if (!p->signal_file || conn_fd >= 0)
            return conn_fd;
    }
    uint64_t want;
    /* A chunk waiting for the stream to pass its H: the heartbeats may be far. */
    if (sl_snapshot_waiting(p->coord, &want) && *timeout_ms > 100)
        *timeout_ms = 100;
    /* While the stream waits, its socket must not wake the pipeline. */
    if (conn_fd < 0 || p->chunk_open || sl_snapshot_stream_held(p->coord))
        return sl_snapshot_wait_fd(p->coord);
    /*
     * A socket closed by a reconnect left the set by itself, and its number
     * may come back for the new one: add it each time (EEXIST when it is
     * the same socket still).
     */
    if (conn_fd != p->epoll_conn_fd && p->epoll_conn_fd >= 0)
        epoll_ctl(p->epoll_fd, EPOLL_CTL_DEL, p->epoll_conn_fd, NULL);
    p->epoll_conn_fd = -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = conn_fd};
    if (epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, conn_fd, &ev) != 0 && errno != EEXIST)
        return conn_fd;
    p->epoll_conn_fd = conn_fd;
    return p->epoll_fd;
}

/* ---- state ---- */

uint64_t my_snap_version(const sl_source *s)
{
    return s->snap ? sl_snapshot_version(s->snap->coord) : 0;
}

static uint64_t position_version(const sl_position *pos)
{
    my_position p;
    my_position_init(&p);
    sl_error err;
    uint64_t v = my_position_decode(pos, &p, &err) == SL_OK ? p.snap_version : 0;
    my_position_free(&p);
    return v;
}

sl_code my_snap_state_format(sl_source *s, const sl_position *pos, sl_buf *out, sl_error *err)
{
    return sl_snapshot_state_json(s->snap->coord, position_version(pos), out, err);
}

void my_snap_acknowledged(sl_source *s, const sl_position *pos)
{
    sl_snapshot_acknowledged(s->snap->coord, position_version(pos));
}

const sl_snapshot_progress *my_snap_progress(sl_source *s)
{
    return sl_snapshot_progress_of(s->snap->coord);
}
