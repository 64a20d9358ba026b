/*
 * The column types the fuzz targets choose from: every built-in type the
 * PostgreSQL source maps (connectors/postgres/pg_types.c), their arrays, and
 * the kinds of user-defined types the catalog can describe (an enum, domains,
 * nested domains, a domain array, extension types Debezium knows by name and
 * one it does not). The descriptions are filled the way pg_catalog.c fills
 * them from pg_type, so pg_column_schema() sees what it sees in production.
 */
#ifndef SLUICE_FUZZ_TYPES_H
#define SLUICE_FUZZ_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "postgres/pg_types.h"

#define FZ_BASE(o, n)                                                                              \
    {                                                                                              \
        .oid = (o), .name = (n), .typtype = 'b', .typcategory = 'X', .base_typmod = -1             \
    }
#define FZ_ARRAY(o, n, e)                                                                          \
    {                                                                                              \
        .oid = (o), .name = (n), .typtype = 'b', .typcategory = 'A', .elem_oid = (e),              \
        .base_typmod = -1                                                                          \
    }

/* Scalars first; fz_types_link() points each array at its element. */
static pg_type_desc fz_types[] = {
    FZ_BASE(16, "bool"),
    FZ_BASE(17, "bytea"),
    FZ_BASE(18, "char"),
    FZ_BASE(19, "name"),
    FZ_BASE(20, "int8"),
    FZ_BASE(21, "int2"),
    FZ_BASE(23, "int4"),
    FZ_BASE(25, "text"),
    FZ_BASE(26, "oid"),
    FZ_BASE(114, "json"),
    FZ_BASE(142, "xml"),
    FZ_BASE(600, "point"),
    FZ_BASE(650, "cidr"),
    FZ_BASE(700, "float4"),
    FZ_BASE(701, "float8"),
    FZ_BASE(774, "macaddr8"),
    FZ_BASE(790, "money"),
    FZ_BASE(829, "macaddr"),
    FZ_BASE(869, "inet"),
    FZ_BASE(1042, "bpchar"),
    FZ_BASE(1043, "varchar"),
    FZ_BASE(1082, "date"),
    FZ_BASE(1083, "time"),
    FZ_BASE(1114, "timestamp"),
    FZ_BASE(1184, "timestamptz"),
    FZ_BASE(1186, "interval"),
    FZ_BASE(1266, "timetz"),
    FZ_BASE(1560, "bit"),
    FZ_BASE(1562, "varbit"),
    FZ_BASE(1700, "numeric"),
    FZ_BASE(2950, "uuid"),
    FZ_BASE(3220, "pg_lsn"),
    FZ_BASE(3614, "tsvector"),
    FZ_BASE(3802, "jsonb"),
    {.oid = 3904, .name = "int4range", .typtype = 'r', .typcategory = 'R', .base_typmod = -1},
    {.oid = 3906, .name = "numrange", .typtype = 'r', .typcategory = 'R', .base_typmod = -1},
    {.oid = 3908, .name = "tsrange", .typtype = 'r', .typcategory = 'R', .base_typmod = -1},
    {.oid = 3910, .name = "tstzrange", .typtype = 'r', .typcategory = 'R', .base_typmod = -1},
    {.oid = 3912, .name = "daterange", .typtype = 'r', .typcategory = 'R', .base_typmod = -1},
    {.oid = 3926, .name = "int8range", .typtype = 'r', .typcategory = 'R', .base_typmod = -1},
    FZ_BASE(603, "box"),
    /* User-defined types: oids above FirstNormalObjectId (16384). */
    {.oid = 70000,
     .name = "mood",
     .typtype = 'e',
     .typcategory = 'E',
     .base_typmod = -1,
     .enum_labels = "sad,ok,happy"},
    {.oid = 70001,
     .name = "money2",
     .typtype = 'd',
     .typcategory = 'N',
     .base_oid = 1700,
     .base_typmod = (10 << 16 | 2) + 4},
    {.oid = 70002,
     .name = "posint",
     .typtype = 'd',
     .typcategory = 'N',
     .base_oid = 23,
     .base_typmod = -1},
    {.oid = 70003,
     .name = "cash",
     .typtype = 'd',
     .typcategory = 'N',
     .base_oid = 70001,
     .base_typmod = -1},
    {.oid = 70004,
     .name = "feeling",
     .typtype = 'd',
     .typcategory = 'E',
     .base_oid = 70000,
     .base_typmod = -1},
    FZ_BASE(70005, "citext"),
    FZ_BASE(70006, "ltree"),
    FZ_BASE(70007, "hstore"),
    FZ_BASE(70008, "isbn"),
    /* Arrays. */
    FZ_ARRAY(1000, "_bool", 16),
    FZ_ARRAY(1001, "_bytea", 17),
    FZ_ARRAY(1002, "_char", 18),
    FZ_ARRAY(1003, "_name", 19),
    FZ_ARRAY(1005, "_int2", 21),
    FZ_ARRAY(1007, "_int4", 23),
    FZ_ARRAY(1009, "_text", 25),
    FZ_ARRAY(1014, "_bpchar", 1042),
    FZ_ARRAY(1015, "_varchar", 1043),
    FZ_ARRAY(1016, "_int8", 20),
    FZ_ARRAY(1017, "_point", 600),
    FZ_ARRAY(1021, "_float4", 700),
    FZ_ARRAY(1022, "_float8", 701),
    FZ_ARRAY(1028, "_oid", 26),
    FZ_ARRAY(1040, "_macaddr", 829),
    FZ_ARRAY(1041, "_inet", 869),
    FZ_ARRAY(651, "_cidr", 650),
    FZ_ARRAY(775, "_macaddr8", 774),
    FZ_ARRAY(791, "_money", 790),
    FZ_ARRAY(1115, "_timestamp", 1114),
    FZ_ARRAY(1182, "_date", 1082),
    FZ_ARRAY(1183, "_time", 1083),
    FZ_ARRAY(1185, "_timestamptz", 1184),
    FZ_ARRAY(1187, "_interval", 1186),
    FZ_ARRAY(1231, "_numeric", 1700),
    FZ_ARRAY(1270, "_timetz", 1266),
    FZ_ARRAY(1561, "_bit", 1560),
    FZ_ARRAY(1563, "_varbit", 1562),
    FZ_ARRAY(2951, "_uuid", 2950),
    FZ_ARRAY(199, "_json", 114),
    FZ_ARRAY(3807, "_jsonb", 3802),
    FZ_ARRAY(143, "_xml", 142),
    FZ_ARRAY(3643, "_tsvector", 3614),
    FZ_ARRAY(3905, "_int4range", 3904),
    FZ_ARRAY(70100, "_mood", 70000),
    FZ_ARRAY(70101, "_posint", 70002),
    FZ_ARRAY(70102, "_citext", 70005),
    /* A domain over an array type. */
    {.oid = 70103,
     .name = "intlist",
     .typtype = 'd',
     .typcategory = 'A',
     .base_oid = 1007,
     .base_typmod = -1},
};

