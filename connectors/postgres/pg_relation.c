/*
 * Tables of the PostgreSQL source (pg_source_int.h): a pg_table per version
 * of a relation, built from its Relation message (with what the catalog adds),
 * and the map from relation OID to the current version. A version that a new
 * Relation message replaces is retired, and freed at the next poll, once the
 * pipeline has encoded the events that point to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres/pg_catalog.h"
#include "postgres/pg_source_int.h"
#include "sluice/log.h"
#include "sluice/schema.h"
#include "sluice/topic.h"

void pg_table_free(pg_table *t)
{
    if (!t)
        return;
    sl_table_drop_cache(&t->base);
    sl_arena_destroy(&t->arena);
    free(t);
}

pg_table *pg_relmap_get(sl_source *s, uint32_t relid)
{
    if (!s->relmap_cap)
        return NULL;
    size_t i = (relid * 2654435761u) & (s->relmap_cap - 1);
    while (s->relmap[i].relid) {
        if (s->relmap[i].relid == relid)
            return s->relmap[i].table;
        i = (i + 1) & (s->relmap_cap - 1);
    }
    return NULL;
}

static void relmap_put_raw(relmap_entry *map, size_t cap, uint32_t relid, pg_table *t)
{
    size_t i = (relid * 2654435761u) & (cap - 1);
    while (map[i].relid && map[i].relid != relid)
        i = (i + 1) & (cap - 1);
    map[i].relid = relid;
    map[i].table = t;
}

/* Stores t for relid; a table it replaces is retired until the next poll. */
void pg_relmap_put(sl_source *s, uint32_t relid, pg_table *t)
{
    pg_table *old = pg_relmap_get(s, relid);
    if (old) {
        old->next_retired = s->retired;
        s->retired = old;
        relmap_put_raw(s->relmap, s->relmap_cap, relid, t);
        return;
    }
    if ((s->relmap_count + 1) * 2 > s->relmap_cap) {
        size_t cap = s->relmap_cap ? s->relmap_cap * 2 : 64;
        relmap_entry *map = calloc(cap, sizeof *map);
        if (!map)
            abort();
        for (size_t i = 0; i < s->relmap_cap; i++)
            if (s->relmap[i].relid)
                relmap_put_raw(map, cap, s->relmap[i].relid, s->relmap[i].table);
        free(s->relmap);
        s->relmap = map;
        s->relmap_cap = cap;
    }
    relmap_put_raw(s->relmap, s->relmap_cap, relid, t);
    s->relmap_count++;
}

void pg_relmap_free_retired(sl_source *s)
{
    while (s->retired) {
        pg_table *t = s->retired;
        s->retired = t->next_retired;
        pg_table_free(t);
    }
}

/*
 * Forgets every table. They are retired rather than freed: events of the
 * batch being filled may still point to them.
 */
void pg_relmap_clear(sl_source *s)
{
    for (size_t i = 0; i < s->relmap_cap; i++) {
        if (s->relmap[i].relid) {
            pg_table *t = s->relmap[i].table;
            t->next_retired = s->retired;
            s->retired = t;
        }
    }
    free(s->relmap);
    s->relmap = NULL;
    s->relmap_cap = s->relmap_count = 0;
}

bool pg_table_included(sl_source *s, const char *nsp, const char *rel)
{
    if (!sl_config_has(s->cfg, "schema.include.list") &&
        (strcmp(nsp, "pg_catalog") == 0 || strcmp(nsp, "information_schema") == 0))
        return false;
    if (!sl_filter_match(s->schema_filter, nsp))
        return false;
    char full[256];
    snprintf(full, sizeof full, "%s.%s", nsp, rel);
    return sl_filter_match(s->table_filter, full);
}

/* ---- enum labels ---- */

struct pg_enum_labels {
    uint32_t oid;
    char *labels; /* comma-joined, in enumsortorder */
};

static void enum_put(sl_source *s, uint32_t oid, const char *labels)
{
    if (s->nenums == s->enums_cap) {
        size_t cap = s->enums_cap ? s->enums_cap * 2 : 16;
        struct pg_enum_labels *e = realloc(s->enums, cap * sizeof *e);
        if (!e)
            abort();
        s->enums = e;
        s->enums_cap = cap;
    }
    char *copy = strdup(labels);
    if (!copy)
        abort();
    s->enums[s->nenums++] = (struct pg_enum_labels){.oid = oid, .labels = copy};
}

void pg_enum_forget(sl_source *s)
{
    for (size_t i = 0; i < s->nenums; i++)
        free(s->enums[i].labels);
    free(s->enums);
    s->enums = NULL;
    s->nenums = s->enums_cap = 0;
}

