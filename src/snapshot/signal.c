/*
 * Signals (signal.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot/signal.h"
#include "sluice/filter.h"
#include "sluice/log.h"

#define SIGNAL_FILE_MAX (1024 * 1024)

/* One expression as a filter: commas inside it must not split it. */
static sl_filter *pattern_filter(const char *pattern)
{
    sl_buf b;
    sl_buf_init(&b);
    for (const char *p = pattern; *p; p++) {
        if (*p == ',')
            sl_buf_putc(&b, '\\');
        sl_buf_putc(&b, *p);
    }
    sl_filter *f = NULL;
    sl_error err;
    if (sl_filter_new_from(sl_buf_cstr(&b), NULL, &f, &err) != SL_OK) {
        sl_warn("signal: %s", err.msg);
        f = NULL;
    }
    sl_buf_free(&b);
    return f;
}

/* The filter of the first additional condition whose data-collection matches id. */
static const char *condition_for(json_t *conditions, const char *id)
{
    size_t i;
    json_t *c;
    json_array_foreach(conditions, i, c)
    {
        const char *dc = json_string_value(json_object_get(c, "data-collection"));
        const char *filter = json_string_value(json_object_get(c, "filter"));
        if (!dc || !filter)
            continue;
        sl_filter *f = pattern_filter(dc);
        bool match = f && sl_filter_match(f, id);
        sl_filter_free(f);
        if (match)
            return filter;
    }
    return NULL;
}

static void execute_snapshot(sl_snapshot *s, const char *id, json_t *data,
                             const char *const *tables, size_t ntables)
{
    json_t *collections = json_object_get(data, "data-collections");
    if (!json_is_array(collections) || json_array_size(collections) == 0) {
        sl_warn("signal \"%s\": execute-snapshot without data-collections; ignored", id);
        return;
    }
    const char *type = json_string_value(json_object_get(data, "type"));
    if (type && strcasecmp(type, "incremental") != 0) {
        if (strcasecmp(type, "blocking") == 0) {
            sl_warn("signal \"%s\": a blocking snapshot is taken as an incremental one (same "
                    "rows, streaming does not stop)",
                    id);
        } else {
            sl_warn("signal \"%s\": unknown snapshot type \"%s\"; ignored", id, type);
            return;
        }
    }
    if (json_object_get(data, "surrogate-key"))
        sl_warn("signal \"%s\": surrogate-key is not supported; the primary key is used", id);
    json_t *conditions = json_object_get(data, "additional-conditions");
    /* Debezium 1.x's single additional-condition applies to every collection. */
    const char *single = json_string_value(json_object_get(data, "additional-condition"));

    size_t added = 0;
    size_t i;
    json_t *c;
    json_array_foreach(collections, i, c)
    {
        const char *pattern = json_string_value(c);
        if (!pattern)
            continue;
        while (*pattern == ' ')
            pattern++;
        /* As Debezium: an expression that matches no captured table is taken as a name. */
        sl_filter *f = pattern_filter(pattern);
        size_t matched = 0;
        for (size_t t = 0; f && t < ntables; t++) {
            if (!sl_filter_match(f, tables[t]))
                continue;
            matched++;
            const char *cond = single ? single : condition_for(conditions, tables[t]);
            sl_error err;
            if (sl_snapshot_add(s, SL_SNAP_INCREMENTAL, tables[t], cond, &err) == SL_OK)
                added++;
        }
        sl_filter_free(f);
        if (!matched) {
            sl_error err;
            const char *cond = single ? single : condition_for(conditions, pattern);
            if (sl_snapshot_add(s, SL_SNAP_INCREMENTAL, pattern, cond, &err) == SL_OK)
                added++;
        }
    }
    sl_info("signal \"%s\": incremental snapshot of %zu table%s requested", id, added,
            added == 1 ? "" : "s");
}

