/*
 * `sluice offsets show|set|reset`: what Kafka Connect's REST offsets API
 * (GET, PATCH, DELETE /connectors/<name>/offsets) does, for either store.
 * Runs on the main thread, with no pipeline running in this process; the
 * operator stops the connector first, as Connect requires.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offsets/cli.h"
#include "offsets/store.h"
#include "sluice/log.h"

/* A position or map text as JSON: an object stays one, anything else is a string. */
static json_t *as_json(const char *text)
{
    json_t *v = text[0] == '{' ? json_loads(text, 0, NULL) : NULL;
    return v ? v : json_string(text);
}

/*
 * Prints one connector's stored position as a JSON line: the store, the
 * position and state, and Kafka Connect's offset for them (as stored in the
 * offsets topic, or as it would be).
 */
sl_code sl_offsets_show(const sl_connector *c, FILE *out, sl_error *err)
{
    sl_offset_store *st;
    sl_code rc = sl_offset_store_open(c->cfg, c->source, false, &st, err);
    if (rc != SL_OK)
        return rc;
    sl_buf position, state, stored, map;
    sl_buf_init(&position);
    sl_buf_init(&state);
    sl_buf_init(&stored);
    sl_buf_init(&map);
    bool found = false;
    rc = sl_offset_store_read(st, &position, &state, &found, &stored, err);
    json_t *line = json_pack("{s:s, s:s, s:s}", "name", sl_config_name(c->cfg), "store",
                             st->ops->name, "where", sl_offset_store_where(st));
    if (rc == SL_OK && found) {
        json_object_set_new(line, "position", as_json(sl_buf_cstr(&position)));
        if (state.len)
            json_object_set_new(line, "state", as_json(sl_buf_cstr(&state)));
        if (st->ops == &sl_offset_store_kafka) {
            json_object_set_new(line, "offset", as_json(sl_buf_cstr(&stored)));
        } else if (c->source->connect_offset_format &&
                   c->source->connect_offset_format(sl_buf_cstr(&position), sl_buf_cstr(&state),
                                                    &map, err) == SL_OK) {
            json_object_set_new(line, "offset", as_json(sl_buf_cstr(&map)));
        }
        json_object_set_new(line, "partition",
                            json_pack("{s:s}", "server", sl_config_str(c->cfg, "topic.prefix")));
    } else if (rc == SL_OK) {
        json_object_set_new(line, "position", json_null());
    }
    if (rc == SL_OK) {
        char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(out, "%s\n", text);
        free(text);
    }
    json_decref(line);
    sl_buf_free(&position);
    sl_buf_free(&state);
    sl_buf_free(&stored);
    sl_buf_free(&map);
    sl_offset_store_close(st);
    return rc;
}

/*
 * Whether text is certainly a Kafka Connect offset map rather than a
 * position text: an object with a member only maps have (sluice's own
 * sluice_* members, Debezium's "snapshot"). A MySQL position text and
 * Debezium's MySQL map share their other members, and reading such a map
 * as a position would drop those.
 */
static bool is_connect_map(const char *text)
{
    json_t *o = text[0] == '{' ? json_loads(text, 0, NULL) : NULL;
    bool map = false;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (strncmp(k, "sluice_", 7) == 0 || strcmp(k, "snapshot") == 0)
            map = true;
    }
    json_decref(o);
    return map;
}

/*
 * Turns what an operator typed into a position and state: the source's own
 * position text (what `offsets show` prints as "position", or a bare LSN),
 * or a Kafka Connect offset map of Debezium's connector.
 */
static sl_code parse_input(const sl_connector *c, const char *text, sl_buf *position, sl_buf *state,
                           sl_error *err)
{
    sl_position pos;
    sl_error perr = {0};
    bool map = c->source->connect_offset_parse && is_connect_map(text);
    if (!map && c->source->position_parse(text, &pos, &perr) == SL_OK) {
        char formatted[4096];
        sl_code rc = c->source->position_format(&pos, formatted, sizeof formatted, err);
        if (rc == SL_OK)
            sl_buf_puts(position, formatted);
        return rc;
    }
    if (text[0] == '{' && c->source->connect_offset_parse) {
        bool found = false;
        sl_error cerr;
        sl_code rc = c->source->connect_offset_parse(text, position, state, &found, &cerr);
        if (rc == SL_OK && !found)
            return sl_error_set(err, SL_CONFIG,
                                "the offset holds no position to resume from (an unfinished "
                                "snapshot): use reset instead");
        if (rc != SL_OK && map)
            return sl_error_set(err, SL_CONFIG, "not a Kafka Connect offset: %s", cerr.msg);
        if (rc != SL_OK)
            return sl_error_set(err, SL_CONFIG,
                                "neither a position (%s) nor a Kafka Connect offset (%s)", perr.msg,
                                cerr.msg);
        return SL_OK;
    }
    return sl_error_set(err, SL_CONFIG, "%s", perr.msg);
}

sl_code sl_offsets_set(const sl_connector *c, const char *text, FILE *out, sl_error *err)
{
    sl_buf position, state;
    sl_buf_init(&position);
    sl_buf_init(&state);
    sl_code rc = parse_input(c, text, &position, &state, err);
    sl_offset_store *st = NULL;
    if (rc == SL_OK)
        rc = sl_offset_store_open(c->cfg, c->source, true, &st, err);
    if (rc == SL_OK)
        rc = sl_offset_store_write(st, sl_buf_cstr(&position), sl_buf_cstr(&state), err);
    if (rc == SL_OK)
        sl_info("stored %s in %s", sl_buf_cstr(&position), sl_offset_store_where(st));
    sl_offset_store_close(st);
    sl_buf_free(&position);
    sl_buf_free(&state);
    return rc == SL_OK ? sl_offsets_show(c, out, err) : rc;
}

sl_code sl_offsets_reset(const sl_connector *c, sl_error *err)
{
    sl_offset_store *st;
    sl_code rc = sl_offset_store_open(c->cfg, c->source, false, &st, err);
    if (rc != SL_OK)
        return rc;
    rc = sl_offset_store_reset(st, err);
    if (rc == SL_OK)
        sl_info("reset %s: the next start is a first one", sl_offset_store_where(st));
    sl_offset_store_close(st);
    return rc;
}
