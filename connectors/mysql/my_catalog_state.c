/*
 * The table definitions of the MySQL/MariaDB source stored with its
 * offsets, for servers whose binlog does not name columns
 * (binlog_row_metadata MINIMAL): there a row is decoded with the definition
 * the source followed through the binlog's DDL up to the row, and a restart
 * from a stored position needs the definitions of that position, not the
 * server's current ones (a RENAME COLUMN since would name older rows'
 * columns by their new name).
 *
 * The catalog runs ahead of the positions the pipeline acknowledges, so the
 * catalog as it was before each DDL statement is kept as text (one CREATE
 * TABLE per captured table, my_tabledef_format) with the binlog position
 * the statement ends at, until an acknowledged position passes it. The state
 * of a position is the newest of those the position is before, or the live
 * catalog. It is the JSON object {"mysql_catalog": {"complete": B,
 * "tables": [CREATE TABLE...]}}, which the offsets file keeps as "state"
 * and the Kafka store as "sluice_state", like the PostgreSQL snapshot's.
 * Another part of the source's state (a snapshot's "collections") shares
 * the object: my_catalog_state_format adds its member to an object already
 * in the buffer, and my_catalog_state_restore reads only its own member.
 *
 * complete says the catalog holds every captured table of its position:
 * true from a start at the binlog's end (every captured table's definition
 * is read then) or from a complete state. After a start from a complete
 * state, a captured table that is not in the catalog has no known
 * definition at that point of the binlog, and its rows stop the connector
 * with an error naming it (my_tables.c) rather than be decoded with
 * today's definition.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mysql/my_source_int.h"
#include "sluice/log.h"

struct my_catalog_version {
    char until_file[256]; /* the DDL statement ends here: the text is for positions before */
    uint64_t until_pos;
    char *text;
};

void my_catalog_state_init(sl_source *s)
{
    s->catalog_state = strcasecmp(s->server.row_metadata, "FULL") != 0;
}

static char *dup_text(const char *text)
{
    char *copy = strdup(text);
    if (!copy)
        abort();
    return copy;
}

/* The state text of the live catalog (malloc'ed). */
static char *format_catalog(sl_source *s)
{
    /* Formatted again only when the catalog changed: checkpoints come often, DDL rarely. */
    if (s->catalog_text && s->catalog_text_changes == s->catalog.changes &&
        s->catalog_text_complete == s->catalog_complete)
        return dup_text(s->catalog_text);
    json_t *tables = json_array();
    sl_buf text;
    sl_buf_init(&text);
    for (size_t i = 0; i < s->catalog.n; i++) {
        const my_tabledef *t = s->catalog.tables[i];
        if (!t->db || !my_table_included(s, t->db, t->name))
            continue;
        sl_buf_reset(&text);
        my_tabledef_format(t, &text);
        json_array_append_new(tables, json_stringn(text.data, text.len));
    }
    sl_buf_free(&text);
    json_t *state = json_pack("{s:{s:b, s:o}}", "mysql_catalog", "complete", s->catalog_complete,
                              "tables", tables);
    char *out = json_dumps(state, JSON_COMPACT);
    json_decref(state);
    if (!out)
        abort();
    free(s->catalog_text);
    s->catalog_text = dup_text(out);
    s->catalog_text_changes = s->catalog.changes;
    s->catalog_text_complete = s->catalog_complete;
    return out;
}

char *my_catalog_state_before_ddl(sl_source *s)
{
    return s->catalog_state ? format_catalog(s) : NULL;
}

void my_catalog_state_after_ddl(sl_source *s, char *before, bool changed)
{
    if (!before)
        return;
    if (!changed) {
        free(before);
        return;
    }
    my_catalog_version *v =
        realloc(s->catalog_versions, (s->ncatalog_versions + 1) * sizeof *s->catalog_versions);
    if (!v)
        abort();
    s->catalog_versions = v;
    v = &s->catalog_versions[s->ncatalog_versions++];
    snprintf(v->until_file, sizeof v->until_file, "%s", s->file);
    v->until_pos = s->next_pos;
    v->text = before;
}

/* Whether binlog position (file, pos) comes before the version's end. */
static bool before_version(const char *file, uint64_t pos, const my_catalog_version *v)
{
    int c = strcmp(file, v->until_file);
    return c < 0 || (c == 0 && pos < v->until_pos);
}

