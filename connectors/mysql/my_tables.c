/*
 * Tables of the MySQL/MariaDB source (my_source_int.h): a my_table per
 * version of a table, built from a TABLE_MAP event and the table's
 * definition (my_ddl.h), and the map from table id to version.
 *
 * The TABLE_MAP is the truth about the rows that follow it: column types,
 * and with binlog_row_metadata=FULL the names, signedness, charsets,
 * ENUM/SET labels and primary key. The definition adds what the binlog
 * never says (defaults, FLOAT(M,D), BOOLEAN, MariaDB's UUID, a unique key
 * standing in for a missing primary key) and, with MINIMAL metadata, the
 * column names. A version is reused while its table's TABLE_MAP stays byte
 * for byte the same and no DDL touched the table; otherwise a new one is
 * built and the old one retired (freed at the next poll, once the pipeline
 * has encoded the events that point to it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mysql/my_source_int.h"
#include "sluice/log.h"
#include "values/dbz.h"

void my_table_free(my_table *t)
{
    if (!t)
        return;
    sl_table_drop_cache(&t->base);
    my_tabledef_free(t->def);
    sl_arena_destroy(&t->arena);
    free(t);
}

/* ---- the table id map ---- */

static size_t tmap_slot(uint64_t id, size_t cap)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

my_table *my_tmap_get(sl_source *s, uint64_t table_id)
{
    if (!s->tmap_cap)
        return NULL;
    for (size_t i = tmap_slot(table_id, s->tmap_cap);; i = (i + 1) & (s->tmap_cap - 1)) {
        if (s->tmap[i].table_id == UINT64_MAX)
            return NULL;
        if (s->tmap[i].table_id == table_id)
            return s->tmap[i].table;
    }
}

static void tmap_put_raw(my_tmap_entry *map, size_t cap, uint64_t id, my_table *t)
{
    size_t i = tmap_slot(id, cap);
    while (map[i].table_id != UINT64_MAX && map[i].table_id != id)
        i = (i + 1) & (cap - 1);
    map[i].table_id = id;
    map[i].table = t;
}

static my_tmap_entry *tmap_new(size_t cap)
{
    my_tmap_entry *map = malloc(cap * sizeof *map);
    if (!map)
        abort();
    for (size_t i = 0; i < cap; i++)
        map[i].table_id = UINT64_MAX;
    return map;
}

static void tmap_put(sl_source *s, uint64_t id, my_table *t)
{
    if (my_tmap_get(s, id)) {
        tmap_put_raw(s->tmap, s->tmap_cap, id, t);
        return;
    }
    if ((s->tmap_count + 1) * 2 > s->tmap_cap) {
        size_t cap = s->tmap_cap ? s->tmap_cap * 2 : 64;
        my_tmap_entry *map = tmap_new(cap);
        for (size_t i = 0; i < s->tmap_cap; i++)
            if (s->tmap[i].table_id != UINT64_MAX)
                tmap_put_raw(map, cap, s->tmap[i].table_id, s->tmap[i].table);
        free(s->tmap);
        s->tmap = map;
        s->tmap_cap = cap;
    }
    tmap_put_raw(s->tmap, s->tmap_cap, id, t);
    s->tmap_count++;
}

/* Removes every table id that maps to t (a version being retired). */
static void tmap_forget(sl_source *s, const my_table *t)
{
    if (!s->tmap_cap)
        return;
    bool found = false;
    for (size_t i = 0; i < s->tmap_cap; i++)
        found |= s->tmap[i].table_id != UINT64_MAX && s->tmap[i].table == t;
    if (!found)
        return;
    /* Rebuild without t: removal from open addressing needs it. */
    my_tmap_entry *map = tmap_new(s->tmap_cap);
    size_t n = 0;
    for (size_t i = 0; i < s->tmap_cap; i++)
        if (s->tmap[i].table_id != UINT64_MAX && s->tmap[i].table != t) {
            tmap_put_raw(map, s->tmap_cap, s->tmap[i].table_id, s->tmap[i].table);
            n++;
        }
    free(s->tmap);
    s->tmap = map;
    s->tmap_count = n;
}

/* ---- versions ---- */

static void retire(sl_source *s, my_table *t)
{
    my_table **pp = &s->versions;
    while (*pp && *pp != t)
        pp = &(*pp)->next_version;
    if (*pp)
        *pp = t->next_version;
    tmap_forget(s, t);
    t->next_retired = s->retired;
    s->retired = t;
}

void my_tables_free_retired(sl_source *s)
{
    while (s->retired) {
        my_table *t = s->retired;
        s->retired = t->next_retired;
        my_table_free(t);
    }
}

void my_tables_clear(sl_source *s)
{
    while (s->versions)
        retire(s, s->versions);
    free(s->tmap);
    s->tmap = NULL;
    s->tmap_cap = s->tmap_count = 0;
}

void my_tables_destroy(sl_source *s)
{
    my_tables_clear(s);
    my_tables_free_retired(s);
}

