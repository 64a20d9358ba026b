/*
 * Which connector files `sluice run` runs, and what a reload (SIGHUP) does
 * with them: the files the command line's FILE and DIR arguments name now,
 * and, compared with the connectors running, which are added, changed,
 * removed, unchanged or refused. No threads here: the supervisor
 * (supervisor.h) applies the plan.
 *
 * Files are told apart by path, and compared by what they load to (after
 * ${...} substitution, sl_config_same): a file only reformatted changes
 * nothing, a secret file that changed restarts its connector. The set that
 * results must be one that could start together: no two connectors with the
 * same name or the same offsets file. A file that is invalid, or that would
 * break that rule, is refused alone; the connector of its path, if one runs,
 * keeps its current configuration.
 */
#ifndef SLUICE_RELOAD_H
#define SLUICE_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/connector.h"

/*
 * The connector files that args (FILE or DIR, argc of them) name: a FILE as
 * given, a DIR as each *.json in it not starting with a dot, in name order.
 * Fails, naming the argument, when one cannot be opened or a DIR has no
 * *.json. On success *paths is an array of *n new strings; the caller frees
 * each and the array.
 */
sl_code sl_reload_scan(int argc, char *const *argv, char ***paths, size_t *n, sl_error *err);

/*
 * Whether connectors a (from file a_path) and b (from b_path) cannot run
 * side by side: the same name, or the same offsets file. If so, err says
 * why, naming b's file first; values are shown as sl_config_show shows them.
 */
bool sl_reload_conflict(const sl_connector *a, const char *a_path, const sl_connector *b,
                        const char *b_path, sl_error *err);

/* A connector that runs now, as the planner sees it (borrowed). */
typedef struct sl_reload_member {
    const char *path;
    const sl_connector *conn;
} sl_reload_member;

typedef enum sl_reload_action {
    SL_RELOAD_UNCHANGED, /* loads to what its member runs: nothing to do */
    SL_RELOAD_ADDED,     /* no member has its path: start it */
    SL_RELOAD_CHANGED,   /* its member runs another configuration: restart with this one */
    SL_RELOAD_REFUSED,   /* invalid, or in conflict (err says why): its member, if any, stays */
} sl_reload_action;

/* A file found by a reload. path and conn are owned by whoever fills it in. */
typedef struct sl_reload_file {
    char *path;
    sl_connector *conn; /* NULL when the file did not load; then err says why */
    sl_error err;
    sl_reload_action action; /* set by sl_reload_plan */
    long member;             /* set by sl_reload_plan: the member of the same path, or -1 */
} sl_reload_file;

/*
 * Decides each file's action against the members running now, and sets
 * removed[j] for each member whose path no file has. A file whose conn is
 * NULL is refused with its err. Among the files to add or change, each is
 * accepted unless it conflicts with a member that stays or a file accepted
 * before it; a file held back by a conflict is tried again after the others,
 * so that a name handed from one file to another in the same reload (or two
 * files swapping names) is not refused for the order of the files.
 */
void sl_reload_plan(sl_reload_file *files, size_t nfiles, const sl_reload_member *members,
                    size_t nmembers, bool *removed);

#endif