sl_code pg_enum_prime(sl_source *s, sl_error *err)
{
    pg_enum_forget(s);
    pg_wait w = pg_conn_catalog_wait(s);
    PGresult *res;
    sl_code rc = pg_exec(s->catalog,
                         "SELECT enumtypid, string_agg(enumlabel, ',' ORDER BY enumsortorder) "
                         "FROM pg_catalog.pg_enum GROUP BY enumtypid",
                         0, NULL, &w, &res, err);
    if (rc != SL_OK)
        return sl_error_prefix(err, "could not read the enum types");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = sl_error_set(err, PQstatus(s->catalog) == CONNECTION_OK ? SL_SOURCE : SL_CONNECT,
                          "could not read the enum types: %s", pg_message(res, s->catalog));
        PQclear(res);
        return rc;
    }
    for (int r = 0; r < PQntuples(res); r++)
        enum_put(s, (uint32_t)strtoul(PQgetvalue(res, r, 0), NULL, 10), PQgetvalue(res, r, 1));
    PQclear(res);
    return SL_OK;
}

/* Gives an enum type (and the enums under arrays and domains) the labels of the stream's start. */
static void enum_labels_of_stream(sl_source *s, pg_type_desc *d, sl_arena *arena, int depth)
{
    if (!d || depth > 8)
        return;
    if (d->typtype == 'e' && d->enum_labels) {
        size_t i = 0;
        while (i < s->nenums && s->enums[i].oid != d->oid)
            i++;
        if (i == s->nenums)
            enum_put(s, d->oid, d->enum_labels); /* new since the stream started */
        else
            d->enum_labels = sl_arena_strdup(arena, s->enums[i].labels);
    }
    enum_labels_of_stream(s, (pg_type_desc *)d->elem, arena, depth + 1);
    enum_labels_of_stream(s, (pg_type_desc *)d->base, arena, depth + 1);
}

uint32_t pg_key_columns(const pgo_message *m, const pg_relation_info *info, uint32_t *out)
{
    uint16_t n = m->u.relation.ncols;
    const pgo_relation_column *cols = m->u.relation.cols;
    uint32_t nident = 0, npk = 0;
    for (uint16_t i = 0; i < n; i++)
        if (cols[i].flags & 1)
            nident++;
    /* The primary key's columns, in key order, when the catalog knows them all. */
    uint32_t *pk = out;
    for (uint32_t k = 0; k < info->npk; k++) {
        uint16_t i = 0;
        while (i < n && strcmp(cols[i].name, info->pk[k]) != 0)
            i++;
        if (i == n) {
            npk = 0;
            break;
        }
        pk[npk++] = i;
    }
    if (m->u.relation.replident == 'f' || nident == 0)
        return npk; /* the old tuple has every column, or there is none: the primary key */
    /* The primary key when it is the replica identity, in its own order; else the identity. */
    bool same = npk == nident;
    for (uint32_t k = 0; k < npk && same; k++)
        same = (cols[pk[k]].flags & 1) != 0;
    if (same)
        return npk;
    uint32_t nkey = 0;
    for (uint16_t i = 0; i < n; i++)
        if (cols[i].flags & 1)
            out[nkey++] = i;
    return nkey;
}

/*
 * Builds the table for a Relation message. The message is the truth about
 * the WAL being decoded: column names, types, the replica identity. The
 * catalog of today only adds what the message does not say (nullability,
 * defaults, comments, the primary key, enum labels); when it no longer knows
 * the table or a type (dropped since), the table degrades to nullable
 * columns without defaults and the type to its text form.
 */
