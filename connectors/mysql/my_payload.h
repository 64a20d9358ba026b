/*
 * MySQL 8's TRANSACTION_PAYLOAD events (binlog_transaction_compression):
 * a whole transaction's events compressed with zstd into one event. The
 * header is a list of type-length-value fields (payload size, compression
 * type, uncompressed size) ended by a zero type; the payload follows.
 *
 * my_payload_reader streams the events inside a payload one at a time with
 * zstd's streaming decoder, so memory stays at the size of the largest
 * inner event (not the transaction's) however large the transaction.
 */
#ifndef SLUICE_MY_PAYLOAD_H
#define SLUICE_MY_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mysql/my_binlog.h"
#include "sluice/error.h"
#include "sluice/memory.h"

enum {
    MY_PAYLOAD_ZSTD = 0,
    MY_PAYLOAD_NONE = 255,
};

typedef struct my_payload {
    uint64_t compression;       /* MY_PAYLOAD_ZSTD or MY_PAYLOAD_NONE */
    uint64_t uncompressed_size; /* informational; 0 when absent */
    const uint8_t *data;        /* the payload, pointing into the event */
    size_t len;
} my_payload;

sl_code my_payload_parse(const my_binlog_format *fmt, const my_binlog_event *ev, my_payload *out,
                         sl_error *err);

typedef struct my_payload_reader {
    void *zstd; /* ZSTD_DStream, created on first use and reused */
    const uint8_t *in;
    size_t in_len, in_pos;
    uint8_t compression;
    bool input_done;
    uint8_t *buf; /* decompressed bytes not yet handed out: buf[start .. end) */
    size_t cap, start, end;
    size_t max_event; /* refuse inner events larger than this (hostile input) */
} my_payload_reader;

/* max_event: the largest inner event accepted (MySQL's is 1 GB; 0 means that). */
void my_payload_reader_init(my_payload_reader *r, size_t max_event);
void my_payload_reader_free(my_payload_reader *r);

/* Starts reading the events of p (whose bytes must stay valid while reading). */
sl_code my_payload_reader_open(my_payload_reader *r, const my_payload *p, sl_error *err);

/*
 * The next inner event, whole (header, body, and a checksum if the server
 * wrote one), in *ev / *len; valid until the next call. *done is set when the
 * payload is exhausted. SL_PROTOCOL on corrupt compressed data or an inner
 * event cut short.
 */
sl_code my_payload_reader_next(my_payload_reader *r, const uint8_t **ev, size_t *len, bool *done,
                               sl_error *err);

#endif
