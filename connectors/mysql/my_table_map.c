/*
 * TABLE_MAP events and their optional metadata (my_table_map.h).
 */
#include <string.h>

#include "mysql/my_table_map.h"

static sl_code bad_map(sl_error *err, const my_table_map *m, const char *what)
{
    if (m->table)
        return sl_error_set(err, SL_PROTOCOL, "malformed Table_map event for table \"%s.%s\": %s",
                            m->db, m->table, what);
    return sl_error_set(err, SL_PROTOCOL, "malformed Table_map event: %s", what);
}

const char *my_column_type_name(uint8_t type)
{
    switch (type) {
    case MY_TYPE_DECIMAL:
        return "DECIMAL";
    case MY_TYPE_TINY:
        return "TINY";
    case MY_TYPE_SHORT:
        return "SHORT";
    case MY_TYPE_LONG:
        return "LONG";
    case MY_TYPE_FLOAT:
        return "FLOAT";
    case MY_TYPE_DOUBLE:
        return "DOUBLE";
    case MY_TYPE_NULL:
        return "NULL";
    case MY_TYPE_TIMESTAMP:
        return "TIMESTAMP";
    case MY_TYPE_LONGLONG:
        return "LONGLONG";
    case MY_TYPE_INT24:
        return "INT24";
    case MY_TYPE_DATE:
        return "DATE";
    case MY_TYPE_TIME:
        return "TIME";
    case MY_TYPE_DATETIME:
        return "DATETIME";
    case MY_TYPE_YEAR:
        return "YEAR";
    case MY_TYPE_NEWDATE:
        return "NEWDATE";
    case MY_TYPE_VARCHAR:
        return "VARCHAR";
    case MY_TYPE_BIT:
        return "BIT";
    case MY_TYPE_TIMESTAMP2:
        return "TIMESTAMP2";
    case MY_TYPE_DATETIME2:
        return "DATETIME2";
    case MY_TYPE_TIME2:
        return "TIME2";
    case MY_TYPE_TYPED_ARRAY:
        return "TYPED_ARRAY";
    case MY_TYPE_VECTOR:
        return "VECTOR";
    case MY_TYPE_JSON:
        return "JSON";
    case MY_TYPE_NEWDECIMAL:
        return "NEWDECIMAL";
    case MY_TYPE_ENUM:
        return "ENUM";
    case MY_TYPE_SET:
        return "SET";
    case MY_TYPE_TINY_BLOB:
        return "TINY_BLOB";
    case MY_TYPE_MEDIUM_BLOB:
        return "MEDIUM_BLOB";
    case MY_TYPE_LONG_BLOB:
        return "LONG_BLOB";
    case MY_TYPE_BLOB:
        return "BLOB";
    case MY_TYPE_VAR_STRING:
        return "VAR_STRING";
    case MY_TYPE_STRING:
        return "STRING";
    case MY_TYPE_GEOMETRY:
        return "GEOMETRY";
    default:
        return "UNKNOWN";
    }
}

bool my_type_is_numeric(uint8_t t)
{
    switch (t) {
    case MY_TYPE_TINY:
    case MY_TYPE_SHORT:
    case MY_TYPE_INT24:
    case MY_TYPE_LONG:
    case MY_TYPE_LONGLONG:
    case MY_TYPE_DECIMAL:
    case MY_TYPE_NEWDECIMAL:
    case MY_TYPE_FLOAT:
    case MY_TYPE_DOUBLE:
    case MY_TYPE_YEAR:
        return true;
    default:
        return false;
    }
}

bool my_type_is_character(uint8_t t, bool mariadb)
{
    switch (t) {
    case MY_TYPE_STRING:
    case MY_TYPE_VAR_STRING:
    case MY_TYPE_VARCHAR:
    case MY_TYPE_BLOB:
        return true;
    case MY_TYPE_VECTOR:
        return !mariadb; /* MySQL 9 lists a charset (binary) for VECTOR */
    case MY_TYPE_GEOMETRY:
        return mariadb; /* MariaDB's geometry is a BLOB underneath and has a charset */
    default:
        return false;
    }
}

static bool is_character_mysql(uint8_t t)
{
    return my_type_is_character(t, false);
}

static bool is_character_mariadb(uint8_t t)
{
    return my_type_is_character(t, true);
}

static bool is_enum_or_set(uint8_t t)
{
    return t == MY_TYPE_ENUM || t == MY_TYPE_SET;
}