sl_code pg_table_build(sl_source *s, const pgo_message *m, pg_table **out, sl_error *err)
{
    pg_table *t = calloc(1, sizeof *t);
    if (!t)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    sl_arena_init(&t->arena, 8192);
    t->relid = m->u.relation.oid;
    const char *nsp = m->u.relation.nspname[0] ? m->u.relation.nspname : "pg_catalog";
    const char *rel = m->u.relation.relname;
    t->included = pg_table_included(s, nsp, rel);
    t->is_signal = pg_snap_is_signal_table(s, nsp, rel);
    t->base.schema_name = sl_arena_strdup(&t->arena, nsp);
    t->base.name = sl_arena_strdup(&t->arena, rel);
    t->base.database = s->dbname;
    t->base.version = ++s->table_versions;
    /* The signal table is described even when not captured: its inserts are read. */
    if (!t->included && !t->is_signal) {
        *out = t;
        return SL_OK;
    }

    size_t tlen = strlen(s->topic_prefix) + strlen(nsp) + strlen(rel) + 3;
    char *topic = sl_arena_alloc(&t->arena, tlen);
    snprintf(topic, tlen, "%s.%s.%s", s->topic_prefix, nsp, rel);
    sl_topic_sanitize(topic);
    t->base.topic = topic;

    pg_wait w = pg_conn_catalog_wait(s);
    sl_code rc = pg_conn_catalog(s, err);
    pg_relation_info info;
    if (rc == SL_OK)
        rc = pg_catalog_relation(s->catalog, t->relid, &w, &t->arena, &info, err);
    uint16_t n = m->u.relation.ncols;
    const pg_type_desc **types = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *types);
    uint32_t *oids = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *oids);
    for (uint16_t i = 0; i < n; i++)
        oids[i] = m->u.relation.cols[i].type_oid;
    if (rc == SL_OK && n > 0)
        rc = pg_catalog_types(s->catalog, oids, n, &w, &t->arena, types, err);
    if (rc != SL_OK) {
        pg_table_free(t);
        return sl_error_prefix(err, "table \"%s.%s\"", nsp, rel);
    }
    for (uint16_t i = 0; i < n; i++)
        enum_labels_of_stream(s, (pg_type_desc *)types[i], &t->arena, 0);
    if (info.ncols == 0 && n > 0)
        sl_warn("table \"%s.%s\" (relation %u) is no longer in the catalog: its columns are taken "
                "as nullable and without defaults, its key from its replica identity",
                nsp, rel, t->relid);
    bool *dropped = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *dropped);
    for (uint16_t i = 0; i < n; i++) {
        dropped[i] = !types[i];
        if (types[i])
            continue;
        /* A type dropped since (an enum replaced by text, say): the value's text form. */
        sl_warn("table \"%s.%s\", column \"%s\": type %u is no longer in the catalog; its values "
                "are emitted as text",
                nsp, rel, m->u.relation.cols[i].name, oids[i]);
        pg_type_desc *d = sl_arena_alloc(&t->arena, sizeof *d);
        memset(d, 0, sizeof *d);
        d->oid = oids[i];
        d->name = "unknown";
        d->typtype = 'b';
        d->typcategory = 'U';
        types[i] = d;
    }

    t->ncols = n;
    t->convs = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *t->convs);
    t->plans = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *t->plans);
    t->field_of = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *t->field_of);
    t->col_names = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *t->col_names);
    t->is_key = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *t->is_key);
    t->not_null = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *t->not_null);
    uint32_t *key_cols = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *key_cols);
    uint32_t nkey = pg_key_columns(m, &info, key_cols);
    t->key_cols = key_cols;
    t->nkey_cols = nkey;
    if (nkey == 0 && m->u.relation.replident == 'f' && info.ncols == 0 && n > 0)
        sl_warn("table \"%s.%s\": REPLICA IDENTITY FULL and no catalog to name its primary key: "
                "its events have no key",
                nsp, rel);
    memset(t->is_key, 0, (n ? n : 1) * sizeof *t->is_key);
    for (uint32_t k = 0; k < nkey; k++)
        t->is_key[key_cols[k]] = true;

    /* Column filters and transforms (transforms.h), matched against schema.table.column. */
    char table_id[256];
    snprintf(table_id, sizeof table_id, "%s.%s", nsp, rel);
    sl_field *fields = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *fields);
    /* The fields' schemas without the transforms' parameters: Debezium's keys have none. */
    const sl_schema **plain = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *plain);
    uint32_t nfields = 0;
    for (uint16_t i = 0; i < n; i++) {
        const pgo_relation_column *c = &m->u.relation.cols[i];
        t->col_names[i] = sl_arena_strdup(&t->arena, c->name);
        const pg_catalog_column *cat = NULL;
        for (uint32_t j = 0; j < info.ncols; j++)
            if (strcmp(info.cols[j].name, c->name) == 0)
                cat = &info.cols[j];
        sl_column_desc desc = {.name = c->name,
                               .type_name = types[i]->name,
                               .comment = cat ? cat->comment : NULL,
                               .character = pg_column_is_character(types[i])};
        pg_column_length(types[i], c->typmod, &desc.length, &desc.scale);
        sl_transforms_column(s->transforms, table_id, &desc, &t->arena, &t->plans[i]);
        bool optional = !t->is_key[i] && !(cat && cat->not_null);
        t->not_null[i] = !optional;
        const sl_schema *schema;
        rc = pg_column_schema(types[i], c->typmod, optional, cat ? cat->default_expr : NULL,
                              cat && s->include_comments ? cat->comment : NULL, &s->type_opts,
                              &t->arena, &schema, &t->convs[i], err);
        if (rc != SL_OK) {
            pg_table_free(t);
            return sl_error_prefix(err, "table \"%s.%s\", column \"%s\"", nsp, rel, c->name);
        }
        /*
         * A dropped type has no mapping, but its column had one when the
         * change was made: its values go on as text (the warning above)
         * rather than vanishing as a type Debezium does not map would.
         */
        if (dropped[i])
            t->convs[i].omitted = false;
        /*
         * Left out: by the column filters, or (as Debezium does) a type
         * Debezium does not map, unless include.unknown.datatypes is set.
         */
        if (t->plans[i].excluded || t->convs[i].omitted) {
            t->field_of[i] = -1;
            continue;
        }
        t->field_of[i] = (int32_t)nfields;
        fields[nfields].name = sl_arena_strdup(&t->arena, c->name);
        fields[nfields].schema = sl_transforms_schema(schema, &t->plans[i], &t->arena);
        plain[nfields] = schema;
        nfields++;
    }

    /* The key as fields: message.key.columns may name other columns than the table's key. */
    const char **names = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *names);
    for (uint16_t i = 0; i < n; i++)
        names[i] = m->u.relation.cols[i].name;
    uint32_t *chosen = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *chosen);
    int nchosen = sl_transforms_key(s->transforms, table_id, names, n, chosen);
    const uint32_t *key_src = nchosen >= 0 ? chosen : key_cols;
    uint32_t nkey_src = nchosen >= 0 ? (uint32_t)nchosen : nkey;
    uint32_t *key_fields = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *key_fields);
    nkey = 0;
    for (uint32_t k = 0; k < nkey_src; k++)
        if (t->field_of[key_src[k]] >= 0)
            key_fields[nkey++] = (uint32_t)t->field_of[key_src[k]];

    size_t nlen = strlen(topic) + 16;
    sl_schema *row = sl_arena_alloc(&t->arena, sizeof *row);
    memset(row, 0, sizeof *row);
    row->type = SL_TYPE_STRUCT;
    row->optional = true;
    char *row_name = sl_arena_alloc(&t->arena, nlen);
    snprintf(row_name, nlen, "%s.Value", topic);
    row->name = row_name;
    row->nfields = nfields;
    row->fields = fields;
    t->base.row_schema = row;

    if (nkey > 0) {
        sl_schema *key = sl_arena_alloc(&t->arena, sizeof *key);
        memset(key, 0, sizeof *key);
        key->type = SL_TYPE_STRUCT;
        key->optional = false;
        char *key_name = sl_arena_alloc(&t->arena, nlen);
        snprintf(key_name, nlen, "%s.Key", topic);
        key->name = key_name;
        sl_field *kf = sl_arena_alloc(&t->arena, nkey * sizeof *kf);
        for (uint32_t k = 0; k < nkey; k++) {
            kf[k] = fields[key_fields[k]];
            kf[k].schema = plain[key_fields[k]];
        }
        key->fields = kf;
        key->nfields = nkey;
        t->base.key_schema = key;
        t->base.key_fields = key_fields;
        t->base.nkey = nkey;
    }
    *out = t;
    return SL_OK;
}

