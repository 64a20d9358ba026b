/*
 * Row events and row images (my_rows.h). An image is a null bitmap (one
 * bit per column present in the image, lowest bit first) followed by the
 * values of the present, non-null columns in column order.
 */
#include <stdlib.h>
#include <string.h>

#include "mysql/my_json.h"
#include "mysql/my_rows.h"

bool my_rows_is_rows_event(uint8_t type)
{
    return (type >= MY_EV_WRITE_ROWS_V1 && type <= MY_EV_DELETE_ROWS_V1) ||
           (type >= MY_EV_WRITE_ROWS && type <= MY_EV_DELETE_ROWS) ||
           type == MY_EV_PARTIAL_UPDATE_ROWS;
}

static sl_code bad_rows(sl_error *err, const my_binlog_event *ev, const char *what)
{
    return sl_error_set(err, SL_PROTOCOL, "malformed %s event at end position %u: %s",
                        my_event_type_name(ev->type), ev->log_pos, what);
}

sl_code my_rows_parse(const my_binlog_format *fmt, const my_binlog_event *ev, my_rows_event *out,
                      sl_error *err)
{
    memset(out, 0, sizeof *out);
    switch (ev->type) {
    case MY_EV_WRITE_ROWS_V1:
    case MY_EV_WRITE_ROWS:
        out->kind = MY_ROWS_WRITE;
        break;
    case MY_EV_UPDATE_ROWS_V1:
    case MY_EV_UPDATE_ROWS:
        out->kind = MY_ROWS_UPDATE;
        break;
    case MY_EV_PARTIAL_UPDATE_ROWS:
        out->kind = MY_ROWS_UPDATE;
        out->partial = true;
        break;
    case MY_EV_DELETE_ROWS_V1:
    case MY_EV_DELETE_ROWS:
        out->kind = MY_ROWS_DELETE;
        break;
    default:
        return bad_rows(err, ev, "not a row event");
    }
    out->version = ev->type <= MY_EV_DELETE_ROWS_V1 ? 1 : 2;
    size_t ph = fmt->post_header[ev->type];
    my_reader r;
    my_reader_init(&r, ev->body, ev->body_len);
    out->table_id = my_reader_uint(&r, ph == 6 ? 4 : 6);
    out->flags = (uint16_t)my_reader_uint(&r, 2);
    if (out->version == 2) {
        size_t extra = (size_t)my_reader_uint(&r, 2);
        if (r.failed || extra < 2)
            return bad_rows(err, ev, "extra data length below 2");
        out->extra_len = extra - 2;
        out->extra = my_reader_take(&r, out->extra_len);
    }
    uint64_t ncols = my_reader_packed(&r);
    if (r.failed || ncols == 0 || ncols > 4096)
        return bad_rows(err, ev, "invalid column count");
    out->ncols = (uint32_t)ncols;
    size_t bitmap = (size_t)(ncols + 7) / 8;
    out->cols = my_reader_take(&r, bitmap);
    out->cols_after = out->kind == MY_ROWS_UPDATE ? my_reader_take(&r, bitmap) : out->cols;
    if (r.failed)
        return bad_rows(err, ev, "truncated column bitmaps");
    out->rows = r.p;
    out->rows_len = my_reader_left(&r);
    return SL_OK;
}

void my_row_decoder_init(my_row_decoder *d)
{
    memset(d, 0, sizeof *d);
    sl_buf_init(&d->scratch);
    sl_arena_init(&d->json_arena, 0);
}

void my_row_decoder_free(my_row_decoder *d)
{
    sl_buf_free(&d->scratch);
    sl_arena_destroy(&d->json_arena);
    free(d->json_before);
    free(d->json_before_len);
    memset(d, 0, sizeof *d);
}

void my_row_decoder_table(my_row_decoder *d, const my_converter *convs, uint32_t ncols)
{
    d->convs = convs;
    d->ncols = ncols;
    if (ncols > d->json_cap) {
        /* Grows once per wider table, never per row. */
        free(d->json_before);
        free(d->json_before_len);
        d->json_before = calloc(ncols, sizeof *d->json_before);
        d->json_before_len = calloc(ncols, sizeof *d->json_before_len);
        if (!d->json_before || !d->json_before_len)
            abort();
        d->json_cap = ncols;
    }
}

static inline bool bit(const uint8_t *map, uint32_t i)
{
    return (map[i / 8] >> (i % 8)) & 1;
}

static void note_problem(my_row_decoder *d, uint32_t col, const sl_error *e)
{
    if (d->problems++ == 0) {
        d->problem_column = col;
        d->problem = *e;
    }
}

