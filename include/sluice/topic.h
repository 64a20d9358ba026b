/*
 * Kafka topic names, shared by every source.
 *
 * A topic name is made of the topic prefix and the database's own names
 * (schema, table), which may hold any character; Kafka accepts only
 * [a-zA-Z0-9._-] and at most 249 of them, and a produce to any other name
 * fails for good. Debezium's topic naming strategies replace each invalid
 * character with '_' (a character outside the Basic Multilingual Plane, two
 * UTF-16 units in Java, with two), cut the name at 249 and warn; sluice
 * does the same, so that its topics and the schema names derived from them
 * are Debezium's.
 */
#ifndef SLUICE_TOPIC_H
#define SLUICE_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#define SL_TOPIC_MAX 249

/* True when name is a legal Kafka topic name as it is. */
bool sl_topic_is_legal(const char *name);

/*
 * Makes name (NUL-terminated UTF-8; invalid bytes count as one character
 * each) a legal topic name in place; the result is never longer. Logs a
 * warning naming both forms when it changed anything and returns whether it
 * did.
 */
bool sl_topic_sanitize(char *name);

#endif
