/*
 * Debezium's schema change events of the MySQL/MariaDB source
 * (include.schema.changes): one event per DDL statement on the topic named
 * by topic.prefix, key {databaseName}, value {source, ts_ms, databaseName,
 * schemaName, ddl, tableChanges}, where each table change describes the
 * table after the statement as Debezium's DDL parser does (column types,
 * JDBC type codes, lengths, defaults, ENUM values), from the definitions
 * of my_ddl.h. They go to the pipeline as records (SL_OP_RECORD) of a
 * pseudo-table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "mysql/my_source_int.h"
#include "sluice/log.h"
#include "sluice/schema.h"

/* Fields of the value, in order (source first, then schemas/mysql-schema-change.json's). */
enum { SC_SOURCE, SC_TS_MS, SC_DATABASE, SC_SCHEMA, SC_DDL, SC_TABLE_CHANGES, SC_FIELDS };

sl_code my_schema_change_table_build(sl_source *s, sl_error *err)
{
    const char *text = sl_embedded_schema("mysql-schema-change.json");
    if (!text)
        return sl_error_set(err, SL_INTERNAL,
                            "schema \"mysql-schema-change.json\" is not embedded");
    my_table *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    sl_arena_init(&t->arena, 8192);
    sl_arena *a = &t->arena;
    const sl_schema *parsed;
    sl_code rc = sl_schema_parse_json(text, a, &parsed, err);
    if (rc != SL_OK) {
        my_table_free(t);
        return rc;
    }
    if (parsed->nfields != SC_FIELDS - 1) {
        my_table_free(t);
        return sl_error_set(err, SL_INTERNAL, "mysql-schema-change.json has %u fields, not %d",
                            parsed->nfields, SC_FIELDS - 1);
    }
    const char *flavor = s->mariadb_connector ? "mariadb" : "mysql";
    char name[128];
    sl_field *fields = sl_arena_alloc(a, SC_FIELDS * sizeof *fields);
    fields[SC_SOURCE].name = "source";
    fields[SC_SOURCE].schema = s->source_schema;
    memcpy(fields + 1, parsed->fields, (SC_FIELDS - 1) * sizeof *fields);
    sl_schema *row = sl_arena_alloc(a, sizeof *row);
    *row = *parsed;
    snprintf(name, sizeof name, "io.debezium.connector.%s.SchemaChangeValue", flavor);
    row->name = sl_arena_strdup(a, name);
    row->nfields = SC_FIELDS;
    row->fields = fields;

    static const sl_schema db_schema = {.type = SL_TYPE_STRING};
    sl_field *kf = sl_arena_alloc(a, sizeof *kf);
    kf[0].name = "databaseName";
    kf[0].schema = &db_schema;
    sl_schema *key = sl_arena_alloc(a, sizeof *key);
    memset(key, 0, sizeof *key);
    key->type = SL_TYPE_STRUCT;
    snprintf(name, sizeof name, "io.debezium.connector.%s.SchemaChangeKey", flavor);
    key->name = sl_arena_strdup(a, name);
    key->version = 1;
    key->nfields = 1;
    key->fields = kf;
    static const uint32_t key_fields[] = {SC_DATABASE};

    t->included = true;
    t->base.topic = s->topic_prefix;
    t->base.database = "";
    t->base.name = "";
    t->base.row_schema = row;
    t->base.key_schema = key;
    t->base.nkey = 1;
    t->base.key_fields = key_fields;
    t->base.version = ++s->table_versions;
    s->schema_change_table = t;
    return SL_OK;
}

/* ---- values ---- */

static sl_value str_value(sl_arena *a, const char *s)
{
    if (!s)
        return sl_value_null();
    size_t n = strlen(s);
    return sl_value_string(sl_arena_strndup(a, s, n), (uint32_t)n);
}

static sl_value bool_value(bool b)
{
    sl_value v = {.kind = SL_VALUE_BOOL, .u.b = b};
    return v;
}

static sl_value struct_value(sl_value *items, uint32_t n)
{
    sl_value v = {.kind = SL_VALUE_STRUCT, .len = n, .u.items = items};
    return v;
}

static sl_value array_value(sl_value *items, uint32_t n)
{
    sl_value v = {.kind = SL_VALUE_ARRAY, .len = n, .u.items = items};
    return v;
}