/* Reads one image at r into values (NULL: the values are read and dropped). */
static sl_code read_image(my_row_decoder *d, my_reader *r, const uint8_t *cols,
                          const uint8_t *partial_bits, bool before_image, sl_arena *arena,
                          sl_value *values, sl_error *err)
{
    uint32_t present = 0;
    for (uint32_t i = 0; i < d->ncols; i++)
        present += bit(cols, i);
    const uint8_t *nulls = my_reader_take(r, (present + 7) / 8);
    if (!nulls)
        return sl_error_set(err, SL_PROTOCOL, "row image ends inside its null bitmap");
    uint32_t k = 0, json = 0;
    for (uint32_t i = 0; i < d->ncols; i++) {
        const my_converter *c = &d->convs[i];
        bool is_json = c->type == MY_TYPE_JSON;
        bool partial = is_json && partial_bits && bit(partial_bits, json);
        json += is_json;
        if (before_image && is_json)
            d->json_before[i] = NULL;
        if (!bit(cols, i)) {
            if (values)
                values[i].kind = SL_VALUE_ABSENT;
            continue;
        }
        bool null = bit(nulls, k++);
        if (null) {
            if (values)
                memset(&values[i], 0, sizeof values[i]);
            continue;
        }
        size_t left = my_reader_left(r);
        size_t used;
        sl_code rc;
        if (partial) {
            /* The after image holds diffs against the before image's document. */
            rc = my_value_size(c, r->p, left, &used, err);
            if (rc != SL_OK)
                return rc;
            size_t prefix = c->prefix;
            const uint8_t *base = d->json_before[i];
            if (values) {
                sl_error perr;
                sl_value *v = &values[i];
                memset(v, 0, sizeof *v);
                if (!base) {
                    v->kind = SL_VALUE_ABSENT;
                    sl_error_set(&perr, SL_INVALID,
                                 "partial JSON update without its document in the before image "
                                 "(binlog_row_image=FULL is needed)");
                    note_problem(d, i, &perr);
                } else {
                    sl_arena_reset(&d->json_arena);
                    sl_buf_reset(&d->scratch);
                    if (my_json_apply_diffs(base, d->json_before_len[i], r->p + prefix,
                                            used - prefix, &d->json_arena, &d->scratch,
                                            &perr) == SL_OK) {
                        char *s = sl_arena_strndup(arena, d->scratch.len ? d->scratch.data : "",
                                                   d->scratch.len);
                        v->kind = SL_VALUE_STRING;
                        v->len = (uint32_t)d->scratch.len;
                        v->u.str = s;
                    } else {
                        note_problem(d, i, &perr);
                    }
                }
            }
            my_reader_take(r, used);
            continue;
        }
        if (is_json && before_image) {
            rc = my_value_size(c, r->p, left, &used, err);
            if (rc != SL_OK)
                return rc;
            d->json_before[i] = r->p + c->prefix;
            d->json_before_len[i] = used - c->prefix;
        }
        if (!values) {
            rc = my_value_size(c, r->p, left, &used, err);
            if (rc != SL_OK)
                return rc;
            my_reader_take(r, used);
            continue;
        }
        sl_error verr;
        rc = my_convert_value(c, r->p, left, &used, arena, &d->scratch, &values[i], &verr);
        if (rc == SL_INVALID) {
            memset(&values[i], 0, sizeof values[i]);
            note_problem(d, i, &verr);
        } else if (rc != SL_OK) {
            *err = verr;
            return rc;
        }
        my_reader_take(r, used);
    }
    return SL_OK;
}

sl_code my_rows_next(my_row_decoder *d, const my_rows_event *ev, size_t *pos, sl_arena *arena,
                     sl_value *before, sl_value *after, bool *done, sl_error *err)
{
    *done = false;
    d->problems = 0;
    if (*pos >= ev->rows_len) {
        *done = true;
        return SL_OK;
    }
    if (!d->convs || ev->ncols != d->ncols)
        return sl_error_set(err, SL_PROTOCOL,
                            "row event for table id %llu has %u columns, its table map %u",
                            (unsigned long long)ev->table_id, ev->ncols, d->ncols);
    my_reader r;
    my_reader_init(&r, ev->rows + *pos, ev->rows_len - *pos);
    sl_code rc;
    if (ev->kind != MY_ROWS_WRITE) {
        rc = read_image(d, &r, ev->cols, NULL, true, arena, before, err);
        if (rc != SL_OK)
            return rc;
    }
    if (ev->kind != MY_ROWS_DELETE) {
        const uint8_t *partial_bits = NULL;
        if (ev->partial) {
            /* The shared image: value options, then one bit per JSON column of the table. */
            uint64_t options = my_reader_packed(&r);
            if (options & 1) {
                uint32_t njson = 0;
                for (uint32_t i = 0; i < d->ncols; i++)
                    njson += d->convs[i].type == MY_TYPE_JSON;
                partial_bits = my_reader_take(&r, (njson + 7) / 8);
            }
            if (r.failed)
                return sl_error_set(err, SL_PROTOCOL, "row ends inside its shared image");
        }
        rc = read_image(d, &r, ev->cols_after, partial_bits, false, arena, after, err);
        if (rc != SL_OK)
            return rc;
    }
    size_t next = ev->rows_len - my_reader_left(&r);
    if (next == *pos)
        return sl_error_set(err, SL_PROTOCOL, "row event for table id %llu has an empty row image",
                            (unsigned long long)ev->table_id);
    *pos = next;
    return SL_OK;
}