void my_tables_invalidate(sl_source *s, const char *db, const char *table)
{
    for (my_table *t = s->versions; t; t = t->next_version)
        if (strcmp(t->base.database, db) == 0 && strcmp(t->base.name, table) == 0)
            t->stale = true;
}

/* ---- definitions ---- */

/* Appends name as a quoted identifier (`a``b`). */
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

sl_code my_tables_definition(sl_source *s, const char *db, const char *table,
                             const my_tabledef **out, sl_error *err)
{
    *out = my_catalog_find(&s->catalog, db, table);
    if (*out || my_catalog_state_unknown(s))
        return SL_OK;
    sl_code rc = my_source_query_conn(s, err);
    if (rc != SL_OK)
        return rc;
    /* SHOW CREATE TABLE's canonical form: backticks, whatever the server's sql_mode. */
    rc = my_conn_exec(s->query, "SET SESSION sql_mode = ''", err);
    if (rc != SL_OK)
        return rc;
    sl_buf sql;
    sl_buf_init(&sql);
    sl_buf_puts(&sql, "SHOW CREATE TABLE ");
    quote_ident(&sql, db);
    sl_buf_putc(&sql, '.');
    quote_ident(&sql, table);
    char *text = NULL;
    rc = my_conn_query_column(s->query, sl_buf_cstr(&sql), 1, &text, err);
    sl_buf_free(&sql);
    if (rc != SL_OK) {
        /* 1146: the table is gone (dropped since the event was written). */
        if (my_conn_errno(s->query) == 1146)
            return SL_OK;
        return rc;
    }
    if (!text)
        return SL_OK;
    my_tabledef *def;
    sl_error perr;
    rc = my_ddl_parse_create(text, strlen(text), db, 0, &def, &perr);
    free(text);
    if (rc != SL_OK) {
        sl_warn("table \"%s.%s\": could not read its definition (%s); its defaults and keys "
                "come from the binlog only",
                db, table, perr.msg);
        return SL_OK;
    }
    /* SHOW CREATE TABLE does not qualify the name. */
    def->db = sl_arena_strdup(&def->arena, db);
    my_catalog_put(&s->catalog, def);
    *out = def;
    return SL_OK;
}

/* ---- defaults ---- */

/* Parses [-]digits into *out (saturating at the int64 range, as Debezium clamps BIGINT UNSIGNED).
 */
static bool parse_clamped_int(const char *t, int64_t *out)
{
    bool neg = *t == '-';
    if (*t == '-' || *t == '+')
        t++;
    if (!*t)
        return false;
    uint64_t v = 0;
    bool over = false;
    for (; *t >= '0' && *t <= '9'; t++) {
        if (v > (UINT64_MAX - 9) / 10)
            over = true;
        else
            v = v * 10 + (uint64_t)(*t - '0');
    }
    if (*t == '.') /* 42.0 */
        for (t++; *t == '0'; t++)
            ;
    if (*t)
        return false;
    if (neg)
        *out = over || v > (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)(v - 1) - 1;
    else
        *out = over || v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
    return true;
}

/* 'YYYY-MM-DD[ HH:MM:SS[.ffffff]]' into days and microseconds of the day; false for zero dates. */
static bool parse_datetime(const char *t, int64_t *days, int64_t *micros)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(t, "%d-%d-%d%n", &y, &mo, &d, &n) != 3)
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    const char *r = t + n;
    int64_t frac = 0;
    if (*r == ' ' || *r == 'T') {
        int m = 0;
        if (sscanf(r + 1, "%d:%d:%d%n", &h, &mi, &sec, &m) != 3)
            return false;
        r += 1 + m;
        if (*r == '.') {
            int digits = 0;
            for (r++; *r >= '0' && *r <= '9'; r++, digits++)
                if (digits < 6)
                    frac = frac * 10 + (*r - '0');
            for (; digits < 6; digits++)
                frac *= 10;
        }
    }
    *days = sl_dbz_days_from_civil(y, mo, d);
    *micros = ((int64_t)h * 3600 + mi * 60 + sec) * 1000000 + frac;
    return true;
}

/* [-]HHH:MM:SS[.ffffff] into microseconds. */
static bool parse_time(const char *t, int64_t *out)
{
    bool neg = *t == '-';
    if (neg)
        t++;
    int h, m, sec, n = 0;
    if (sscanf(t, "%d:%d:%d%n", &h, &m, &sec, &n) != 3)
        return false;
    t += n;
    int64_t frac = 0;
    if (*t == '.') {
        int digits = 0;
        for (t++; *t >= '0' && *t <= '9'; t++, digits++)
            if (digits < 6)
                frac = frac * 10 + (*t - '0');
        for (; digits < 6; digits++)
            frac *= 10;
    }
    int64_t us = ((int64_t)h * 3600 + m * 60 + sec) * 1000000 + frac;
    *out = neg ? -us : us;
    return true;
}

