/*
 * The offsets file (offsets.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "offsets/offsets.h"

#define RESET_HINT                                                                                 \
    "restore it from a backup, or delete it to start from the source's own position (for "         \
    "PostgreSQL, its replication slot's)"

sl_code sl_offsets_read(const char *path, const char *name, const char *source, char *position,
                        size_t size, bool *found, sl_error *err)
{
    return sl_offsets_read_state(path, name, source, position, size, NULL, found, err);
}

sl_code sl_offsets_read_state(const char *path, const char *name, const char *source,
                              char *position, size_t size, sl_buf *state, bool *found,
                              sl_error *err)
{
    *found = false;
    if (access(path, F_OK) != 0) {
        if (errno == ENOENT)
            return SL_OK;
        return sl_error_set(err, SL_IO, "could not access offsets file \"%s\": %s", path,
                            strerror(errno));
    }
    /*
     * A file that is there but unusable is a state only an operator can
     * settle (SL_STATE): guessing a position could skip or repeat changes.
     * The messages never quote the content, which could be anything.
     */
    struct stat st;
    if (stat(path, &st) != 0)
        return sl_error_set(err, SL_IO, "could not access offsets file \"%s\": %s", path,
                            strerror(errno));
    if (!S_ISREG(st.st_mode))
        return sl_error_set(err, SL_STATE, "offsets file \"%s\" is not a regular file", path);
    if (st.st_size == 0)
        return sl_error_set(err, SL_STATE, "offsets file \"%s\" is empty; %s", path, RESET_HINT);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        if (jerr.line < 0) /* not a syntax error: the file could not be read */
            return sl_error_set(err, SL_IO, "could not read offsets file \"%s\"", path);
        return sl_error_set(err, SL_STATE,
                            "offsets file \"%s\" is not valid JSON (line %d, column %d, %lld "
                            "bytes); %s",
                            path, jerr.line, jerr.column, (long long)st.st_size, RESET_HINT);
    }
    sl_code rc = SL_OK;
    const char *fname = json_string_value(json_object_get(root, "name"));
    const char *fsource = json_string_value(json_object_get(root, "source"));
    json_t *jpos = json_object_get(root, "position");
    /* A source's position text is a string, or a JSON object kept as one in the file. */
    char *fpos = json_is_string(jpos)   ? strdup(json_string_value(jpos))
                 : json_is_object(jpos) ? json_dumps(jpos, JSON_COMPACT | JSON_PRESERVE_ORDER)
                                        : NULL;
    if (!json_is_object(root) || !fname || !fsource || !fpos) {
        rc = sl_error_set(err, SL_STATE,
                          "offsets file \"%s\" lacks \"name\", \"source\" or \"position\"; %s",
                          path, RESET_HINT);
    } else if (strcmp(fname, name) != 0 || strcmp(fsource, source) != 0) {
        rc = sl_error_set(err, SL_CONFIG,
                          "offsets file \"%s\" belongs to connector \"%s\" (%s), not \"%s\" (%s)",
                          path, fname, fsource, name, source);
    } else if (strlen(fpos) >= size) {
        rc = sl_error_set(err, SL_STATE, "offsets file \"%s\": position too long; %s", path,
                          RESET_HINT);
    } else if (json_object_get(root, "state") && !json_is_object(json_object_get(root, "state"))) {
        rc = sl_error_set(err, SL_STATE, "offsets file \"%s\": \"state\" is not an object; %s",
                          path, RESET_HINT);
    } else {
        memcpy(position, fpos, strlen(fpos) + 1);
        *found = true;
        json_t *st = json_object_get(root, "state");
        if (state && st) {
            char *text = json_dumps(st, JSON_COMPACT);
            if (!text)
                rc = sl_error_set(err, SL_NOMEM, "out of memory");
            else
                sl_buf_puts(state, text);
            free(text);
        }
    }
    free(fpos);
    json_decref(root);
    return rc;
}

static sl_code make_dirs(const char *dir, sl_error *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return sl_error_set(err, SL_IO, "offsets directory path too long");
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return sl_error_set(err, SL_IO, "could not create directory \"%s\": %s", tmp,
                                    strerror(errno));
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return sl_error_set(err, SL_IO, "could not create directory \"%s\": %s", tmp,
                            strerror(errno));
    return SL_OK;
}

static sl_code write_all(int fd, const char *data, size_t len, const char *path, sl_error *err)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return sl_error_set(err, SL_IO, "could not write \"%s\": %s", path, strerror(errno));
        }
        data += n;
        len -= (size_t)n;
    }
    return SL_OK;
}

sl_code sl_offsets_write(const char *path, const char *name, const char *source,
                         const char *position, sl_error *err)
{
    return sl_offsets_write_state(path, name, source, position, NULL, err);
}

sl_code sl_offsets_write_state(const char *path, const char *name, const char *source,
                               const char *position, const char *state, sl_error *err)
{
    char dir_buf[4096];
    snprintf(dir_buf, sizeof dir_buf, "%s", path);
    const char *dir = dirname(dir_buf);
    sl_code rc = make_dirs(dir, err);
    if (rc != SL_OK)
        return rc;

    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);

    json_t *jpos = position[0] == '{' ? json_loads(position, 0, NULL) : json_string(position);
    if (!jpos)
        return sl_error_set(err, SL_INVALID, "position to write is not valid JSON");
    json_t *root = json_pack("{s:s, s:s, s:o}", "name", name, "source", source, "position", jpos);
    if (state && *state) {
        json_t *st = json_loads(state, 0, NULL);
        if (!json_is_object(st)) {
            json_decref(st);
            json_decref(root);
            return sl_error_set(err, SL_INTERNAL,
                                "offsets file \"%s\": the source's state is not a JSON object",
                                path);
        }
        json_object_set_new(root, "state", st);
    }
    json_object_set_new(root, "written_at", json_string(stamp));
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        return sl_error_set(err, SL_NOMEM, "could not format offsets");

    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(text);
        return sl_error_set(err, SL_IO, "could not create \"%s\": %s", tmp, strerror(errno));
    }
    rc = write_all(fd, text, strlen(text), tmp, err);
    if (rc == SL_OK)
        rc = write_all(fd, "\n", 1, tmp, err);
    free(text);
    if (rc == SL_OK && fsync(fd) != 0)
        rc = sl_error_set(err, SL_IO, "could not fsync \"%s\": %s", tmp, strerror(errno));
    close(fd);
    if (rc != SL_OK) {
        unlink(tmp);
        return rc;
    }
    if (rename(tmp, path) != 0) {
        rc = sl_error_set(err, SL_IO, "could not rename \"%s\" to \"%s\": %s", tmp, path,
                          strerror(errno));
        unlink(tmp);
        return rc;
    }
    /* The rename is durable only once the directory entry is. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return sl_error_set(err, SL_IO, "could not open directory \"%s\": %s", dir,
                            strerror(errno));
    if (fsync(dfd) != 0)
        rc = sl_error_set(err, SL_IO, "could not fsync directory \"%s\": %s", dir, strerror(errno));
    close(dfd);
    return rc;
}
