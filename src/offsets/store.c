/*
 * Offset stores (store.h): selection, and the file store over offsets.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "offsets/offsets.h"
#include "offsets/store.h"

/* Kafka Connect's class names are accepted too, as Debezium Server's configurations use them. */
const sl_offset_store_ops *sl_offset_store_lookup(const char *name)
{
    if (strcasecmp(name, "file") == 0 ||
        strcmp(name, "org.apache.kafka.connect.storage.FileOffsetBackingStore") == 0)
        return &sl_offset_store_file;
    if (strcasecmp(name, "kafka") == 0 ||
        strcmp(name, "org.apache.kafka.connect.storage.KafkaOffsetBackingStore") == 0)
        return &sl_offset_store_kafka;
    return NULL;
}

sl_code sl_offset_store_open(const sl_config *cfg, const sl_source_ops *source, bool create,
                             sl_offset_store **out, sl_error *err)
{
    const sl_offset_store_ops *ops = sl_offset_store_lookup(sl_config_str(cfg, "offset.storage"));
    if (!ops)
        return sl_error_set(err, SL_CONFIG, "key \"offset.storage\": unknown store");
    return ops->open(cfg, source, create, out, err);
}

/* ---- the file store ---- */

/* Long enough for any position a source writes; offsets.c refuses longer ones. */
#define FILE_POSITION_MAX 4096

typedef struct file_store {
    sl_offset_store base;
    const char *path; /* the configuration's, which outlives the store */
    const char *name;
    const char *source;
} file_store;

static sl_code file_open(const sl_config *cfg, const sl_source_ops *source, bool create,
                         sl_offset_store **out, sl_error *err)
{
    (void)create; /* the file and its directory are made by the first write */
    file_store *fs = calloc(1, sizeof *fs);
    if (!fs)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    fs->base.ops = &sl_offset_store_file;
    fs->path = sl_config_str(cfg, "offset.storage.file.filename");
    fs->name = sl_config_name(cfg);
    fs->source = source->name;
    snprintf(fs->base.where, sizeof fs->base.where, "offsets file \"%s\"", fs->path);
    *out = &fs->base;
    return SL_OK;
}

static sl_code file_read(sl_offset_store *st, sl_buf *position, sl_buf *state, bool *found,
                         sl_buf *stored, sl_error *err)
{
    file_store *fs = (file_store *)st;
    char *text = malloc(FILE_POSITION_MAX);
    if (!text)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    sl_code rc = sl_offsets_read_state(fs->path, fs->name, fs->source, text, FILE_POSITION_MAX,
                                       state, found, err);
    if (rc == SL_OK && *found) {
        sl_buf_puts(position, text);
        if (stored)
            sl_buf_puts(stored, text);
    }
    free(text);
    return rc;
}

static sl_code file_write(sl_offset_store *st, const char *position, const char *state,
                          sl_error *err)
{
    file_store *fs = (file_store *)st;
    return sl_offsets_write_state(fs->path, fs->name, fs->source, position, state, err);
}

static sl_code file_reset(sl_offset_store *st, sl_error *err)
{
    file_store *fs = (file_store *)st;
    if (unlink(fs->path) != 0 && errno != ENOENT)
        return sl_error_set(err, SL_IO, "could not remove offsets file \"%s\": %s", fs->path,
                            strerror(errno));
    return SL_OK;
}

static void file_close(sl_offset_store *st)
{
    free(st);
}

const sl_offset_store_ops sl_offset_store_file = {
    .name = "file",
    .open = file_open,
    .read = file_read,
    .write = file_write,
    .reset = file_reset,
    .close = file_close,
};