/* Reads one column's type metadata; false on an unknown type or short input. */
static bool read_meta(my_reader *r, uint8_t type, uint16_t *meta)
{
    const uint8_t *p;
    switch (type) {
    case MY_TYPE_FLOAT:
    case MY_TYPE_DOUBLE:
    case MY_TYPE_TINY_BLOB:
    case MY_TYPE_MEDIUM_BLOB:
    case MY_TYPE_LONG_BLOB:
    case MY_TYPE_BLOB:
    case MY_TYPE_GEOMETRY:
    case MY_TYPE_JSON:
    case MY_TYPE_VECTOR:
    case MY_TYPE_TIME2:
    case MY_TYPE_DATETIME2:
    case MY_TYPE_TIMESTAMP2:
        p = my_reader_take(r, 1);
        if (!p)
            return false;
        *meta = p[0];
        return true;
    case MY_TYPE_VARCHAR:
        p = my_reader_take(r, 2);
        if (!p)
            return false;
        *meta = (uint16_t)my_le16(p);
        return true;
    case MY_TYPE_BIT:
        /* Bits in the last byte, then whole bytes: kept as bytes << 8 | bits. */
        p = my_reader_take(r, 2);
        if (!p)
            return false;
        *meta = (uint16_t)(p[1] << 8 | p[0]);
        return true;
    case MY_TYPE_NEWDECIMAL:
    case MY_TYPE_STRING:
    case MY_TYPE_ENUM:
    case MY_TYPE_SET:
        /* precision << 8 | scale, or real type << 8 | length. */
        p = my_reader_take(r, 2);
        if (!p)
            return false;
        *meta = (uint16_t)(p[0] << 8 | p[1]);
        return true;
    case MY_TYPE_TYPED_ARRAY: {
        /* The element type, then its own metadata (VARCHAR's takes three bytes here). */
        p = my_reader_take(r, 1);
        if (!p || p[0] == MY_TYPE_TYPED_ARRAY)
            return false;
        if (p[0] == MY_TYPE_VARCHAR)
            return my_reader_take(r, 3) != NULL;
        uint16_t inner;
        *meta = 0;
        return read_meta(r, p[0], &inner);
    }
    case MY_TYPE_DECIMAL:
    case MY_TYPE_TINY:
    case MY_TYPE_SHORT:
    case MY_TYPE_LONG:
    case MY_TYPE_NULL:
    case MY_TYPE_TIMESTAMP:
    case MY_TYPE_LONGLONG:
    case MY_TYPE_INT24:
    case MY_TYPE_DATE:
    case MY_TYPE_TIME:
    case MY_TYPE_DATETIME:
    case MY_TYPE_YEAR:
    case MY_TYPE_NEWDATE:
    case MY_TYPE_VAR_STRING:
        *meta = 0;
        return true;
    default:
        return false;
    }
}

/* Copies n bytes into arena with a NUL after them. */
static const char *copy_str(sl_arena *arena, const uint8_t *p, size_t n)
{
    return sl_arena_strndup(arena, (const char *)p, n);
}

/* Charsets per column of the kind selected by pick, from a DEFAULT or COLUMN charset field. */
static bool read_charsets(my_reader *v, bool per_column, my_table_map *m, bool (*pick)(uint8_t))
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->ncols; i++)
        n += pick(m->cols[i].type);
    if (!per_column) {
        uint64_t dflt = my_reader_packed(v);
        for (uint32_t i = 0; i < m->ncols; i++)
            if (pick(m->cols[i].type))
                m->cols[i].collation = (uint16_t)dflt;
        while (!v->failed && my_reader_left(v) > 0) {
            uint64_t idx = my_reader_packed(v);
            uint64_t coll = my_reader_packed(v);
            if (idx >= n)
                return false;
            for (uint32_t i = 0, k = 0; i < m->ncols; i++)
                if (pick(m->cols[i].type) && k++ == idx)
                    m->cols[i].collation = (uint16_t)coll;
        }
        return !v->failed;
    }
    for (uint32_t i = 0; i < m->ncols; i++)
        if (pick(m->cols[i].type))
            m->cols[i].collation = (uint16_t)my_reader_packed(v);
    return !v->failed && my_reader_left(v) == 0;
}

