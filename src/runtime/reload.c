/*
 * The connector files of `sluice run` and the plan of a reload (reload.h).
 * Runs on the main thread only.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/config_load.h"
#include "runtime/reload.h"

typedef struct path_list {
    char **paths;
    size_t n, cap;
} path_list;

static void add_path(path_list *l, const char *path)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->paths = realloc(l->paths, l->cap * sizeof *l->paths);
        if (!l->paths)
            abort();
    }
    if (!(l->paths[l->n++] = strdup(path)))
        abort();
}

static void free_paths(path_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
}

static int compare_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the *.json files of directory dir, in name order. */
static sl_code scan_directory(const char *dir, path_list *out, sl_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return sl_error_set(err, SL_CONFIG, "could not open directory \"%s\": %s", dir,
                            strerror(errno));
    size_t first = out->n;
    /* "dir/" and "dir" name the same files: dir/a.json, never dir//a.json. */
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0 && e->d_name[0] != '.') {
            char path[4096];
            snprintf(path, sizeof path, "%.*s/%s", (int)dlen, dir, e->d_name);
            add_path(out, path);
        }
    }
    closedir(d);
    if (out->n == first)
        return sl_error_set(err, SL_CONFIG, "directory \"%s\" has no *.json connector files", dir);
    qsort(out->paths + first, out->n - first, sizeof *out->paths, compare_paths);
    return SL_OK;
}

sl_code sl_reload_scan(int argc, char *const *argv, char ***paths, size_t *n, sl_error *err)
{
    path_list l = {0};
    for (int i = 0; i < argc; i++) {
        struct stat st;
        sl_code rc = SL_OK;
        if (stat(argv[i], &st) != 0)
            rc =
                sl_error_set(err, SL_CONFIG, "could not open \"%s\": %s", argv[i], strerror(errno));
        else if (S_ISDIR(st.st_mode))
            rc = scan_directory(argv[i], &l, err);
        else
            add_path(&l, argv[i]);
        if (rc != SL_OK) {
            free_paths(&l);
            return rc;
        }
    }
    *paths = l.paths;
    *n = l.n;
    return SL_OK;
}

bool sl_reload_conflict(const sl_connector *a, const char *a_path, const sl_connector *b,
                        const char *b_path, sl_error *err)
{
    char shown[1100];
    if (strcmp(sl_config_name(a->cfg), sl_config_name(b->cfg)) == 0) {
        sl_error_set(err, SL_CONFIG, "file \"%s\": connector name%s is also used by \"%s\"", b_path,
                     sl_config_show(b->cfg, "name", shown, sizeof shown), a_path);
        return true;
    }
    const char *key = "offset.storage.file.filename";
    if (strcmp(sl_config_str(a->cfg, key), sl_config_str(b->cfg, key)) == 0) {
        sl_error_set(err, SL_CONFIG, "file \"%s\": offsets file%s is also used by \"%s\"", b_path,
                     sl_config_show(b->cfg, key, shown, sizeof shown), a_path);
        return true;
    }
    return false;
}

/*
 * Whether files[i] conflicts with what will run beside it: the members that
 * stay as they are (not removed, not replaced by an accepted file, not the
 * one files[i] replaces) and the files accepted so far.
 */
static bool conflicts(const sl_reload_file *files, size_t nfiles, const bool *accepted, size_t i,
                      const sl_reload_member *members, size_t nmembers, const bool *removed,
                      const bool *replaced, sl_error *err)
{
    const sl_reload_file *f = &files[i];
    for (size_t j = 0; j < nmembers; j++) {
        if (removed[j] || replaced[j] || (long)j == f->member)
            continue;
        if (sl_reload_conflict(members[j].conn, members[j].path, f->conn, f->path, err))
            return true;
    }
    for (size_t k = 0; k < nfiles; k++) {
        if (k != i && accepted[k] &&
            sl_reload_conflict(files[k].conn, files[k].path, f->conn, f->path, err))
            return true;
    }
    return false;
}

void sl_reload_plan(sl_reload_file *files, size_t nfiles, const sl_reload_member *members,
                    size_t nmembers, bool *removed)
{
    bool *replaced = calloc(nmembers ? nmembers : 1, sizeof *replaced);
    bool *accepted = calloc(nfiles ? nfiles : 1, sizeof *accepted);
    bool *pending = calloc(nfiles ? nfiles : 1, sizeof *pending);
    if (!replaced || !accepted || !pending)
        abort();
    for (size_t j = 0; j < nmembers; j++)
        removed[j] = true;
    for (size_t i = 0; i < nfiles; i++) {
        sl_reload_file *f = &files[i];
        f->member = -1;
        for (size_t j = 0; j < nmembers && f->member < 0; j++)
            if (strcmp(members[j].path, f->path) == 0)
                f->member = (long)j;
        if (f->member >= 0)
            removed[f->member] = false;
        if (!f->conn)
            f->action = SL_RELOAD_REFUSED;
        else if (f->member >= 0 && sl_config_same(members[f->member].conn->cfg, f->conn->cfg))
            f->action = SL_RELOAD_UNCHANGED;
        else
            pending[i] = true;
    }

    /* Until nothing more can be accepted: each acceptance may clear another's conflict. */
    for (bool progress = true; progress;) {
        progress = false;
        for (size_t i = 0; i < nfiles; i++) {
            sl_error ignored;
            if (!pending[i] || conflicts(files, nfiles, accepted, i, members, nmembers, removed,
                                         replaced, &ignored))
                continue;
            pending[i] = false;
            accepted[i] = true;
            files[i].action = files[i].member >= 0 ? SL_RELOAD_CHANGED : SL_RELOAD_ADDED;
            if (files[i].member >= 0)
                replaced[files[i].member] = true;
            progress = true;
        }
    }
    /*
     * What is left waits on another file that waits too: files that swap
     * names, say. Accept them all, then drop one that conflicts with what
     * would run beside it, one at a time (a dropped file's member stays,
     * which may drop another), until none does.
     */
    for (size_t i = 0; i < nfiles; i++) {
        if (!pending[i])
            continue;
        accepted[i] = true;
        if (files[i].member >= 0)
            replaced[files[i].member] = true;
    }
    for (bool dropped = true; dropped;) {
        dropped = false;
        for (size_t i = 0; i < nfiles && !dropped; i++) {
            sl_error ignored;
            if (!pending[i] || !accepted[i] ||
                !conflicts(files, nfiles, accepted, i, members, nmembers, removed, replaced,
                           &ignored))
                continue;
            accepted[i] = false;
            if (files[i].member >= 0)
                replaced[files[i].member] = false;
            dropped = true;
        }
    }
    for (size_t i = 0; i < nfiles; i++) {
        if (!pending[i])
            continue;
        if (accepted[i]) {
            files[i].action = files[i].member >= 0 ? SL_RELOAD_CHANGED : SL_RELOAD_ADDED;
            continue;
        }
        conflicts(files, nfiles, accepted, i, members, nmembers, removed, replaced, &files[i].err);
        files[i].action = SL_RELOAD_REFUSED;
    }
    free(replaced);
    free(accepted);
    free(pending);
}