/* The pseudo-table of logical decoding messages: topic <prefix>.message, keyed by prefix. */
sl_code pg_message_table_build(sl_source *s, sl_error *err)
{
    pg_table *t = calloc(1, sizeof *t);
    if (!t)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    sl_arena_init(&t->arena, 4096);
    t->included = true;
    size_t n = strlen(s->topic_prefix) + sizeof ".message";
    char *topic = sl_arena_alloc(&t->arena, n);
    snprintf(topic, n, "%s.message", s->topic_prefix);
    t->base.topic = topic;
    t->base.database = s->dbname;
    t->base.schema_name = "";
    t->base.name = "";
    t->base.version = ++s->table_versions;
    t->base.message_envelope = "io.debezium.connector.postgresql.MessageValue";
    static const uint32_t key_fields[1] = {0};
    t->base.key_fields = key_fields;
    t->base.nkey = 1;
    sl_code rc = sl_schema_parse_json(sl_embedded_schema("postgres-message.json"), &t->arena,
                                      &t->base.row_schema, err);
    if (rc == SL_OK && s->type_opts.binary != PG_BINARY_BYTES) {
        /* binary.handling.mode applies to the content too: a string of the encoded bytes. */
        sl_schema *row = sl_arena_alloc(&t->arena, sizeof *row);
        *row = *t->base.row_schema;
        sl_field *fields = sl_arena_alloc(&t->arena, row->nfields * sizeof *fields);
        memcpy(fields, row->fields, row->nfields * sizeof *fields);
        sl_schema *content = sl_dbz_binary_schema(&t->arena, s->type_opts.binary);
        content->optional = true;
        fields[1].schema = content;
        row->fields = fields;
        t->base.row_schema = row;
    }
    if (rc == SL_OK)
        rc = sl_schema_parse_json(sl_embedded_schema("postgres-message-key.json"), &t->arena,
                                  &t->base.key_schema, err);
    if (rc != SL_OK) {
        pg_table_free(t);
        return rc;
    }
    s->message_table = t;
    return SL_OK;
}
