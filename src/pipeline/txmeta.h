/*
 * Transaction metadata (provide.transaction.metadata), as Debezium writes
 * it: a BEGIN and an END record per transaction on topic
 * <topic.prefix>.transaction, and a transaction block in each change event
 * ({id, total_order, data_collection_order}).
 *
 * It is a stage of the core, the same for every source: a source only
 * names its transactions (sl_item.txid on BEGIN and COMMIT, sl_event.txid
 * on each event, see source.h); the counting, the records and their schemas
 * are here. The pipeline calls it on its own thread, item by item, in
 * commit order.
 *
 * Memory: the records this returns live in the state's arena until the next
 * sl_txmeta_begin(); a transaction block returned by sl_txmeta_event() is
 * valid until the next call.
 */
#ifndef SLUICE_TXMETA_H
#define SLUICE_TXMETA_H

#include "sluice/error.h"
#include "sluice/event.h"
#include "sluice/source.h"

typedef struct sl_txmeta sl_txmeta;

/* A state for the connector whose topics start with topic_prefix; NULL when out of memory. */
sl_txmeta *sl_txmeta_new(const char *topic_prefix);
void sl_txmeta_free(sl_txmeta *tm);

/*
 * A transaction starts: forgets the previous one (also one left open by a
 * source that sent a transaction again after reconnecting) and returns its
 * BEGIN record (status BEGIN, id, null counts, ts_ms).
 */
sl_event *sl_txmeta_begin(sl_txmeta *tm, const char *txid, int64_t ts_ms);

/*
 * A transaction that was cut into pieces goes on after a restart from a
 * position inside it: it is open again with the counts that position
 * carried (source.h, position_tx_counts), and no BEGIN record is written.
 */
void sl_txmeta_resume(sl_txmeta *tm, const sl_tx_counts *counts);

/* The id of the open transaction (valid while it is open), or NULL. */
const char *sl_txmeta_open_txid(const sl_txmeta *tm);

/*
 * The open transaction's counts so far, its tables in first-seen order;
 * out points into tm, valid until the next call.
 */
void sl_txmeta_counts(sl_txmeta *tm, sl_tx_counts *out);

/*
 * Counts a change event of the open transaction and returns its block, or
 * NULL when no transaction is open or the event carries no id.
 */
const sl_tx_block *sl_txmeta_event(sl_txmeta *tm, const sl_event *ev);

/*
 * The open transaction ends: returns its END record (event_count, the
 * per-table counts in the order of Java's HashMap, which is Debezium's), or
 * NULL when none is open.
 */
sl_event *sl_txmeta_end(sl_txmeta *tm, const char *txid, int64_t ts_ms);

/*
 * The name a table's events are counted under: "schema.table", or
 * "database.table"; a stream of messages is counted under its topic.
 */
void sl_txmeta_collection_name(const sl_table *t, char *out, size_t size);

#endif
