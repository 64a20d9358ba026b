/*
 * Heartbeat records (heartbeat.h). The key never changes; the value is the
 * time the record was made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/heartbeat.h"
#include "sluice/memory.h"
#include "sluice/schema.h"

struct sl_heartbeat {
    sl_table table;
    sl_arena arena;
    sl_value key[1];
    sl_value value[1];
    sl_event record;
};

sl_heartbeat *sl_heartbeat_new(const char *topic_prefix, const char *heartbeat_prefix)
{
    sl_heartbeat *hb = calloc(1, sizeof *hb);
    if (!hb)
        return NULL;
    sl_arena_init(&hb->arena, 2048);
    size_t n = strlen(heartbeat_prefix) + strlen(topic_prefix) + 2;
    char *topic = sl_arena_alloc(&hb->arena, n);
    snprintf(topic, n, "%s.%s", heartbeat_prefix, topic_prefix);
    hb->table.topic = topic;
    hb->table.name = "heartbeat";
    hb->table.plain_record = true;
    sl_error err;
    if (sl_schema_parse_json(sl_embedded_schema("heartbeat-key.json"), &hb->arena,
                             &hb->table.key_schema, &err) != SL_OK ||
        sl_schema_parse_json(sl_embedded_schema("heartbeat-value.json"), &hb->arena,
                             &hb->table.row_schema, &err) != SL_OK) {
        sl_heartbeat_free(hb);
        return NULL;
    }
    const char *name = sl_arena_strdup(&hb->arena, topic_prefix);
    hb->key[0] = sl_value_string(name, (uint32_t)strlen(name));
    return hb;
}

void sl_heartbeat_free(sl_heartbeat *hb)
{
    if (!hb)
        return;
    sl_table_drop_cache(&hb->table);
    sl_arena_destroy(&hb->arena);
    free(hb);
}

sl_event *sl_heartbeat_record(sl_heartbeat *hb, int64_t now_ms)
{
    hb->value[0] = sl_value_int(now_ms);
    memset(&hb->record, 0, sizeof hb->record);
    hb->record.op = SL_OP_MESSAGE;
    hb->record.table = &hb->table;
    hb->record.key = hb->key;
    hb->record.after = hb->value;
    return &hb->record;
}