void my_catalog_state_ack(sl_source *s, const sl_position *pos)
{
    if (!s->ncatalog_versions)
        return;
    my_position p;
    my_position_init(&p);
    sl_error err;
    if (my_position_decode(pos, &p, &err) == SL_OK) {
        size_t drop = 0;
        while (drop < s->ncatalog_versions &&
               !before_version(p.file, p.pos, &s->catalog_versions[drop]))
            free(s->catalog_versions[drop++].text);
        memmove(s->catalog_versions, s->catalog_versions + drop,
                (s->ncatalog_versions - drop) * sizeof *s->catalog_versions);
        s->ncatalog_versions -= drop;
    }
    my_position_free(&p);
}

/*
 * Appends the state object text to out, or, when out already holds an
 * object (another part of the source's state, such as a snapshot's), adds
 * its member to that object.
 */
static void put_state(sl_buf *out, const char *text)
{
    size_t n = out->len;
    while (n > 0 && (out->data[n - 1] == ' ' || out->data[n - 1] == '\n'))
        n--;
    if (n < 2 || out->data[n - 1] != '}') {
        sl_buf_puts(out, text);
        return;
    }
    /* {...} + {"mysql_catalog":...} -> {...,"mysql_catalog":...} */
    out->len = n - 1;
    bool empty = n == 2 || out->data[n - 2] == '{';
    if (!empty)
        sl_buf_putc(out, ',');
    sl_buf_puts(out, text + 1);
}

sl_code my_catalog_state_format(sl_source *s, const sl_position *pos, sl_buf *out, sl_error *err)
{
    if (!s->catalog_state)
        return SL_OK;
    my_position p;
    my_position_init(&p);
    sl_code rc = my_position_decode(pos, &p, err);
    if (rc != SL_OK)
        return rc;
    for (size_t i = 0; i < s->ncatalog_versions; i++) {
        if (before_version(p.file, p.pos, &s->catalog_versions[i])) {
            put_state(out, s->catalog_versions[i].text);
            my_position_free(&p);
            return SL_OK;
        }
    }
    my_position_free(&p);
    char *live = format_catalog(s);
    put_state(out, live);
    free(live);
    return SL_OK;
}

sl_code my_catalog_state_restore(sl_source *s, const char *state, sl_error *err)
{
    json_error_t jerr;
    json_t *root = json_loads(state, 0, &jerr);
    json_t *cat = json_object_get(root, "mysql_catalog");
    if (!cat) {
        json_decref(root);
        return SL_OK; /* another source's state, or none of ours */
    }
    json_t *tables = json_object_get(cat, "tables");
    if (!json_is_array(tables)) {
        json_decref(root);
        return sl_error_set(err, SL_STATE, "the stored table definitions are not a list");
    }
    for (size_t i = 0; i < json_array_size(tables); i++) {
        const char *sql = json_string_value(json_array_get(tables, i));
        my_tabledef *def = NULL;
        sl_error perr;
        if (!sql || my_ddl_parse_create(sql, strlen(sql), "", 0, &def, &perr) != SL_OK) {
            json_decref(root);
            return sl_error_set(err, SL_STATE, "stored table definition %zu cannot be read: %s", i,
                                sql ? perr.msg : "not a string");
        }
        my_catalog_put(&s->catalog, def);
    }
    s->catalog_restored = true;
    s->catalog_complete = json_is_true(json_object_get(cat, "complete"));
    sl_info("restored %zu table definitions stored with the position%s", json_array_size(tables),
            s->catalog_complete ? "" : " (not every captured table's)");
    json_decref(root);
    return SL_OK;
}

bool my_catalog_state_unknown(const sl_source *s)
{
    return s->catalog_restored && s->catalog_complete &&
           strcasecmp(s->server.row_metadata, "FULL") != 0;
}

void my_catalog_state_free(sl_source *s)
{
    for (size_t i = 0; i < s->ncatalog_versions; i++)
        free(s->catalog_versions[i].text);
    free(s->catalog_versions);
    s->catalog_versions = NULL;
    s->ncatalog_versions = 0;
    free(s->catalog_text);
    s->catalog_text = NULL;
}