/* java.sql.Types of a column as Debezium's MySQL DDL parser sets it. */
static int32_t jdbc_type(const my_coldef *c)
{
    static const struct {
        const char *type;
        int32_t jdbc;
    } types[] = {
        {"BIT", -7},          {"TINYINT", 5},     {"SMALLINT", 5},    {"MEDIUMINT", 4},
        {"INT", 4},           {"BIGINT", -5},     {"DECIMAL", 3},     {"FLOAT", 6},
        {"DOUBLE", 8},        {"DATE", 91},       {"TIME", 92},       {"DATETIME", 93},
        {"TIMESTAMP", 2014},  {"YEAR", 4},        {"CHAR", 1},        {"VARCHAR", 12},
        {"TINYTEXT", 12},     {"TEXT", 12},       {"MEDIUMTEXT", 12}, {"LONGTEXT", 12},
        {"BINARY", -2},       {"VARBINARY", -3},  {"TINYBLOB", 2004}, {"BLOB", 2004},
        {"MEDIUMBLOB", 2004}, {"LONGBLOB", 2004}, {"ENUM", 1},        {"SET", 1},
    };
    if (c->boolean)
        return 16;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(types[i].type, c->type) == 0)
            return types[i].jdbc;
    return 1111; /* OTHER: JSON, spatial types, VECTOR, UUID, INET */
}

static bool is_character(const my_coldef *c)
{
    static const char *const names[] = {"CHAR",       "VARCHAR",  "TINYTEXT", "TEXT",
                                        "MEDIUMTEXT", "LONGTEXT", "ENUM",     "SET"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(names[i], c->type) == 0)
            return !c->charset || strcmp(c->charset, "binary") != 0;
    return false;
}

/* The default as Debezium's parser writes it: literals unquoted, the current time as the epoch. */
static const char *default_expression(sl_arena *a, const my_coldef *c)
{
    const char *t = c->default_text;
    if (c->default_kind == MY_DEFAULT_LITERAL && t) {
        if ((t[0] == 'b' || t[0] == 'B') && t[1] == '\'') {
            size_t n = strlen(t);
            return sl_arena_strndup(a, t + 2, n >= 3 ? n - 3 : 0);
        }
        return t;
    }
    if (c->default_kind == MY_DEFAULT_EXPR && t &&
        (strncasecmp(t, "current_timestamp", 17) == 0 || strncasecmp(t, "now", 3) == 0))
        return "1970-01-01 00:00:00";
    (void)a;
    return c->default_kind == MY_DEFAULT_EXPR ? t : NULL;
}

/* One io.debezium.connector.schema.Column. */
static sl_value column_value(sl_arena *a, const my_tabledef *t, const my_coldef *c, uint32_t pos)
{
    sl_value *v = sl_arena_alloc(a, 15 * sizeof *v);
    char type[64];
    const char *base = c->boolean ? "BOOLEAN" : c->type;
    snprintf(type, sizeof type, "%s%s%s", base, c->is_unsigned ? " UNSIGNED" : "",
             c->zerofill ? " ZEROFILL" : "");
    v[0] = str_value(a, c->name);
    v[1] = sl_value_int(jdbc_type(c));
    v[2] = sl_value_null();
    v[3] = str_value(a, type);
    v[4] = str_value(a, type);
    const char *cs = is_character(c) ? (c->charset ? c->charset : t->charset) : NULL;
    v[5] = str_value(a, cs);
    v[6] = c->length >= 0 ? sl_value_int(c->length) : sl_value_null();
    v[7] = c->scale >= 0 ? sl_value_int(c->scale) : sl_value_null();
    v[8] = sl_value_int(pos);
    v[9] = bool_value(c->nullable);
    v[10] = bool_value(c->auto_increment);
    v[11] = bool_value(c->generated);
    v[12] = str_value(a, c->comment);
    v[13] = str_value(a, default_expression(a, c));
    if (c->nlabels) {
        sl_value *labels = sl_arena_alloc(a, c->nlabels * sizeof *labels);
        for (uint32_t i = 0; i < c->nlabels; i++) {
            size_t n = strlen(c->labels[i]);
            char *q = sl_arena_alloc(a, n + 3);
            q[0] = '\'';
            memcpy(q + 1, c->labels[i], n);
            q[n + 1] = '\'';
            q[n + 2] = '\0';
            labels[i] = sl_value_string(q, (uint32_t)n + 2);
        }
        v[14] = array_value(labels, c->nlabels);
    } else {
        v[14] = sl_value_null();
    }
    return struct_value(v, 15);
}

