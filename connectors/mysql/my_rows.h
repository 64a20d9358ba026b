/*
 * Row events: WRITE/UPDATE/DELETE_ROWS v1 and v2 (MariaDB writes v1, MySQL
 * v2 with its extra data and, for UPDATE, a second column bitmap),
 * PARTIAL_UPDATE_ROWS (JSON columns of the after image as diffs), and the
 * row images inside them decoded into sl_values with the converters of
 * my_types.h.
 *
 * A column the image leaves out (binlog_row_image=MINIMAL or NOBLOB) is
 * SL_VALUE_ABSENT, not null: its value is unknown, and an encoder must not
 * claim it became null.
 *
 * Driving it: parse the event with my_rows_parse(), point a
 * my_row_decoder at the table version's converters, then call
 * my_rows_next() until it reports no more rows. Everything a value points
 * to comes from the caller's arena; the decoder's own buffers are reused.
 */
#ifndef SLUICE_MY_ROWS_H
#define SLUICE_MY_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mysql/my_binlog.h"
#include "mysql/my_types.h"
#include "sluice/error.h"
#include "sluice/event.h"
#include "sluice/memory.h"

typedef enum my_rows_kind {
    MY_ROWS_WRITE,  /* after images */
    MY_ROWS_UPDATE, /* before and after images */
    MY_ROWS_DELETE, /* before images */
} my_rows_kind;

/* Rows event flags. */
#define MY_ROWS_F_STMT_END 0x01 /* the last event of its statement */
#define MY_ROWS_F_NO_FOREIGN_KEY_CHECKS 0x02
#define MY_ROWS_F_RELAXED_UNIQUE_CHECKS 0x04
#define MY_ROWS_F_COMPLETE_ROWS 0x08

typedef struct my_rows_event {
    uint8_t kind;    /* my_rows_kind */
    uint8_t version; /* 1 or 2 */
    bool partial;    /* PARTIAL_UPDATE_ROWS: a shared image precedes each after image */
    uint64_t table_id;
    uint16_t flags;
    const uint8_t *extra; /* v2 extra data, after its length; may be empty */
    size_t extra_len;
    uint32_t ncols;
    const uint8_t *cols;       /* columns in the (before) image: a bitmap, lowest bit first */
    const uint8_t *cols_after; /* UPDATE: columns in the after image; otherwise cols */
    const uint8_t *rows;       /* the row images */
    size_t rows_len;
} my_rows_event;

/*
 * Parses a row event's header (types 23-25, 30-32, 39; a MariaDB compressed
 * one must be uncompressed first). Pointers go into the event.
 */
sl_code my_rows_parse(const my_binlog_format *fmt, const my_binlog_event *ev, my_rows_event *out,
                      sl_error *err);

/* True for the row event types my_rows_parse() takes. */
bool my_rows_is_rows_event(uint8_t type);

/* Reusable state for decoding rows; owned by the reader of one stream. */
typedef struct my_row_decoder {
    const my_converter *convs; /* converters of the current table version */
    uint32_t ncols;
    sl_buf scratch;              /* JSON text is built here, then copied */
    sl_arena json_arena;         /* partial JSON updates' documents, reset per value */
    const uint8_t **json_before; /* raw before-image values of JSON columns of the current row */
    size_t *json_before_len;
    uint32_t json_cap;
    /*
     * Values of the last row that were well-formed but had no Debezium value
     * (SL_INVALID from my_convert_value, or a partial JSON update that does
     * not apply): they are null (absent for a partial update without its
     * base document), counted here, the first one described. The caller
     * warns; the decoder never logs.
     */
    uint32_t problems;
    uint32_t problem_column;
    sl_error problem;
} my_row_decoder;

void my_row_decoder_init(my_row_decoder *d);
void my_row_decoder_free(my_row_decoder *d);

/* Sets the table version (ncols converters, kept by the caller) of the rows that follow. */
void my_row_decoder_table(my_row_decoder *d, const my_converter *convs, uint32_t ncols);

/*
 * Decodes the row at *pos (start at 0) of ev into before and/or after
 * (ncols values each; pass NULL for an image the event kind does not have:
 * WRITE has only after, DELETE only before) and advances *pos. Sets *done
 * and decodes nothing when no rows remain. SL_PROTOCOL when the images are
 * corrupt or do not match the table's converters.
 */
sl_code my_rows_next(my_row_decoder *d, const my_rows_event *ev, size_t *pos, sl_arena *arena,
                     sl_value *before, sl_value *after, bool *done, sl_error *err);

#endif