static bool read_labels(my_reader *v, my_table_map *m, uint8_t type, sl_arena *arena)
{
    for (uint32_t i = 0; i < m->ncols; i++) {
        if (m->cols[i].type != type)
            continue;
        uint64_t count = my_reader_packed(v);
        if (v->failed || count > my_reader_left(v))
            return false;
        const char **label = sl_arena_alloc(arena, (count ? count : 1) * sizeof *label);
        uint32_t *len = sl_arena_alloc(arena, (count ? count : 1) * sizeof *len);
        for (uint64_t k = 0; k < count; k++) {
            uint64_t n = my_reader_packed(v);
            const uint8_t *p = n <= my_reader_left(v) ? my_reader_take(v, (size_t)n) : NULL;
            if (v->failed || !p)
                return false;
            label[k] = copy_str(arena, p, (size_t)n);
            len[k] = (uint32_t)n;
        }
        m->cols[i].labels.n = (uint32_t)count;
        m->cols[i].labels.label = label;
        m->cols[i].labels.len = len;
    }
    return my_reader_left(v) == 0;
}

static bool is_geometry(uint8_t t)
{
    return t == MY_TYPE_GEOMETRY;
}

static bool is_vector(uint8_t t)
{
    return t == MY_TYPE_VECTOR;
}

static sl_code read_optional(my_reader *r, my_table_map *m, bool mariadb, sl_arena *arena,
                             sl_error *err)
{
    while (my_reader_left(r) > 0) {
        uint8_t type = (uint8_t)my_reader_uint(r, 1);
        uint64_t len = my_reader_packed(r);
        if (r->failed || len > my_reader_left(r))
            return bad_map(err, m, "optional metadata field past the end");
        my_reader v;
        my_reader_init(&v, my_reader_take(r, (size_t)len), (size_t)len);
        bool ok = true;
        switch (type) {
        case MY_TM_SIGNEDNESS: {
            uint32_t k = 0;
            for (uint32_t i = 0; i < m->ncols; i++) {
                if (!my_type_is_numeric(m->cols[i].type))
                    continue;
                if (k / 8 >= len) {
                    ok = false;
                    break;
                }
                m->cols[i].is_unsigned = (v.p[k / 8] >> (7 - k % 8)) & 1;
                k++;
            }
            m->has_signedness = true;
            break;
        }
        case MY_TM_DEFAULT_CHARSET:
        case MY_TM_COLUMN_CHARSET:
            ok = read_charsets(&v, type == MY_TM_COLUMN_CHARSET, m,
                               mariadb ? is_character_mariadb : is_character_mysql);
            m->has_charsets = true;
            break;
        case MY_TM_ENUM_AND_SET_DEFAULT_CHARSET:
        case MY_TM_ENUM_AND_SET_COLUMN_CHARSET:
            ok = read_charsets(&v, type == MY_TM_ENUM_AND_SET_COLUMN_CHARSET, m, is_enum_or_set);
            break;
        case MY_TM_COLUMN_NAME:
            for (uint32_t i = 0; i < m->ncols && ok; i++) {
                uint64_t n = my_reader_packed(&v);
                const uint8_t *p = n <= my_reader_left(&v) ? my_reader_take(&v, (size_t)n) : NULL;
                if (v.failed || !p) {
                    ok = false;
                    break;
                }
                m->cols[i].name = copy_str(arena, p, (size_t)n);
                m->cols[i].name_len = (uint32_t)n;
            }
            ok = ok && my_reader_left(&v) == 0;
            m->has_names = ok;
            break;
        case MY_TM_SET_STR_VALUE:
            ok = read_labels(&v, m, MY_TYPE_SET, arena);
            break;
        case MY_TM_ENUM_STR_VALUE:
            ok = read_labels(&v, m, MY_TYPE_ENUM, arena);
            break;
        case MY_TM_GEOMETRY_TYPE:
            for (uint32_t i = 0; i < m->ncols; i++)
                if (is_geometry(m->cols[i].type))
                    m->cols[i].geometry_type = (uint8_t)my_reader_packed(&v);
            ok = !v.failed;
            break;
        case MY_TM_VECTOR_DIMENSIONALITY:
            for (uint32_t i = 0; i < m->ncols; i++)
                if (is_vector(m->cols[i].type))
                    m->cols[i].vector_dims = (uint32_t)my_reader_packed(&v);
            ok = !v.failed;
            break;
        case MY_TM_SIMPLE_PRIMARY_KEY:
        case MY_TM_PRIMARY_KEY_WITH_PREFIX: {
            bool prefix = type == MY_TM_PRIMARY_KEY_WITH_PREFIX;
            /* At most one entry per byte pair: size the arrays by the field. */
            size_t cap = (size_t)len + 1;
            m->pk = sl_arena_alloc(arena, cap * sizeof *m->pk);
            m->pk_prefix = sl_arena_alloc(arena, cap * sizeof *m->pk_prefix);
            m->npk = 0;
            while (my_reader_left(&v) > 0) {
                uint64_t idx = my_reader_packed(&v);
                uint64_t plen = prefix ? my_reader_packed(&v) : 0;
                if (v.failed || idx >= m->ncols) {
                    ok = false;
                    break;
                }
                m->pk[m->npk] = (uint32_t)idx;
                m->pk_prefix[m->npk] = (uint32_t)plen;
                m->npk++;
            }
            m->has_primary_key = ok;
            break;
        }
        case MY_TM_COLUMN_VISIBILITY:
            if ((m->ncols + 7) / 8 > len) {
                ok = false;
                break;
            }
            for (uint32_t i = 0; i < m->ncols; i++)
                m->cols[i].visible = (v.p[i / 8] >> (7 - i % 8)) & 1;
            break;
        default:
            /* A field of a newer server: skipped whole, its length is known. */
            break;
        }
        if (!ok)
            return bad_map(err, m, "inconsistent optional metadata");
    }
    return SL_OK;
}

