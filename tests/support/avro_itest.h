/*
 * Helpers for the Avro integration tests: the schema registry scripts/test.sh
 * starts (Apicurio Registry's Confluent API, SLUICE_TEST_REGISTRY), reading
 * topics back with a consumer that is not sluice (tests/lib/avro_topics.py:
 * confluent-kafka and fastavro), and connector files with the Avro keys.
 */
#ifndef SLUICE_AVRO_ITEST_H
#define SLUICE_AVRO_ITEST_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

/* Fails the test unless the registry and the Python reader are there too. */
void ar_require(void);

/* The same without PostgreSQL: Kafka, the registry and the Python reader. */
void ar_require_registry(void);

/* The registry's Confluent API base URL. */
const char *ar_registry(void);

/*
 * An HTTP request to the registry (path after the base URL); returns the
 * parsed JSON answer (or NULL) and sets *status.
 */
json_t *ar_http(const char *method, const char *path, const char *body, long *status);

/* Sets the compatibility level globally (subject NULL) or of one subject. */
void ar_set_compatibility(const char *subject, const char *level);

/* The number of versions under subject (0 when it does not exist). */
int ar_versions(const char *subject);

/*
 * Reads topics back from the beginning with tests/lib/avro_topics.py into
 * dir/name.jsonl and returns its lines as a JSON array. prefix selects every
 * topic "<prefix>.*"; raw keeps decimals as their bytes (for comparing with
 * the JSON converter); schemas, when set, gets the subjects' versions.
 */
json_t *ar_read_topics(const char *dir, const char *name, const char *prefix, bool raw,
                       const char *schemas);

/*
 * The same, and topic too (a topic "<prefix>.*" does not select, such as
 * the MySQL schema change topic, named the prefix itself).
 */
json_t *ar_read_topics_and(const char *dir, const char *name, const char *prefix, bool raw,
                           const char *schemas, const char *topic);

/* The same from offset from_offset of each partition. */
json_t *ar_read_topics_from(const char *dir, const char *name, const char *prefix,
                            long from_offset);

/* The messages of one topic out of ar_read_topics' array, in order (new reference). */
json_t *ar_topic(json_t *rows, const char *topic);

/*
 * The JSON members of a connector file that make keys and values Avro with
 * Confluent's converter and this registry (for it_write_config's extra),
 * followed by more (may be ""). Static storage, overwritten by each call.
 */
const char *ar_avro_members(const char *more);

/*
 * it_sluice_start, remembering the process so that ar_cleanup stops it even
 * when an assertion ends the test early.
 */
pid_t ar_sluice_start(const char *config, const char *log_path);

/* A criterion .fini: kills the sluice processes ar_sluice_start left running. */
void ar_cleanup(void);

/* The pid of the running registry (after a restart, the new one's). */
pid_t ar_registry_pid(void);

/*
 * Kills the registry and starts a new one on the same port, which starts
 * empty (in-memory storage), and waits until it answers.
 */
void ar_registry_restart(void);

/* Waits until the registry answers, up to timeout_ms. */
bool ar_registry_wait(int timeout_ms);

#endif