/* The bit value of "b'101'", "0x0A" or decimal digits. */
static bool parse_bits(const char *t, uint64_t *out)
{
    uint64_t v = 0;
    if ((t[0] == 'b' || t[0] == 'B') && t[1] == '\'') {
        for (t += 2; *t == '0' || *t == '1'; t++)
            v = v << 1 | (uint64_t)(*t - '0');
        *out = v;
        return *t == '\'';
    }
    if (t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
        *out = strtoull(t + 2, NULL, 16);
        return true;
    }
    char *end;
    *out = strtoull(t, &end, 10);
    return *end == '\0' && end != t;
}

static bool is_now_expr(const char *t)
{
    return strncasecmp(t, "current_timestamp", 17) == 0 || strncasecmp(t, "now", 3) == 0 ||
           strncasecmp(t, "localtime", 9) == 0 || strncasecmp(t, "curdate", 7) == 0 ||
           strncasecmp(t, "current_date", 12) == 0 || strncasecmp(t, "utc_timestamp", 13) == 0;
}

/*
 * A column default (DDL text) as a value of the column's converter, as
 * Debezium's default value converter gives it; false when there is none to
 * give (NULL, an expression other than the current time, a value that does
 * not parse).
 */
static bool default_value(const my_converter *c, const my_coldef *def, bool optional,
                          sl_arena *arena, sl_value *out)
{
    memset(out, 0, sizeof *out);
    const char *t = def->default_text;
    if (def->default_kind == MY_DEFAULT_EXPR) {
        /* CURRENT_TIMESTAMP and friends become the epoch. */
        if (!t || !is_now_expr(t))
            return false;
        switch (c->kind) {
        case MY_CONV_DATE:
        case MY_CONV_DATETIME:
            *out = sl_value_int(0);
            return true;
        case MY_CONV_TIMESTAMP: {
            static const char epoch[] = "1970-01-01T00:00:00Z";
            *out = sl_value_string(epoch, sizeof epoch - 1);
            return true;
        }
        default:
            return false;
        }
    }
    if (def->default_kind != MY_DEFAULT_LITERAL || !t)
        return false;
    size_t len = strlen(t);
    switch (c->kind) {
    case MY_CONV_INT:
    case MY_CONV_YEAR: {
        int64_t v;
        if (!parse_clamped_int(t, &v))
            return false;
        *out = sl_value_int(v);
        return true;
    }
    case MY_CONV_BOOL:
        out->kind = SL_VALUE_BOOL;
        out->u.b = strcmp(t, "0") != 0 && strcasecmp(t, "false") != 0;
        return true;
    case MY_CONV_UINT64_DECIMAL:
    case MY_CONV_DECIMAL: {
        sl_dbz_decimal_form form = c->kind == MY_CONV_UINT64_DECIMAL
                                       ? SL_DBZ_AS_DECIMAL
                                       : (sl_dbz_decimal_form)c->decimal_form;
        int32_t scale = c->kind == MY_CONV_UINT64_DECIMAL ? 0 : c->scale;
        return sl_dbz_decimal_value(t, len, false, form, scale, arena, out) == SL_DBZ_DECIMAL_OK;
    }
    case MY_CONV_FLOAT:
    case MY_CONV_DOUBLE: {
        double d;
        if (!sl_dbz_parse_double(t, len, c->kind == MY_CONV_FLOAT, &d))
            return false;
        out->kind = SL_VALUE_DOUBLE;
        out->u.d = d;
        return true;
    }
    case MY_CONV_BIT:
    case MY_CONV_BITS: {
        uint64_t v;
        if (!parse_bits(t, &v))
            return false;
        if (c->kind == MY_CONV_BIT) {
            out->kind = SL_VALUE_BOOL;
            out->u.b = v != 0;
            return true;
        }
        uint32_t nbytes = (c->length + 7) / 8;
        uint8_t *b = sl_arena_alloc(arena, nbytes ? nbytes : 1);
        for (uint32_t i = 0; i < nbytes; i++)
            b[i] = i < 8 ? (uint8_t)(v >> (8 * i)) : 0; /* least significant byte first */
        out->kind = SL_VALUE_BYTES;
        out->len = nbytes;
        out->u.bytes = b;
        return true;
    }
    case MY_CONV_DATE: {
        int64_t days, us;
        if (!parse_datetime(t, &days, &us)) {
            /* A zero date: no default when nullable, else the epoch. */
            if (optional)
                return false;
            *out = sl_value_int(0);
            return true;
        }
        *out = sl_value_int(days);
        return true;
    }
    case MY_CONV_DATETIME: {
        int64_t days, us;
        if (!parse_datetime(t, &days, &us)) {
            if (optional)
                return false;
            *out = sl_value_int(0);
            return true;
        }
        int64_t total = days * SL_DBZ_US_PER_DAY + us;
        *out = sl_value_int(c->millis ? sl_dbz_floor_div(total, 1000) : total);
        return true;
    }
    case MY_CONV_TIME: {
        int64_t us;
        if (!parse_time(t, &us))
            return false;
        *out = sl_value_int(c->millis ? us / 1000 : us);
        return true;
    }
    case MY_CONV_TIMESTAMP: {
        int64_t days, us;
        if (!parse_datetime(t, &days, &us)) {
            if (optional)
                return false;
            static const char epoch[] = "1970-01-01T00:00:00Z";
            *out = sl_value_string(epoch, sizeof epoch - 1);
            return true;
        }
        sl_dbz_zoned_timestamp(days, us, c->fsp, arena, out);
        return true;
    }
    case MY_CONV_STRING:
    case MY_CONV_INET:
    case MY_CONV_ENUM:
    case MY_CONV_SET:
    case MY_CONV_JSON:
        *out = sl_value_string(sl_arena_strndup(arena, t, len), (uint32_t)len);
        return true;
    case MY_CONV_BINARY:
        sl_dbz_binary_value((sl_dbz_binary_mode)c->binary, (const uint8_t *)t, len, arena, out);
        return true;
    default:
        return false;
    }
}

