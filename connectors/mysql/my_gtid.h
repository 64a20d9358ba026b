/*
 * Global transaction identifiers of the two server families, as text and
 * (MySQL) as the binary encoding of the replication protocol.
 *
 * MySQL: a GTID is source UUID, optional tag (8.4+) and a transaction number
 * (gno, 1 .. 2^63-1). A GTID set is, per (UUID, tag), a list of gno
 * intervals; its text is MySQL's ("uuid:1-5:7,uuid2:1-3:tag:1-2", where the
 * intervals after a tag belong to that tag). COM_BINLOG_DUMP_GTID and
 * PREVIOUS_GTIDS events carry the binary form: an 8-byte count, then per
 * (UUID, tag): the 16 UUID bytes, in the tagged format the tag (one length
 * byte holding length << 1, then the bytes), an 8-byte interval count and
 * per interval its start and exclusive end (8 bytes each, little endian). A
 * set without tags uses the untagged format every MySQL version reads; a set
 * with a tag needs the tagged format (MySQL 8.3+), marked by format 1 in the
 * top and bottom byte of the count, whose middle six bytes hold the count.
 *
 * MariaDB: a GTID is domain-server-sequence ("0-1-100"); a replica's start
 * state is a list with at most one GTID per domain ("0-1-100,1-2-5").
 *
 * Pure functions on caller-owned structs: no connection, tested from text.
 */
#ifndef SLUICE_MY_GTID_H
#define SLUICE_MY_GTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"
#include "sluice/memory.h"

#define MY_GTID_TAG_MAX 32
#define MY_GTID_GNO_MAX INT64_MAX

/* gnos start .. end-1, as on the wire (end exclusive). */
typedef struct my_gtid_interval {
    int64_t start;
    int64_t end;
} my_gtid_interval;

/* The intervals of one (UUID, tag): sorted, disjoint and not adjacent. */
typedef struct my_gtid_source {
    uint8_t uuid[16];
    char tag[MY_GTID_TAG_MAX + 1]; /* lowercase; "" when untagged */
    my_gtid_interval *iv;
    size_t n;
    size_t cap;
} my_gtid_source;

/* A MySQL GTID set; sources sorted by UUID bytes, then tag. */
typedef struct my_gtid_set {
    my_gtid_source *src;
    size_t n;
    size_t cap;
} my_gtid_set;

void my_gtid_set_init(my_gtid_set *set);
void my_gtid_set_free(my_gtid_set *set);
void my_gtid_set_clear(my_gtid_set *set);

/*
 * Adds the GTIDs of MySQL's text form to set. Accepts what the server prints
 * (whitespace and newlines after commas, upper- or lowercase hex, UUIDs with
 * or without dashes, tags in any case). On error set may hold part of text.
 */
sl_code my_gtid_set_parse(my_gtid_set *set, const char *text, sl_error *err);

/* Adds gnos first..last (inclusive) of (uuid, tag); tag NULL or "" for none. */
sl_code my_gtid_set_add_range(my_gtid_set *set, const uint8_t uuid[16], const char *tag,
                              int64_t first, int64_t last, sl_error *err);

/* Adds one GTID; in the usual case (the next gno of the last interval) no memory moves. */
sl_code my_gtid_set_add(my_gtid_set *set, const uint8_t uuid[16], const char *tag, int64_t gno,
                        sl_error *err);

bool my_gtid_set_contains(const my_gtid_set *set, const uint8_t uuid[16], const char *tag,
                          int64_t gno);

/* Appends MySQL's canonical text ("" for the empty set) to out. */
void my_gtid_set_format(const my_gtid_set *set, sl_buf *out);

/* True when some source of set has a tag (the binary form is then the tagged one). */
bool my_gtid_set_has_tags(const my_gtid_set *set);

/* Bytes my_gtid_set_encode writes. */
size_t my_gtid_set_encoded_len(const my_gtid_set *set);

/* Writes the binary form into buf (my_gtid_set_encoded_len bytes). */
void my_gtid_set_encode(const my_gtid_set *set, uint8_t *buf);

/*
 * Adds the GTIDs of the binary form (either format) to set; *used (may be
 * NULL) receives the bytes read. Errors name what is malformed.
 */
sl_code my_gtid_set_decode(my_gtid_set *set, const uint8_t *buf, size_t len, size_t *used,
                           sl_error *err);

/* Parses a UUID with or without dashes; false when text is not one. */
bool my_uuid_parse(const char *text, size_t len, uint8_t out[16]);

/* Writes the lowercase dashed form and a NUL (37 bytes). */
void my_uuid_format(const uint8_t uuid[16], char out[37]);

/* One MariaDB GTID. */
typedef struct my_mariadb_gtid {
    uint32_t domain;
    uint32_t server_id;
    uint64_t seq;
} my_mariadb_gtid;

/* A MariaDB GTID position: at most one GTID per domain, sorted by domain. */
typedef struct my_mariadb_gtid_list {
    my_mariadb_gtid *g;
    size_t n;
    size_t cap;
} my_mariadb_gtid_list;

void my_mariadb_gtid_list_init(my_mariadb_gtid_list *list);
void my_mariadb_gtid_list_free(my_mariadb_gtid_list *list);

/*
 * Replaces list with the GTIDs of text ("D-S-N,D-S-N", blanks allowed; ""
 * is the empty list). Two GTIDs of one domain are an error, as on the
 * server.
 */
sl_code my_mariadb_gtid_list_parse(my_mariadb_gtid_list *list, const char *text, sl_error *err);

/* Sets the domain's GTID to g (the replica state after applying g). */
sl_code my_mariadb_gtid_list_set(my_mariadb_gtid_list *list, const my_mariadb_gtid *g,
                                 sl_error *err);

/* The GTID of domain, or NULL. */
const my_mariadb_gtid *my_mariadb_gtid_list_find(const my_mariadb_gtid_list *list, uint32_t domain);

/* Appends the text form ("" for the empty list) to out. */
void my_mariadb_gtid_list_format(const my_mariadb_gtid_list *list, sl_buf *out);

#endif
