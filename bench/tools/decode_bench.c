/*
 * Decoder micro-benchmark: the rows of the W1 workload (bench/run.sh: id
 * bigint, n int, label text of 32 characters, amount numeric(12,2), ts
 * timestamp, flag boolean) decoded by each source's value layer, in memory,
 * single-threaded, so their costs compare as a ratio:
 *
 *   mysql  binlog WRITE_ROWS events of about 8 KB (MySQL's default
 *          binlog_row_event_max_size) with CRC32: framing, checksum, the
 *          rows event, and every value through my_convert_value into the
 *          batch arena, reset per event;
 *   pg     the same values as pgoutput's text through pg_convert_text.
 *
 * Build: cmake --build BUILD --target decode_bench (a Release build), then
 * BUILD/decode_bench [rows [mysql]]. It prints rows per second of each and
 * the ratio ("mysql": the binlog path alone, for profiling); nothing here is
 * a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "mysql/my_binlog.h"
#include "mysql/my_rows.h"
#include "mysql/my_types.h"
#include "postgres/pg_types.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: other processes share the cores */
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* MySQL's binary DECIMAL(12,2) of a value in hundredths (non-negative). */
static void dec12_2(uint64_t hundredths, uint8_t *out)
{
    uint64_t ip = hundredths / 100, fp = hundredths % 100;
    /* 10 integer digits: one digit in one byte, then nine in four; two fraction digits in one. */
    out[0] = (uint8_t)(ip / 1000000000u);
    uint32_t lo = (uint32_t)(ip % 1000000000u);
    out[1] = (uint8_t)(lo >> 24);
    out[2] = (uint8_t)(lo >> 16);
    out[3] = (uint8_t)(lo >> 8);
    out[4] = (uint8_t)lo;
    out[5] = (uint8_t)fp;
    out[0] ^= 0x80;
}

static void md5ish(uint64_t g, char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t x = g * 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 32; i++) {
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9u;
        out[i] = hex[x >> 60];
    }
}