/* ---- building a version ---- */

/* Whether a definition's column can stand for a binlog column of this type (MINIMAL metadata). */
static bool types_agree(uint8_t binlog_type, const my_coldef *d)
{
    const char *t = d->type;
    switch (binlog_type) {
    case MY_TYPE_TINY:
        return strcmp(t, "TINYINT") == 0;
    case MY_TYPE_SHORT:
        return strcmp(t, "SMALLINT") == 0;
    case MY_TYPE_INT24:
        return strcmp(t, "MEDIUMINT") == 0;
    case MY_TYPE_LONG:
        return strcmp(t, "INT") == 0;
    case MY_TYPE_LONGLONG:
        return strcmp(t, "BIGINT") == 0;
    case MY_TYPE_FLOAT:
        return strcmp(t, "FLOAT") == 0;
    case MY_TYPE_DOUBLE:
        return strcmp(t, "DOUBLE") == 0 || strcmp(t, "FLOAT") == 0;
    case MY_TYPE_NEWDECIMAL:
        return strcmp(t, "DECIMAL") == 0;
    case MY_TYPE_BIT:
        return strcmp(t, "BIT") == 0;
    case MY_TYPE_YEAR:
        return strcmp(t, "YEAR") == 0;
    case MY_TYPE_DATE:
    case MY_TYPE_NEWDATE:
        return strcmp(t, "DATE") == 0;
    case MY_TYPE_TIME:
    case MY_TYPE_TIME2:
        return strcmp(t, "TIME") == 0;
    case MY_TYPE_DATETIME:
    case MY_TYPE_DATETIME2:
        return strcmp(t, "DATETIME") == 0;
    case MY_TYPE_TIMESTAMP:
    case MY_TYPE_TIMESTAMP2:
        return strcmp(t, "TIMESTAMP") == 0;
    case MY_TYPE_JSON:
        return strcmp(t, "JSON") == 0;
    case MY_TYPE_GEOMETRY:
        return strstr("GEOMETRY POINT LINESTRING POLYGON MULTIPOINT MULTILINESTRING MULTIPOLYGON "
                      "GEOMCOLLECTION",
                      t) != NULL;
    case MY_TYPE_VECTOR:
        return strcmp(t, "VECTOR") == 0;
    case MY_TYPE_ENUM:
        return strcmp(t, "ENUM") == 0;
    case MY_TYPE_SET:
        return strcmp(t, "SET") == 0;
    case MY_TYPE_STRING:
    case MY_TYPE_VARCHAR:
    case MY_TYPE_VAR_STRING:
        return strstr("CHAR VARCHAR BINARY VARBINARY ENUM SET UUID INET4 INET6", t) != NULL;
    case MY_TYPE_BLOB:
    case MY_TYPE_TINY_BLOB:
    case MY_TYPE_MEDIUM_BLOB:
    case MY_TYPE_LONG_BLOB:
        return strstr(t, "TEXT") || strstr(t, "BLOB") || strcmp(t, "JSON") == 0;
    default:
        return false;
    }
}

/* A new, empty version in its own arena. */
static my_table *table_new(sl_source *s)
{
    my_table *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    sl_arena_init(&t->arena, 8192);
    t->base.version = ++s->table_versions;
    return t;
}

static char *arena_printf(sl_arena *a, const char *fmt, const char *x, const char *y, const char *z)
{
    int n = snprintf(NULL, 0, fmt, x, y, z);
    char *p = sl_arena_alloc(a, (size_t)n + 1);
    snprintf(p, (size_t)n + 1, fmt, x, y, z);
    return p;
}

