/*
 * Transaction metadata (src/pipeline/txmeta.c): BEGIN/END records and the blocks of
 * change events, with data_collections in the order a real Debezium 3.6.1
 * wrote them (Java HashMap order; tests/golden/debezium, variant "modes").
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/txmeta.h"

static sl_table table_named(const char *schema, const char *name, uint64_t version)
{
    sl_table t = {.schema_name = schema, .name = name, .topic = name, .version = version};
    return t;
}

static const char *str(const sl_value *v)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)v->len, v->u.str);
    return buf;
}

Test(txmeta, records_and_blocks_count_events_as_debezium_does)
{
    sl_txmeta *tm = sl_txmeta_new("modes");
    cr_assert_not_null(tm);
    sl_event *begin = sl_txmeta_begin(tm, "942:100", 1700000000123);
    cr_assert_str_eq(begin->table->topic, "modes.transaction");
    cr_assert(begin->table->plain_record);
    cr_assert_str_eq(str(&begin->after[0]), "BEGIN");
    cr_assert_str_eq(str(&begin->after[1]), "942:100");
    cr_assert_eq(begin->after[2].kind, SL_VALUE_NULL);
    cr_assert_eq(begin->after[3].kind, SL_VALUE_NULL);
    cr_assert_eq(begin->after[4].u.i, 1700000000123);
    cr_assert_str_eq(str(&begin->key[0]), "942:100");

    /* The golden transaction: full_ident c, c, composite_pk c, full_ident u, enum_evolve c. */
    sl_table full = table_named("public", "full_ident", 1),
             comp = table_named("public", "composite_pk", 2),
             en = table_named("public", "enum_evolve", 3);
    sl_table *seq[] = {&full, &full, &comp, &full, &en};
    int64_t want_total[] = {1, 2, 3, 4, 5}, want_coll[] = {1, 2, 1, 3, 1};
    for (int i = 0; i < 5; i++) {
        sl_event ev = {.op = SL_OP_CREATE, .table = seq[i], .txid = "942:200"};
        const sl_tx_block *b = sl_txmeta_event(tm, &ev);
        cr_assert_not_null(b);
        cr_assert_str_eq(b->id, "942:200");
        cr_assert_eq(b->total_order, want_total[i]);
        cr_assert_eq(b->data_collection_order, want_coll[i]);
    }
    sl_event *end = sl_txmeta_end(tm, "942:300", 1700000000123);
    cr_assert_str_eq(str(&end->after[0]), "END");
    cr_assert_eq(end->after[2].u.i, 5);
    const sl_value *cols = &end->after[3];
    cr_assert_eq(cols->len, 3);
    const char *order[] = {"public.full_ident", "public.composite_pk", "public.enum_evolve"};
    int64_t counts[] = {3, 1, 1};
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(str(&cols->u.items[i].u.items[0]), order[i]);
        cr_assert_eq(cols->u.items[i].u.items[1].u.i, counts[i]);
    }
    cr_assert_null(sl_txmeta_end(tm, "942:300", 0), "no END without a BEGIN");

    /* TRUNCATE public.composite_pk, public.uniq_only: Debezium lists uniq_only first. */
    sl_txmeta_begin(tm, "930:1", 0);
    sl_table uq = table_named("public", "uniq_only", 4);
    sl_event a = {.op = SL_OP_TRUNCATE, .table = &comp, .txid = "930:2"};
    sl_event b = {.op = SL_OP_TRUNCATE, .table = &uq, .txid = "930:2"};
    sl_txmeta_event(tm, &a);
    sl_txmeta_event(tm, &b);
    end = sl_txmeta_end(tm, "930:3", 0);
    cr_assert_str_eq(str(&end->after[3].u.items[0].u.items[0]), "public.uniq_only");
    cr_assert_str_eq(str(&end->after[3].u.items[1].u.items[0]), "public.composite_pk");

    /* A transaction whose changes were all filtered out: END with no events. */
    sl_txmeta_begin(tm, "943:1", 0);
    end = sl_txmeta_end(tm, "943:2", 0);
    cr_assert_eq(end->after[2].u.i, 0);
    cr_assert_eq(end->after[3].len, 0);
    sl_txmeta_free(tm);
}

/* A transaction resumed inside (a restart from a cut) goes on from the counts it had. */
Test(txmeta, resumed_transaction_counts_on)
{
    sl_txmeta *tm = sl_txmeta_new("p");
    cr_assert_not_null(tm);
    const sl_tx_collection_count cols[] = {{"db.a", 3}, {"db.b", 2}};
    sl_tx_counts counts = {.txid = "file=b.000001,pos=4", .collections = cols, .n = 2};
    sl_txmeta_resume(tm, &counts);
    cr_assert_str_eq(sl_txmeta_open_txid(tm), "file=b.000001,pos=4");
    sl_tx_counts now;
    sl_txmeta_counts(tm, &now);
    cr_assert_eq(now.n, 2);
    cr_assert_str_eq(now.collections[1].name, "db.b");
    cr_assert_eq(now.collections[1].count, 2);
    sl_event *end = sl_txmeta_end(tm, "file=b.000001,pos=4", 0);
    cr_assert_not_null(end);
    cr_assert_eq(end->after[2].u.i, 5, "event_count");
    cr_assert_null(sl_txmeta_open_txid(tm));
    sl_txmeta_free(tm);
}