sl_code my_table_map_parse(const my_binlog_format *fmt, const my_binlog_event *ev, sl_arena *arena,
                           my_table_map *out, sl_error *err)
{
    memset(out, 0, sizeof *out);
    if (ev->type != MY_EV_TABLE_MAP)
        return bad_map(err, out, "not a TABLE_MAP event");
    my_reader r;
    my_reader_init(&r, ev->body, ev->body_len);
    size_t id_len = fmt->post_header[MY_EV_TABLE_MAP] == 6 ? 4 : 6;
    out->table_id = my_reader_uint(&r, id_len);
    out->flags = (uint16_t)my_reader_uint(&r, 2);
    size_t db_len = (size_t)my_reader_uint(&r, 1);
    const uint8_t *db = my_reader_take(&r, db_len + 1);
    size_t tbl_len = (size_t)my_reader_uint(&r, 1);
    const uint8_t *tbl = my_reader_take(&r, tbl_len + 1);
    if (r.failed)
        return bad_map(err, out, "truncated table name");
    out->db = copy_str(arena, db, db_len);
    out->table = copy_str(arena, tbl, tbl_len);
    uint64_t ncols = my_reader_packed(&r);
    if (r.failed || ncols == 0 || ncols > 4096 || ncols > my_reader_left(&r))
        return bad_map(err, out, "invalid column count");
    out->ncols = (uint32_t)ncols;
    const uint8_t *types = my_reader_take(&r, (size_t)ncols);
    uint64_t meta_len = my_reader_packed(&r);
    if (r.failed || meta_len > my_reader_left(&r))
        return bad_map(err, out, "column metadata past the end");
    my_reader meta;
    my_reader_init(&meta, my_reader_take(&r, (size_t)meta_len), (size_t)meta_len);
    const uint8_t *nulls = my_reader_take(&r, (size_t)(ncols + 7) / 8);
    if (r.failed)
        return bad_map(err, out, "truncated null bitmap");
    out->cols = sl_arena_alloc(arena, (size_t)ncols * sizeof *out->cols);
    memset(out->cols, 0, (size_t)ncols * sizeof *out->cols);
    for (uint32_t i = 0; i < out->ncols; i++) {
        my_tm_column *c = &out->cols[i];
        c->binlog_type = c->type = types[i];
        c->nullable = (nulls[i / 8] >> (i % 8)) & 1;
        c->geometry_type = 0xff;
        c->visible = true;
        if (!read_meta(&meta, types[i], &c->meta))
            return sl_error_set(err, SL_PROTOCOL,
                                "malformed Table_map event for table \"%s.%s\": column %u has "
                                "%s type %u",
                                out->db, out->table, i + 1,
                                meta.failed ? "truncated metadata for" : "unknown", types[i]);
        if (c->type == MY_TYPE_STRING && c->meta >= 256) {
            uint8_t b0 = (uint8_t)(c->meta >> 8);
            if ((b0 & 0x30) == 0x30 && (b0 == MY_TYPE_ENUM || b0 == MY_TYPE_SET))
                c->type = b0;
        }
        if (c->type == MY_TYPE_JSON)
            out->njson++;
    }
    if (my_reader_left(&meta) != 0)
        return bad_map(err, out, "column metadata longer than its columns need");
    return read_optional(&r, out, fmt->mariadb, arena, err);
}