/* The binlog's name of a column type, for a column whose definition is unknown. */
static const char *binlog_type_name(const my_tm_column *c)
{
    switch (c->type) {
    case MY_TYPE_TINY:
        return "TINYINT";
    case MY_TYPE_SHORT:
        return "SMALLINT";
    case MY_TYPE_INT24:
        return "MEDIUMINT";
    case MY_TYPE_LONG:
        return "INT";
    case MY_TYPE_LONGLONG:
        return "BIGINT";
    case MY_TYPE_FLOAT:
        return "FLOAT";
    case MY_TYPE_DOUBLE:
        return "DOUBLE";
    case MY_TYPE_NEWDECIMAL:
        return "DECIMAL";
    case MY_TYPE_STRING:
        return "CHAR";
    case MY_TYPE_VARCHAR:
    case MY_TYPE_VAR_STRING:
        return "VARCHAR";
    case MY_TYPE_BLOB:
        return "BLOB";
    case MY_TYPE_JSON:
        return "JSON";
    case MY_TYPE_ENUM:
        return "ENUM";
    case MY_TYPE_SET:
        return "SET";
    default:
        return "UNKNOWN";
    }
}

/*
 * A column as Debezium's MySQL connector describes it to its column
 * mappers: the DDL's type name with UNSIGNED and ZEROFILL (Debezium's
 * "INT UNSIGNED"), its length and scale; character for the types its
 * parser maps to JDBC CHAR or VARCHAR (CHAR, VARCHAR, the TEXTs, ENUM,
 * SET), the only ones a mask changes.
 */
static void column_desc(const my_tm_column *c, const my_coldef *d, const char *name, sl_arena *a,
                        sl_column_desc *out)
{
    memset(out, 0, sizeof *out);
    out->name = name;
    out->length = -1;
    out->scale = -1;
    if (!d) {
        out->type_name = binlog_type_name(c);
        out->character = c->type == MY_TYPE_VARCHAR || c->type == MY_TYPE_VAR_STRING ||
                         c->type == MY_TYPE_ENUM || c->type == MY_TYPE_SET;
        return;
    }
    const char *t = d->type;
    if (d->is_unsigned || d->zerofill) {
        size_t n = strlen(t) + sizeof " UNSIGNED ZEROFILL";
        char *full = sl_arena_alloc(a, n);
        snprintf(full, n, "%s%s%s", t, d->is_unsigned ? " UNSIGNED" : "",
                 d->zerofill ? " ZEROFILL" : "");
        out->type_name = full;
    } else {
        out->type_name = t;
    }
    out->length = d->length > INT32_MAX ? INT32_MAX : (int32_t)d->length;
    out->scale = d->scale;
    out->comment = d->comment;
    out->character = strcmp(t, "CHAR") == 0 || strcmp(t, "VARCHAR") == 0 ||
                     strcmp(t, "TINYTEXT") == 0 || strcmp(t, "TEXT") == 0 ||
                     strcmp(t, "MEDIUMTEXT") == 0 || strcmp(t, "LONGTEXT") == 0 ||
                     strcmp(t, "ENUM") == 0 || strcmp(t, "SET") == 0 || strcmp(t, "NCHAR") == 0 ||
                     strcmp(t, "NVARCHAR") == 0;
}

void my_table_transform_row(const my_table *t, sl_value *row, sl_arena *arena)
{
    for (uint32_t i = 0; i < t->ncols; i++) {
        const sl_column_plan *p = &t->plans[i];
        if (p->op == SL_COLUMN_KEEP)
            continue;
        int32_t f = t->field_of ? t->field_of[i] : (int32_t)i;
        if (f >= 0)
            sl_transform_value(p, &row[f], arena);
    }
}

/*
 * Builds the schemas and converters of an included table from its map and
 * definition (NULL when unknown). Problems that keep rows from being
 * decoded are recorded in t->problem; they matter only if rows come.
 */