int main(int argc, char **argv)
{
    long rows = argc > 1 ? atol(argv[1]) : 2000000;
    my_type_options opts;
    my_type_options_default(&opts);

    /* The table map's columns, as binlog_row_metadata=FULL gives them. */
    my_tm_column cols[6];
    memset(cols, 0, sizeof cols);
    uint8_t types[6] = {MY_TYPE_LONGLONG,   MY_TYPE_LONG,       MY_TYPE_VARCHAR,
                        MY_TYPE_NEWDECIMAL, MY_TYPE_TIMESTAMP2, MY_TYPE_TINY};
    uint16_t metas[6] = {0, 0, 252, 12 << 8 | 2, 6, 0}; /* VARCHAR(63) utf8mb4 */
    my_converter conv[6];
    sl_arena table;
    sl_arena_init(&table, 0);
    for (int i = 0; i < 6; i++) {
        cols[i].type = cols[i].binlog_type = types[i];
        cols[i].meta = metas[i];
        cols[i].collation = 45;
        cols[i].geometry_type = 0xff;
        const sl_schema *s;
        sl_error err;
        if (my_column_schema(&cols[i], NULL, false, &opts, &table, &s, &conv[i], &err) != SL_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    }

    /* Rows events of at most 8 KB, each with its CRC32. */
    size_t cap = (size_t)rows * 80 + ((size_t)1 << 20);
    uint8_t *stream = malloc(cap);
    size_t len = 0, nevents = 0;
    long g = 1;
    while (g <= rows) {
        uint8_t *ev = stream + len;
        size_t k = 19;
        memset(ev + k, 0, 6);
        ev[k] = 90;
        k += 6;
        ev[k++] = 1;
        ev[k++] = 0;
        ev[k++] = 2; /* extra data length */
        ev[k++] = 0;
        ev[k++] = 6;
        ev[k++] = 0x3f;
        for (; g <= rows && k < 8192 - 80; g++) {
            ev[k++] = 0; /* no nulls */
            int64_t id = g;
            memcpy(ev + k, &id, 8);
            k += 8;
            int32_t n = (int32_t)(g % 1000);
            memcpy(ev + k, &n, 4);
            k += 4;
            ev[k++] = 32;
            md5ish((uint64_t)g, (char *)ev + k);
            k += 32;
            dec12_2((uint64_t)(g % 100000), ev + k);
            k += 6;
            uint32_t ts = 1700000000u + (uint32_t)(g / 1000);
            ev[k++] = (uint8_t)(ts >> 24);
            ev[k++] = (uint8_t)(ts >> 16);
            ev[k++] = (uint8_t)(ts >> 8);
            ev[k++] = (uint8_t)ts;
            uint32_t us = (uint32_t)(g % 1000000);
            ev[k++] = (uint8_t)(us >> 16);
            ev[k++] = (uint8_t)(us >> 8);
            ev[k++] = (uint8_t)us;
            ev[k++] = (uint8_t)(g % 2);
        }
        uint32_t size = (uint32_t)(k + 4), ts = 1700000000, server = 1, pos = (uint32_t)len;
        memcpy(ev, &ts, 4);
        ev[4] = MY_EV_WRITE_ROWS;
        memcpy(ev + 5, &server, 4);
        memcpy(ev + 9, &size, 4);
        memcpy(ev + 13, &pos, 4);
        ev[17] = ev[18] = 0;
        uint32_t c = (uint32_t)crc32(0L, ev, (uInt)k);
        memcpy(ev + k, &c, 4);
        len += size;
        nevents++;
    }

    my_binlog_format fmt;
    my_binlog_format_init(&fmt, MY_CHECKSUM_CRC32);
    my_row_decoder dec;
    my_row_decoder_init(&dec);
    my_row_decoder_table(&dec, conv, 6);
    sl_arena batch;
    sl_arena_init(&batch, 0);
    long decoded = 0;
    double t0 = now();
    for (size_t pos = 0; pos < len;) {
        uint32_t size;
        memcpy(&size, stream + pos + 9, 4);
        my_binlog_event ev;
        my_rows_event re;
        sl_error err;
        if (my_binlog_event_split(&fmt, stream + pos, size, &ev, &err) != SL_OK ||
            my_rows_parse(&fmt, &ev, &re, &err) != SL_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        size_t rp = 0;
        for (;;) {
            sl_value *after = sl_arena_alloc(&batch, 6 * sizeof *after);
            bool done;
            if (my_rows_next(&dec, &re, &rp, &batch, NULL, after, &done, &err) != SL_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            if (done)
                break;
            decoded++;
        }
        sl_arena_reset(&batch);
        pos += size;
    }
    double t_mysql = now() - t0;

    if (argc > 2 && strcmp(argv[2], "mysql") == 0) {
        printf("rows %ld, %zu binlog events (%.1f MB)\n", decoded, nevents, (double)len / 1e6);
        printf("mysql binlog rows: %.3f s, %.2f M rows/s\n", t_mysql,
               (double)decoded / t_mysql / 1e6);
        return 0;
    }

    /* The same values as PostgreSQL's text output, through pg_types. */
    static const pg_type_desc t_int8 = {.oid = 20, .name = "int8", .typtype = 'b'};
    static const pg_type_desc t_int4 = {.oid = 23, .name = "int4", .typtype = 'b'};
    static const pg_type_desc t_text = {.oid = 25, .name = "text", .typtype = 'b'};
    static const pg_type_desc t_num = {.oid = 1700, .name = "numeric", .typtype = 'b'};
    static const pg_type_desc t_tstz = {.oid = 1184, .name = "timestamptz", .typtype = 'b'};
    static const pg_type_desc t_bool = {.oid = 16, .name = "bool", .typtype = 'b'};
    const pg_type_desc *pt[6] = {&t_int8, &t_int4, &t_text, &t_num, &t_tstz, &t_bool};
    int32_t typmods[6] = {-1, -1, -1, ((12 << 16) | 2) + 4, -1, -1};
    pg_converter pconv[6];
    for (int i = 0; i < 6; i++) {
        const sl_schema *s;
        sl_error err;
        pg_column_schema(pt[i], typmods[i], false, NULL, NULL, NULL, &table, &s, &pconv[i], &err);
    }
    /* Text of 1000 distinct rows, cycled, so formatting is not what is measured. */
    enum { DISTINCT = 1000 };
    static char text[DISTINCT][6][48];
    static size_t tlen[DISTINCT][6];
    for (int r = 0; r < DISTINCT; r++) {
        long v = r + 1;
        tlen[r][0] = (size_t)snprintf(text[r][0], 48, "%ld", v);
        tlen[r][1] = (size_t)snprintf(text[r][1], 48, "%ld", v % 1000);
        md5ish((uint64_t)v, text[r][2]);
        tlen[r][2] = 32;
        tlen[r][3] = (size_t)snprintf(text[r][3], 48, "%ld.%02ld", v % 100000 / 100, v % 100);
        tlen[r][4] = (size_t)snprintf(text[r][4], 48, "2023-11-14 22:13:%02ld.%06ld+00", v % 60,
                                      v % 1000000);
        tlen[r][5] = (size_t)snprintf(text[r][5], 48, "%s", v % 2 ? "t" : "f");
    }
    t0 = now();
    long pg_rows = 0;
    for (long r = 0; r < rows; r++) {
        sl_value vals[6];
        sl_error err;
        int d = (int)(r % DISTINCT);
        for (int i = 0; i < 6; i++)
            if (pg_convert_text(&pconv[i], text[d][i], tlen[d][i], &batch, &vals[i], &err) !=
                SL_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
        pg_rows++;
        if (pg_rows % 100 == 0)
            sl_arena_reset(&batch);
    }
    double t_pg = now() - t0;

    printf("rows %ld, %zu binlog events (%.1f MB)\n", decoded, nevents, (double)len / 1e6);
    printf("mysql binlog rows: %.3f s, %.2f M rows/s\n", t_mysql, (double)decoded / t_mysql / 1e6);
    printf("pg text values:    %.3f s, %.2f M rows/s\n", t_pg, (double)pg_rows / t_pg / 1e6);
    printf("ratio mysql/pg throughput: %.2f\n",
           (t_pg / (double)pg_rows) / (t_mysql / (double)decoded));
    my_row_decoder_free(&dec);
    sl_arena_destroy(&batch);
    sl_arena_destroy(&table);
    free(stream);
    return 0;
}