/* One io.debezium.connector.schema.Table. */
static sl_value table_value(sl_arena *a, const my_tabledef *t)
{
    sl_value *v = sl_arena_alloc(a, 4 * sizeof *v);
    v[0] = str_value(a, t->charset);
    const my_keydef *pk = my_tabledef_primary(t);
    uint32_t npk = pk ? pk->ncols : 0;
    sl_value *pkv = sl_arena_alloc(a, (npk ? npk : 1) * sizeof *pkv);
    for (uint32_t i = 0; i < npk; i++)
        pkv[i] = str_value(a, pk->cols[i]);
    v[1] = array_value(pkv, npk);
    sl_value *cols = sl_arena_alloc(a, (t->ncols ? t->ncols : 1) * sizeof *cols);
    for (uint32_t i = 0; i < t->ncols; i++)
        cols[i] = column_value(a, t, &t->cols[i], i + 1);
    v[2] = array_value(cols, t->ncols);
    v[3] = str_value(a, t->comment);
    return struct_value(v, 4);
}

sl_item *my_schema_change_push(sl_source *s, sl_batch *batch, const char *db, const char *ddl,
                               size_t ddl_len, const my_ddl_result *res, sl_value *source)
{
    my_table *t = s->schema_change_table;
    if (!t)
        return NULL;
    sl_arena *a = &batch->arena;
    sl_value *row = sl_arena_alloc(a, SC_FIELDS * sizeof *row);
    row[SC_SOURCE] = struct_value(source, MY_SRC_FIELDS);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    row[SC_TS_MS] = sl_value_int((int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    row[SC_DATABASE] = str_value(a, db ? db : "");
    row[SC_SCHEMA] = sl_value_null();

    /* Debezium writes a DROP TABLE as DROP TABLE `db`.`t`, one table at a time. */
    bool drop_only = res->neffects > 0;
    for (size_t i = 0; i < res->neffects; i++)
        drop_only &= res->effects[i].change == MY_DDL_DROPPED && !res->effects[i].renamed;
    if (drop_only && res->neffects == 1) {
        size_t n = strlen(res->effects[0].db) + strlen(res->effects[0].table) + 20;
        char *text = sl_arena_alloc(a, n);
        snprintf(text, n, "DROP TABLE `%s`.`%s`", res->effects[0].db, res->effects[0].table);
        row[SC_DDL] = sl_value_string(text, (uint32_t)strlen(text));
    } else {
        row[SC_DDL] = sl_value_string(sl_arena_strndup(a, ddl, ddl_len), (uint32_t)ddl_len);
    }

    sl_value *changes = sl_arena_alloc(a, (res->neffects ? res->neffects : 1) * sizeof *changes);
    uint32_t n = 0;
    for (size_t i = 0; i < res->neffects; i++) {
        const my_ddl_effect *e = &res->effects[i];
        if (e->change == MY_DDL_TRUNCATED || (e->change == MY_DDL_DROPPED && e->renamed) ||
            !my_table_included(s, e->db, e->table))
            continue;
        sl_value *c = sl_arena_alloc(a, 3 * sizeof *c);
        const char *kind = e->change == MY_DDL_CREATED   ? "CREATE"
                           : e->change == MY_DDL_DROPPED ? "DROP"
                                                         : "ALTER";
        c[0] = str_value(a, kind);
        size_t idn = strlen(e->db) + strlen(e->table) + 8;
        char *id = sl_arena_alloc(a, idn);
        snprintf(id, idn, "\"%s\".\"%s\"", e->db, e->table);
        c[1] = sl_value_string(id, (uint32_t)strlen(id));
        const my_tabledef *def =
            e->change == MY_DDL_DROPPED ? NULL : my_catalog_find(&s->catalog, e->db, e->table);
        c[2] = def ? table_value(a, def) : sl_value_null();
        changes[n++] = struct_value(c, 3);
    }
    row[SC_TABLE_CHANGES] = array_value(changes, n);

    sl_item *item = my_batch_push(batch, SL_ITEM_EVENT);
    sl_event *ev = &item->u.event;
    memset(ev, 0, sizeof *ev);
    ev->op = SL_OP_RECORD;
    ev->table = &t->base;
    ev->after = row;
    ev->source_schema = s->source_schema;
    ev->source = source;
    return item;
}