static sl_code build_version(sl_source *s, my_table *t, const my_table_map *m,
                             const my_tabledef *def, sl_error *err)
{
    sl_arena *a = &t->arena;
    const char *db = t->base.database, *name = t->base.name;
    if (def) {
        t->def = my_tabledef_copy(def);
        def = t->def;
    }
    t->ncols = m->ncols;
    t->convs = sl_arena_alloc(a, (m->ncols ? m->ncols : 1) * sizeof *t->convs);
    memset(t->convs, 0, (m->ncols ? m->ncols : 1) * sizeof *t->convs);

    /* Column names: the map's (FULL metadata), else the definition's if it fits the map. */
    const char **names = sl_arena_alloc(a, (m->ncols ? m->ncols : 1) * sizeof *names);
    const my_coldef **defcols = sl_arena_alloc(a, (m->ncols ? m->ncols : 1) * sizeof *defcols);
    bool fits = def && def->ncols == m->ncols;
    for (uint32_t i = 0; fits && i < m->ncols; i++)
        fits = types_agree(m->cols[i].type, &def->cols[i]);
    for (uint32_t i = 0; i < m->ncols; i++) {
        const my_tm_column *c = &m->cols[i];
        if (c->name) {
            names[i] = c->name;
            int k = def ? my_tabledef_column(def, c->name) : -1;
            defcols[i] = k >= 0 ? &def->cols[k] : NULL;
        } else if (fits) {
            names[i] = def->cols[i].name;
            defcols[i] = &def->cols[i];
        } else {
            snprintf(t->problem, sizeof t->problem,
                     "table \"%s.%s\": the binlog does not name its columns "
                     "(binlog_row_metadata is not FULL) and its definition at this point of the "
                     "binlog is %s",
                     db, name,
                     def ? "not the one of these rows (another number or type of columns)"
                         : "unknown");
            return SL_OK;
        }
    }

    /* The key: the definition's primary key, else the map's, else a unique NOT NULL key. */
    const char *const *key_names = NULL;
    uint32_t nkey = 0;
    const my_keydef *k = def ? my_tabledef_primary(def) : NULL;
    if (k) {
        key_names = k->cols;
        nkey = k->ncols;
    } else if (m->npk) {
        const char **kn = sl_arena_alloc(a, m->npk * sizeof *kn);
        for (uint32_t i = 0; i < m->npk; i++)
            kn[i] = m->pk[i] < m->ncols ? names[m->pk[i]] : "";
        key_names = kn;
        nkey = m->npk;
    } else if (def && (k = my_tabledef_unique_not_null(def))) {
        key_names = k->cols;
        nkey = k->ncols;
    }
    int32_t *col_of_key = sl_arena_alloc(a, (nkey ? nkey : 1) * sizeof *col_of_key);
    for (uint32_t i = 0; i < nkey; i++) {
        col_of_key[i] = -1;
        for (uint32_t c = 0; c < m->ncols; c++)
            if (strcasecmp(names[c], key_names[i]) == 0)
                col_of_key[i] = (int32_t)c;
        if (col_of_key[i] < 0)
            nkey = 0; /* a key column the rows do not have: no key rather than a wrong one */
    }

    /*
     * Fields: every column the column filters keep. Their plans
     * (transforms.h) match "db.table.column", as Debezium's MySQL
     * connector names columns.
     */
    char table_id[600];
    snprintf(table_id, sizeof table_id, "%s.%s", db, name);
    t->plans = sl_arena_alloc(a, (m->ncols ? m->ncols : 1) * sizeof *t->plans);
    t->field_of = NULL;
    t->transforms = false;
    int32_t *field_of = sl_arena_alloc(a, (m->ncols ? m->ncols : 1) * sizeof *field_of);
    uint32_t nfields = 0;
    for (uint32_t i = 0; i < m->ncols; i++) {
        sl_column_desc desc;
        column_desc(&m->cols[i], defcols[i], names[i], a, &desc);
        sl_transforms_column(s->transforms, table_id, &desc, a, &t->plans[i]);
        bool keep = !t->plans[i].excluded;
        field_of[i] = keep ? (int32_t)nfields++ : -1;
        if (!keep || (uint32_t)field_of[i] != i)
            t->field_of = field_of;
        t->transforms |= keep && t->plans[i].op != SL_COLUMN_KEEP;
    }
    for (uint32_t i = 0; i < nkey; i++)
        if (field_of[col_of_key[i]] < 0)
            nkey = 0;
    /* message.key.columns: other columns than the table's key become the message key. */
    const int32_t *key_cols = col_of_key;
    uint32_t nkey_fields = nkey;
    uint32_t *chosen = sl_arena_alloc(a, (m->ncols ? m->ncols : 1) * sizeof *chosen);
    int nchosen = sl_transforms_key(s->transforms, table_id, names, m->ncols, chosen);
    if (nchosen >= 0) {
        int32_t *kc = sl_arena_alloc(a, ((uint32_t)nchosen ? (uint32_t)nchosen : 1) * sizeof *kc);
        nkey_fields = 0;
        for (int i = 0; i < nchosen; i++)
            if (field_of[chosen[i]] >= 0)
                kc[nkey_fields++] = (int32_t)chosen[i];
        key_cols = kc;
    }
    t->nfields = nfields;
    sl_field *fields = sl_arena_alloc(a, (nfields ? nfields : 1) * sizeof *fields);
    /* The fields' schemas without the transforms' parameters: Debezium's keys have none. */
    const sl_schema **plain = sl_arena_alloc(a, (nfields ? nfields : 1) * sizeof *plain);
    t->required = sl_arena_alloc(a, nfields + 1);
    t->has_default = sl_arena_alloc(a, nfields + 1);

    for (uint32_t i = 0; i < m->ncols; i++) {
        const my_tm_column *c = &m->cols[i];
        const my_coldef *d = defcols[i];
        bool is_key = false;
        for (uint32_t j = 0; j < nkey; j++)
            is_key |= (uint32_t)col_of_key[j] == i;
        my_column_hints hints = {0};
        if (d) {
            hints.boolean = d->boolean && c->type == MY_TYPE_TINY;
            hints.float_double =
                c->type == MY_TYPE_FLOAT && strcmp(d->type, "FLOAT") == 0 && d->scale >= 0;
            hints.uuid = strcmp(d->type, "UUID") == 0;
            hints.inet = strcmp(d->type, "INET4") == 0 ? 4 : strcmp(d->type, "INET6") == 0 ? 6 : 0;
            if ((c->type == MY_TYPE_ENUM || c->type == MY_TYPE_SET) && d->nlabels &&
                c->labels.n == 0) {
                my_labels *l = sl_arena_alloc(a, sizeof *l);
                l->n = d->nlabels;
                l->label = d->labels;
                uint32_t *lens = sl_arena_alloc(a, d->nlabels * sizeof *lens);
                for (uint32_t j = 0; j < d->nlabels; j++)
                    lens[j] = (uint32_t)strlen(d->labels[j]);
                l->len = lens;
                hints.labels = l;
            }
        }
        /* The map's copy of the column, named (MINIMAL metadata leaves names out). */
        my_tm_column col = *c;
        col.name = names[i];
        col.name_len = (uint32_t)strlen(names[i]);
        bool optional = c->nullable && !is_key;
        const sl_schema *schema;
        sl_error cerr;
        sl_code rc = my_column_schema(&col, &hints, optional, &s->type_opts, a, &schema,
                                      &t->convs[i], &cerr);
        if (rc != SL_OK) {
            snprintf(t->problem, sizeof t->problem, "table \"%s.%s\": %.400s", db, name, cerr.msg);
            return SL_OK;
        }
        if (field_of[i] < 0)
            continue;
        uint32_t f = (uint32_t)field_of[i];
        sl_schema *sc = (sl_schema *)schema;
        sl_value dv;
        if (d && default_value(&t->convs[i], d, optional, a, &dv)) {
            sl_value *copy = sl_arena_alloc(a, sizeof *copy);
            *copy = dv;
            sc->default_value = copy;
        }
        fields[f].name = names[i];
        fields[f].schema = sl_transforms_schema(sc, &t->plans[i], a);
        plain[f] = sc;
        t->required[f] = !sc->optional;
        t->has_default[f] = sc->default_value != NULL;
    }

    sl_schema *row = sl_arena_alloc(a, sizeof *row);
    memset(row, 0, sizeof *row);
    row->type = SL_TYPE_STRUCT;
    row->optional = true;
    row->name = arena_printf(a, "%s.%s.%s.Value", s->topic_prefix, db, name);
    row->nfields = nfields;
    row->fields = fields;
    t->base.row_schema = row;
    /* The table's own key, for the snapshot's key order, whatever message.key.columns says. */
    uint32_t *pk = sl_arena_alloc(a, (nkey ? nkey : 1) * sizeof *pk);
    for (uint32_t i = 0; i < nkey; i++)
        pk[i] = (uint32_t)field_of[col_of_key[i]];
    t->pk_fields = pk;
    t->npk = nkey;
    nkey = nkey_fields;
    if (nkey) {
        sl_field *kf = sl_arena_alloc(a, nkey * sizeof *kf);
        uint32_t *positions = sl_arena_alloc(a, nkey * sizeof *positions);
        for (uint32_t i = 0; i < nkey; i++) {
            uint32_t f = (uint32_t)field_of[key_cols[i]];
            positions[i] = f;
            kf[i] = fields[f];
            kf[i].schema = plain[f];
        }
        sl_schema *key = sl_arena_alloc(a, sizeof *key);
        memset(key, 0, sizeof *key);
        key->type = SL_TYPE_STRUCT;
        key->name = arena_printf(a, "%s.%s.%s.Key", s->topic_prefix, db, name);
        key->nfields = nkey;
        key->fields = kf;
        t->base.key_schema = key;
        t->base.nkey = nkey;
        t->base.key_fields = positions;
    }
    (void)err;
    return SL_OK;
}