#define FZ_NTYPES (sizeof fz_types / sizeof *fz_types)

static const pg_type_desc *fz_type_by_oid(uint32_t oid)
{
    for (size_t i = 0; i < FZ_NTYPES; i++)
        if (fz_types[i].oid == oid)
            return &fz_types[i];
    return NULL;
}

/*
 * Links array elements and domain bases, as the catalog query does: a
 * domain's base_oid and base are its root type, base_typmod the first typmod
 * met walking down to it. Runs once, before any input.
 */
static void fz_types_link(void)
{
    for (size_t i = 0; i < FZ_NTYPES; i++) {
        pg_type_desc *t = &fz_types[i];
        if (t->elem_oid)
            t->elem = fz_type_by_oid(t->elem_oid);
    }
    for (size_t i = 0; i < FZ_NTYPES; i++) {
        pg_type_desc *t = &fz_types[i];
        if (t->typtype != 'd' || t->base)
            continue;
        int32_t typmod = t->base_typmod;
        const pg_type_desc *root = fz_type_by_oid(t->base_oid);
        for (int depth = 0; root && root->typtype == 'd' && depth < 16; depth++) {
            if (typmod == -1)
                typmod = root->base_typmod;
            root = fz_type_by_oid(root->base_oid);
        }
        t->base = root;
        t->base_oid = root ? root->oid : 0;
        t->base_typmod = typmod;
    }
}

/* Reads a big-endian integer of n bytes from *p, advancing it; zero past the end. */
static uint64_t fz_take(const uint8_t **p, const uint8_t *end, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | (*p < end ? *(*p)++ : 0);
    return v;
}

#endif
