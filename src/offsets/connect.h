/*
 * Kafka Connect's offset records, as its workers store them in their offsets
 * topic (offset.storage.topic): the key is the JSON array
 * ["<connector name>",<source partition>] and the value the source's offset
 * map, both written by JsonConverter with schemas disabled. Connect looks
 * offsets up by the exact bytes of the key, so sluice writes them exactly as
 * Jackson does, and partitions them as Kafka's Java producer does.
 */
#ifndef SLUICE_OFFSETS_CONNECT_H
#define SLUICE_OFFSETS_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/memory.h"

/*
 * Appends s (valid UTF-8) as a JSON string the way Connect's JsonConverter
 * (Jackson 2.19) writes it: '"' and '\\' escaped, \b \t \n \f \r as such,
 * other control characters as \u00XX, characters outside the Basic
 * Multilingual Plane as the \uXXXX escapes of their UTF-16 surrogates (hex
 * digits upper case), everything else (other non-ASCII UTF-8, DEL, '/') as
 * it is.
 */
void sl_connect_json_string(sl_buf *out, const char *s);

/*
 * Appends the key of connector name's offset for the source partition
 * {"server":"<server>"} (Debezium's PostgreSQL and MySQL connectors, whose
 * server is topic.prefix): ["name",{"server":"server"}].
 */
void sl_connect_offset_key(sl_buf *out, const char *name, const char *server);

/*
 * The partition Kafka's Java producer picks for a key among partitions:
 * murmur2 of the key bytes, made positive, modulo the count (what librdkafka
 * calls the murmur2_random partitioner).
 */
int32_t sl_connect_partition(const void *key, size_t len, int32_t partitions);

#endif