/* The fingerprint of a TABLE_MAP: its body after the table id. */
static void fingerprint(const my_binlog_format *fmt, const my_binlog_event *ev, const uint8_t **p,
                        size_t *n, uint64_t *table_id)
{
    size_t id_len = fmt->post_header[MY_EV_TABLE_MAP] == 6 ? 4 : 6;
    *table_id = 0;
    if (ev->body_len < id_len) {
        *p = ev->body;
        *n = 0;
        return;
    }
    for (size_t i = id_len; i-- > 0;)
        *table_id = *table_id << 8 | ev->body[i];
    *p = ev->body + id_len;
    *n = ev->body_len - id_len;
}

sl_code my_tables_on_table_map(sl_source *s, const my_binlog_format *fmt, const my_binlog_event *ev,
                               sl_error *err)
{
    const uint8_t *fp;
    size_t fp_len;
    uint64_t id;
    fingerprint(fmt, ev, &fp, &fp_len, &id);
    my_table *t = my_tmap_get(s, id);
    if (t && !t->stale && t->fingerprint_len == fp_len && memcmp(t->fingerprint, fp, fp_len) == 0)
        return SL_OK;
    /* The same table under another id (a reconnect, a table cache eviction): reuse it. */
    for (my_table *v = s->versions; v; v = v->next_version) {
        if (!v->stale && v->fingerprint_len == fp_len && memcmp(v->fingerprint, fp, fp_len) == 0) {
            tmap_put(s, id, v);
            return SL_OK;
        }
    }

    my_table *nt = table_new(s);
    my_table_map m;
    sl_code rc = my_table_map_parse(fmt, ev, &nt->arena, &m, err);
    if (rc != SL_OK) {
        my_table_free(nt);
        return rc;
    }
    nt->fingerprint = sl_arena_alloc(&nt->arena, fp_len ? fp_len : 1);
    memcpy(nt->fingerprint, fp, fp_len);
    nt->fingerprint_len = fp_len;
    nt->base.database = m.db;
    nt->base.name = m.table;
    nt->base.topic = arena_printf(&nt->arena, "%s.%s.%s", s->topic_prefix, m.db, m.table);
    nt->included = my_table_included(s, m.db, m.table);
    nt->is_signal = s->snap && my_snap_is_signal_table(s, m.db, m.table);
    nt->ncols = m.ncols;
    if (nt->included || nt->is_signal) {
        const my_tabledef *def = NULL;
        rc = my_tables_definition(s, m.db, m.table, &def, err);
        if (rc == SL_OK)
            rc = build_version(s, nt, &m, def, err);
        if (rc != SL_OK) {
            my_table_free(nt);
            return rc;
        }
    }
    /* Older versions of the same table are retired. */
    for (my_table *v = s->versions; v;) {
        my_table *next = v->next_version;
        if (strcmp(v->base.database, m.db) == 0 && strcmp(v->base.name, m.table) == 0)
            retire(s, v);
        v = next;
    }
    nt->next_version = s->versions;
    s->versions = nt;
    tmap_put(s, id, nt);
    return SL_OK;
}