static void stop_snapshot(sl_snapshot *s, const char *id, json_t *data)
{
    const char *type = json_string_value(json_object_get(data, "type"));
    if (type && strcasecmp(type, "incremental") != 0 && strcasecmp(type, "blocking") != 0) {
        sl_warn("signal \"%s\": unknown snapshot type \"%s\"; ignored", id, type);
        return;
    }
    json_t *collections = json_object_get(data, "data-collections");
    size_t n = json_is_array(collections) ? json_array_size(collections) : 0;
    const char **patterns = calloc(n ? n : 1, sizeof *patterns);
    if (!patterns)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (json_string_value(json_array_get(collections, i)))
            patterns[k++] = json_string_value(json_array_get(collections, i));
    size_t removed = sl_snapshot_stop(s, SL_SNAP_INCREMENTAL, patterns, k);
    sl_info("signal \"%s\": stop-snapshot removed %zu table%s", id, removed,
            removed == 1 ? "" : "s");
    free(patterns);
}

void sl_signal_apply(sl_snapshot *s, const char *id, const char *type, const char *data,
                     const char *const *tables, size_t ntables)
{
    if (!id)
        id = "";
    if (!type) {
        sl_warn("signal \"%s\" has no type; ignored", id);
        return;
    }
    json_t *root = NULL;
    if (data && *data) {
        json_error_t jerr;
        root = json_loads(data, 0, &jerr);
        if (!root) {
            sl_warn("signal \"%s\" (%s): data is not JSON (%s); ignored", id, type, jerr.text);
            return;
        }
    } else {
        root = json_object();
    }
    if (strcmp(type, "execute-snapshot") == 0)
        execute_snapshot(s, id, root, tables, ntables);
    else if (strcmp(type, "stop-snapshot") == 0)
        stop_snapshot(s, id, root);
    else if (strcmp(type, "pause-snapshot") == 0)
        sl_snapshot_pause(s, true);
    else if (strcmp(type, "resume-snapshot") == 0)
        sl_snapshot_pause(s, false);
    else if (strcmp(type, "log") == 0) {
        const char *msg = json_string_value(json_object_get(root, "message"));
        sl_info("signal \"%s\": %s", id, msg ? msg : "");
    } else if (strcmp(type, "snapshot-window-open") == 0 ||
               strcmp(type, "snapshot-window-close") == 0) {
        /* Debezium's own watermarks, left in a shared signal table: nothing to do. */
    } else {
        sl_warn("signal \"%s\": unknown type \"%s\"; ignored", id, type);
    }
    json_decref(root);
}

sl_code sl_signal_file_poll(const char *path, sl_signal_fn fn, void *ctx, sl_error *err)
{
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return SL_OK;
        return sl_error_set(err, SL_IO, "could not open signal file \"%s\": %s", path,
                            strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sl_error_set(err, SL_IO, "signal file \"%s\" is not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return SL_OK;
    }
    if (st.st_size > SIGNAL_FILE_MAX) {
        close(fd);
        return sl_error_set(err, SL_IO, "signal file \"%s\" is larger than 1 MiB", path);
    }
    char *text = malloc((size_t)st.st_size + 1);
    if (!text)
        abort();
    ssize_t n = pread(fd, text, (size_t)st.st_size, 0);
    if (n < 0) {
        sl_code rc = sl_error_set(err, SL_IO, "could not read signal file \"%s\": %s", path,
                                  strerror(errno));
        free(text);
        close(fd);
        return rc;
    }
    text[n] = '\0';
    /* Emptied before the signals run, as Debezium does: a crash loses them rather than repeats. */
    if (ftruncate(fd, 0) != 0) {
        sl_code rc = sl_error_set(err, SL_IO, "could not empty signal file \"%s\": %s", path,
                                  strerror(errno));
        free(text);
        close(fd);
        return rc;
    }
    close(fd);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ' || *line == '\t' || *line == '\r')
            line++;
        if (!*line)
            continue;
        json_error_t jerr;
        json_t *sig = json_loads(line, 0, &jerr);
        const char *id = json_string_value(json_object_get(sig, "id"));
        const char *type = json_string_value(json_object_get(sig, "type"));
        json_t *data = json_object_get(sig, "data");
        if (!sig || !id || !type) {
            sl_warn("signal file \"%s\": skipped a line that is not a signal "
                    "{\"id\", \"type\", \"data\"}",
                    path);
            json_decref(sig);
            continue;
        }
        char *data_text = data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        sl_info("signal file \"%s\": signal \"%s\" of type \"%s\"", path, id, type);
        fn(ctx, id, type, data_text);
        free(data_text);
        json_decref(sig);
    }
    free(text);
    return SL_OK;
}
