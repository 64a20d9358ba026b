/*
 * Positions of the MySQL/MariaDB source: where in the binlog a change or a
 * transaction ends, in the terms of Debezium's MySQL offset, so that the
 * Kafka offset store maps one to the other key for key:
 *
 *   file, pos   where to restart reading: after the last complete
 *               transaction, or, inside a transaction, its BEGIN (MySQL's
 *               BEGIN query, MariaDB's GTID event)
 *   gtids       the GTID set (MySQL) or GTID position (MariaDB) of the
 *               complete transactions: where a restart by GTID starts,
 *               on this server or, after a failover, on another
 *   event, row  inside a transaction: how many of its events (counting
 *               the BEGIN as the first) were emitted completely, and how
 *               many rows of the next one: a restart skips them, so a
 *               large transaction is not sent again from its start
 *   server_id   of the last event (Debezium's offset has it)
 *   ts_sec      the last event's timestamp
 * and sluice's own: server_uuid, the MySQL server the file/pos belong to
 * (a restart elsewhere must go by GTIDs), and gtid, the transaction that
 * event/row count inside (a restart by GTID may meet other transactions
 * first, on MariaDB with several domains).
 *
 * In the checkpoint ring a position is a compact binary form of at most
 * SL_POSITION_MAX bytes; in the offsets file it is the JSON object above.
 * A GTID set too large for the binary form is left out of it (the position
 * then restarts by file and position, on the same server only), and the
 * encoder says so, for the source to warn.
 */
#ifndef SLUICE_MY_POSITION_H
#define SLUICE_MY_POSITION_H

#include <stdbool.h>
#include <stdint.h>

#include "mysql/my_gtid.h"
#include "sluice/error.h"
#include "sluice/memory.h"
#include "sluice/position.h"
#include "sluice/source.h"

/* One transaction's GTID, of either server family. */
typedef struct my_tx_gtid {
    uint8_t uuid[16]; /* MySQL */
    char tag[MY_GTID_TAG_MAX + 1];
    int64_t gno;
    uint32_t domain; /* MariaDB */
    uint32_t server_id;
    uint64_t seq;
} my_tx_gtid;

typedef struct my_position {
    bool mariadb;
    char file[256]; /* "" when unknown */
    uint64_t pos;
    uint32_t event;
    uint32_t row;
    uint32_t server_id;
    uint32_t ts_sec;
    bool has_uuid;
    uint8_t uuid[16];
    /*
     * The GTIDs of the complete transactions, NULL when none are known. For
     * encoding they may point to the caller's sets; decoding and parsing
     * point them to own_gtids / own_mgtids, freed by my_position_free.
     */
    const my_gtid_set *gtids;
    const my_mariadb_gtid_list *mgtids;
    bool has_gtid; /* the transaction event/row count inside */
    my_tx_gtid gtid;
    my_gtid_set own_gtids;
    my_mariadb_gtid_list own_mgtids;
    /*
     * The snapshot state version of the position (binary form only: the
     * offsets file stores the state itself next to the text); 0 none.
     */
    uint64_t snap_version;
    /*
     * Transaction metadata counts the pipeline added to a position inside a
     * transaction (source.h, position_add_tx_counts), in the binary form
     * my_position.c describes; NULL when none. Decoding and parsing point it
     * to own_tx_counts. In the offsets file they are Debezium's offset
     * members transaction_id and transaction_data_collection_order_<table>.
     */
    const uint8_t *tx_counts;
    size_t tx_counts_len;
    sl_buf own_tx_counts;
} my_position;

void my_position_init(my_position *p);
void my_position_free(my_position *p);

/*
 * The binary form. *gtids_dropped (may be NULL) is set when the GTID set
 * did not fit and was left out. SL_INVALID when even the rest does not fit
 * (a binlog file name of more than 150 bytes).
 */
sl_code my_position_encode(const my_position *p, sl_position *out, bool *gtids_dropped,
                           sl_error *err);

/* Reads the binary form into p (initialized by the caller, freed by my_position_free). */
sl_code my_position_decode(const sl_position *in, my_position *p, sl_error *err);

/* Appends the JSON object text of the offsets file. */
void my_position_format(const my_position *p, sl_buf *out);

/*
 * Reads that JSON object, or Debezium's MySQL offset map (the same keys;
 * "snapshot" and other keys are ignored). mariadb says how "gtids" is to be
 * read. SL_STATE names what is missing or malformed, never quoting text.
 */
sl_code my_position_parse(const char *text, bool mariadb, my_position *p, sl_error *err);

/* The flag of the binary form (its second byte) that says counts follow, last. */
#define MY_POSITION_F_TX_COUNTS 32

/*
 * Appends to out the binary form of counts; SL_INVALID when a name or the
 * id is longer than a position could hold.
 */
sl_code my_tx_counts_encode(const sl_tx_counts *counts, sl_buf *out, sl_error *err);

/*
 * Reads the binary form of transaction metadata counts (my_position.tx_counts)
 * into out, its strings and array in arena; false when malformed.
 */
bool my_tx_counts_decode(const uint8_t *bytes, size_t len, sl_arena *arena, sl_tx_counts *out);

/* The text of a transaction's GTID: "uuid:gno", "uuid:tag:gno" or "domain-server-seq". */
void my_tx_gtid_format(const my_tx_gtid *g, bool mariadb, sl_buf *out);

#endif