/* ---- definitions of every captured table ---- */

typedef struct load_ctx {
    sl_source *s;
    char **names; /* db, table pairs */
    size_t n, cap;
} load_ctx;

static int collect_charset(void *p, unsigned ncols, char **row)
{
    load_ctx *ctx = p;
    if (ncols >= 2 && row[0] && row[1] && sl_filter_match(ctx->s->db_filter, row[0]))
        my_catalog_set_db_charset(&ctx->s->catalog, row[0], row[1]);
    return 0;
}

static int collect_table(void *p, unsigned ncols, char **row)
{
    load_ctx *ctx = p;
    if (ncols < 2 || !row[0] || !row[1] || !my_table_included(ctx->s, row[0], row[1]))
        return 0;
    if (ctx->n + 2 > ctx->cap) {
        ctx->cap = ctx->cap ? ctx->cap * 2 : 64;
        ctx->names = realloc(ctx->names, ctx->cap * sizeof *ctx->names);
        if (!ctx->names)
            abort();
    }
    ctx->names[ctx->n++] = strdup(row[0]);
    ctx->names[ctx->n++] = strdup(row[1]);
    return 0;
}

sl_code my_tables_load_charsets(sl_source *s, sl_error *err)
{
    sl_code rc = my_source_query_conn(s, err);
    if (rc != SL_OK)
        return rc;
    load_ctx ctx = {.s = s};
    return my_conn_query_each(s->query,
                              "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM "
                              "information_schema.SCHEMATA",
                              collect_charset, &ctx, err);
}

sl_code my_tables_load_all(sl_source *s, sl_error *err)
{
    sl_code rc = my_source_query_conn(s, err);
    if (rc != SL_OK)
        return rc;
    load_ctx ctx = {.s = s};
    rc = my_conn_query_each(s->query,
                            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
                            "WHERE TABLE_TYPE = 'BASE TABLE'",
                            collect_table, &ctx, err);
    for (size_t i = 0; rc == SL_OK && i + 1 < ctx.n; i += 2) {
        const my_tabledef *def;
        my_catalog_drop(&s->catalog, ctx.names[i], ctx.names[i + 1]);
        rc = my_tables_definition(s, ctx.names[i], ctx.names[i + 1], &def, err);
    }
    for (size_t i = 0; i < ctx.n; i++)
        free(ctx.names[i]);
    free(ctx.names);
    return rc;
}

/* ---- versions for snapshots ---- */

my_table *my_table_new_detached(sl_source *s)
{
    return table_new(s);
}

sl_code my_table_build_detached(sl_source *s, my_table *t, const my_table_map *m, sl_error *err)
{
    t->base.database = sl_arena_strdup(&t->arena, m->db);
    t->base.name = sl_arena_strdup(&t->arena, m->table);
    t->base.topic = arena_printf(&t->arena, "%s.%s.%s", s->topic_prefix, m->db, m->table);
    t->included = true;
    t->ncols = m->ncols;
    const my_tabledef *def = NULL;
    sl_code rc = my_tables_definition(s, m->db, m->table, &def, err);
    if (rc == SL_OK)
        rc = build_version(s, t, m, def, err);
    return rc;
}
