/*
 * Offset stores: where a connector's durable position lives between runs,
 * chosen by offset.storage.
 *
 *   file   one small JSON file per connector (offsets.h), the default;
 *   kafka  a compacted Kafka topic in Kafka Connect's format (connect.h),
 *          shared with Kafka Connect workers, so that a container needs no
 *          volume and Debezium and sluice can take over from each other.
 *
 * A store keeps what the source gives it: the position's text
 * (position_format) and the source's state ("" for none). A store is used by
 * one thread at a time: the pipeline thread of its connector, or the command
 * line of `sluice offsets`.
 */
#ifndef SLUICE_OFFSETS_STORE_H
#define SLUICE_OFFSETS_STORE_H

#include <stdbool.h>

#include "sluice/config.h"
#include "sluice/error.h"
#include "sluice/memory.h"
#include "sluice/source.h"

typedef struct sl_offset_store sl_offset_store;

typedef struct sl_offset_store_ops {
    const char *name; /* the offset.storage value */

    /*
     * Prepares the store of the connector cfg describes. create: make what
     * is missing (the Kafka topic) so that writes can follow; without it, a
     * missing topic reads as nothing stored.
     */
    sl_code (*open)(const sl_config *cfg, const sl_source_ops *source, bool create,
                    sl_offset_store **out, sl_error *err);

    /*
     * Appends the stored position's text and state (nothing when there is
     * none); *found is false when nothing is stored. stored, when not NULL,
     * gets the record as it is kept (the file's position, Connect's map).
     */
    sl_code (*read)(sl_offset_store *st, sl_buf *position, sl_buf *state, bool *found,
                    sl_buf *stored, sl_error *err);

    /* Replaces the stored position; returns once it is durable. */
    sl_code (*write)(sl_offset_store *st, const char *position, const char *state, sl_error *err);

    /* Forgets the stored position, so that the next start is a first one. */
    sl_code (*reset)(sl_offset_store *st, sl_error *err);

    void (*close)(sl_offset_store *st);
} sl_offset_store_ops;

/* The part every store begins with. */
struct sl_offset_store {
    const sl_offset_store_ops *ops;
    char where[512]; /* the store in messages: offsets file "x", offsets topic "t" key ... */
};

extern const sl_offset_store_ops sl_offset_store_file;
extern const sl_offset_store_ops sl_offset_store_kafka;

/* The store offset.storage selects; NULL for an unknown name. */
const sl_offset_store_ops *sl_offset_store_lookup(const char *name);

/* Opens the store offset.storage selects for the connector of cfg. */
sl_code sl_offset_store_open(const sl_config *cfg, const sl_source_ops *source, bool create,
                             sl_offset_store **out, sl_error *err);

static inline sl_code sl_offset_store_read(sl_offset_store *st, sl_buf *position, sl_buf *state,
                                           bool *found, sl_buf *stored, sl_error *err)
{
    return st->ops->read(st, position, state, found, stored, err);
}

static inline sl_code sl_offset_store_write(sl_offset_store *st, const char *position,
                                            const char *state, sl_error *err)
{
    return st->ops->write(st, position, state, err);
}

static inline sl_code sl_offset_store_reset(sl_offset_store *st, sl_error *err)
{
    return st->ops->reset(st, err);
}

static inline const char *sl_offset_store_where(const sl_offset_store *st)
{
    return st->where;
}

/* Closes st (which may be NULL). */
static inline void sl_offset_store_close(sl_offset_store *st)
{
    if (st)
        st->ops->close(st);
}

/* The keys of the kafka store, validated only when offset.storage selects it. */
const sl_config_key *sl_offset_store_kafka_keys(void);

#endif
