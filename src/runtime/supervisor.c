/*
 * The supervisor of `sluice run` (supervisor.h).
 *
 * Everything here runs on the main thread except run_pipeline, the body of
 * each connector's thread. A runner is one connector file's connector: its
 * configuration, its own stop request and, while it runs, its thread. The
 * run list holds the runners the files ask for now; a reload moves the
 * runners it removes or replaces to the leaving list, asks them to stop and
 * frees each once its thread has ended. A runner of the run list is pending
 * (not started yet: it waits for a leaving runner of the same name or
 * offsets file to end), live (its thread runs), or ended (its thread ended:
 * it failed for good, or stopped at the end of the run).
 *
 * The main thread only reads a runner's result after joining its thread, and
 * the thread only reads its configuration, which stays unchanged and owned
 * by the runner until the runner is freed after the join.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/metrics.h"
#include "pipeline/pipeline.h"
#include "runtime/reload.h"
#include "sluice/log.h"
#include "runtime/supervisor.h"

#define TICK_MS 200

typedef struct runner {
    char *path;
    sl_connector *conn;
    sl_metrics *metrics;
    sl_stop stop;
    pthread_t thread;
    bool live;        /* a thread was started and is not joined yet */
    atomic_bool done; /* set by the thread as it ends */
    bool ended;       /* its thread ended and was joined while it was in the run list */
    sl_code result;   /* of the last thread, once joined */
    sl_error err;
    uint64_t failed; /* > 0: it failed for good, as the run's failed-th failure */
} runner;

typedef struct runner_list {
    runner **items;
    size_t n, cap;
} runner_list;

typedef struct supervisor {
    int argc;
    char *const *argv;
    runner_list run;     /* what the connector files ask for, in the order they came */
    runner_list leaving; /* removed or replaced by a reload, stopping; freed once joined */
    bool stopping;       /* SIGTERM or SIGINT came: nothing starts any more */
    uint64_t failures;
} supervisor;

static void list_push(runner_list *l, runner *r)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = realloc(l->items, l->cap * sizeof *l->items);
        if (!l->items)
            abort();
    }
    l->items[l->n++] = r;
}

static const char *name_of(const runner *r)
{
    return sl_config_name(r->conn->cfg);
}

/* A runner for conn (taken on success) from path (copied); NULL with err on failure. */
static runner *runner_new(const char *path, sl_connector *conn, sl_error *err)
{
    runner *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path)))
        abort();
    if (sl_stop_init(&r->stop, err) != SL_OK) {
        free(r->path);
        free(r);
        return NULL;
    }
    r->conn = conn;
    atomic_init(&r->done, false);
    return r;
}

static void runner_free(runner *r)
{
    sl_stop_destroy(&r->stop);
    sl_connector_free(r->conn);
    free(r->path);
    free(r);
}

/* The body of a connector's thread. */
static void *run_pipeline(void *arg)
{
    runner *r = arg;
    r->result = sl_pipeline_run(r->conn, &r->stop, &r->err);
    atomic_store(&r->done, true);
    return NULL;
}

static void runner_start(runner *r)
{
    atomic_store(&r->done, false);
    r->ended = false;
    r->failed = 0;
    if (pthread_create(&r->thread, NULL, run_pipeline, r) != 0) {
        sl_error_log("could not start a thread for connector \"%s\"", name_of(r));
        abort();
    }
    r->live = true;
}

/* Whether r must wait: a leaving runner with its name or offsets file has not ended yet. */
static bool must_wait(const supervisor *s, const runner *r)
{
    for (size_t i = 0; i < s->leaving.n; i++) {
        const runner *old = s->leaving.items[i];
        sl_error ignored;
        if (old->live && sl_reload_conflict(old->conn, old->path, r->conn, r->path, &ignored))
            return true;
    }
    return false;
}

static void start_pending(supervisor *s)
{
    for (size_t i = 0; i < s->run.n; i++) {
        runner *r = s->run.items[i];
        if (!r->live && !r->ended && !must_wait(s, r))
            runner_start(r);
    }
}

static size_t count_live(const runner_list *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->items[i]->live;
    return n;
}

/* Joins the threads that ended: a runner of the run list ends, a leaving one is freed. */
static void reap(supervisor *s)
{
    for (size_t i = 0; i < s->run.n; i++) {
        runner *r = s->run.items[i];
        if (!r->live || !atomic_load(&r->done))
            continue;
        pthread_join(r->thread, NULL);
        r->live = false;
        r->ended = true;
        if (r->result == SL_OK)
            continue;
        r->failed = ++s->failures;
        if (!s->stopping && count_live(&s->run) > 0)
            sl_error_log("connector \"%s\" failed and stays stopped until its file changes (then "
                         "SIGHUP) or an operator restarts it; the other connectors keep running",
                         name_of(r));
    }
    size_t kept = 0;
    for (size_t i = 0; i < s->leaving.n; i++) {
        runner *r = s->leaving.items[i];
        if (atomic_load(&r->done)) {
            pthread_join(r->thread, NULL);
            runner_free(r);
        } else {
            s->leaving.items[kept++] = r;
        }
    }
    s->leaving.n = kept;
}

/* Restarts the connectors that failed for good and that an operator asked to restart. */
static void restart_requested(supervisor *s)
{
    for (size_t i = 0; i < s->run.n; i++) {
        runner *r = s->run.items[i];
        if (r->ended && sl_metrics_take_restart(r->metrics)) {
            sl_info("restart of connector \"%s\" requested: starting it again", name_of(r));
            r->ended = false;
            r->failed = 0;
        }
    }
}

static void stop_all(supervisor *s)
{
    s->stopping = true;
    for (size_t i = 0; i < s->run.n; i++)
        if (s->run.items[i]->live)
            sl_stop_request(&s->run.items[i]->stop);
}

/*
 * Takes r out of the run: a live runner is asked to stop (for a restart when
 * its file changed and kept its name, else for good, with what a completed
 * stop releases) and leaves once its thread ends; one without a thread goes
 * at once.
 */
static void retire(supervisor *s, runner *r, bool restart)
{
    if (!r->live) {
        runner_free(r);
        return;
    }
    if (restart)
        sl_stop_request_restart(&r->stop);
    else
        sl_stop_request(&r->stop);
    list_push(&s->leaving, r);
}

static bool has_name(const runner_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(name_of(l->items[i]), name) == 0)
            return true;
    return false;
}

/* Why a refused file changes nothing, for the log line that refuses it. */
static void refusal_outcome(const runner *member, char *out, size_t size)
{
    if (!member)
        snprintf(out, size, "not started");
    else if (member->ended && member->failed)
        snprintf(out, size, "connector \"%s\" stays failed", name_of(member));
    else
        snprintf(out, size, "connector \"%s\" keeps running its current configuration",
                 name_of(member));
}

/* SIGHUP: scans the files again and applies what reload.h's plan accepts. */
static void reload(supervisor *s)
{
    sl_info("received SIGHUP: reloading the connector files");
    char **paths;
    size_t n;
    sl_error err;
    if (sl_reload_scan(s->argc, s->argv, &paths, &n, &err) != SL_OK) {
        sl_error_log("reload refused: %s; every connector keeps running as it was", err.msg);
        const char *why = err.msg;
        sl_metrics_reload_done(&why, 1);
        return;
    }
    sl_reload_file *files = calloc(n ? n : 1, sizeof *files);
    runner **fresh = calloc(n ? n : 1, sizeof *fresh);
    size_t nm = s->run.n;
    sl_reload_member *members = calloc(nm ? nm : 1, sizeof *members);
    bool *removed = calloc(nm ? nm : 1, sizeof *removed);
    const char **refusals = calloc(n ? n : 1, sizeof *refusals);
    runner **replacement = calloc(nm ? nm : 1, sizeof *replacement);
    if (!files || !fresh || !members || !removed || !replacement || !refusals)
        abort();
    for (size_t i = 0; i < n; i++) {
        files[i].path = paths[i];
        if (sl_connector_load(paths[i], &files[i].conn, &files[i].err) != SL_OK)
            files[i].conn = NULL;
    }
    free(paths);
    for (size_t j = 0; j < nm; j++)
        members[j] = (sl_reload_member){s->run.items[j]->path, s->run.items[j]->conn};
    sl_reload_plan(files, n, members, nm, removed);

    /* New runners first: one that cannot be made refuses its file, and changes nothing. */
    for (size_t i = 0; i < n; i++) {
        sl_reload_file *f = &files[i];
        if (f->action != SL_RELOAD_ADDED && f->action != SL_RELOAD_CHANGED)
            continue;
        fresh[i] = runner_new(f->path, f->conn, &f->err);
        if (!fresh[i]) {
            f->action = SL_RELOAD_REFUSED;
            continue;
        }
        f->conn = NULL; /* the runner's now */
        if (f->action == SL_RELOAD_CHANGED)
            replacement[f->member] = fresh[i];
    }

    size_t added = 0, changed = 0, gone = 0, refused = 0, unchanged = 0;
    for (size_t i = 0; i < n; i++) {
        sl_reload_file *f = &files[i];
        const runner *member = f->member >= 0 ? s->run.items[f->member] : NULL;
        char outcome[SL_ERROR_MAX];
        switch (f->action) {
        case SL_RELOAD_UNCHANGED:
            unchanged++;
            break;
        case SL_RELOAD_ADDED:
            added++;
            sl_info("reload: file \"%s\" added: starting connector \"%s\"", f->path,
                    name_of(fresh[i]));
            break;
        case SL_RELOAD_CHANGED:
            changed++;
            if (strcmp(name_of(member), name_of(fresh[i])) == 0)
                sl_info("reload: file \"%s\" changed: restarting connector \"%s\"", f->path,
                        name_of(fresh[i]));
            else
                sl_info("reload: file \"%s\" changed the connector's name: stopping connector "
                        "\"%s\", starting connector \"%s\"",
                        f->path, name_of(member), name_of(fresh[i]));
            break;
        case SL_RELOAD_REFUSED:
            refusals[refused++] = f->err.msg;
            refusal_outcome(member, outcome, sizeof outcome);
            sl_error_log("reload: refused: %s; %s", f->err.msg, outcome);
            break;
        }
    }

    /* The new run list: members that stay or their replacements, in place, then the added. */
    runner_list next = {0};
    runner_list old = s->run;
    for (size_t j = 0; j < nm; j++) {
        runner *r = old.items[j];
        if (removed[j]) {
            gone++;
            sl_info("reload: file \"%s\" removed: stopping connector \"%s\"", r->path, name_of(r));
        }
        if (!removed[j] && !replacement[j]) {
            list_push(&next, r);
            continue;
        }
        if (replacement[j])
            list_push(&next, replacement[j]);
        /* Kept: the metrics entry, for the unlisting below; dropped: r itself, by retire. */
        bool same_name = replacement[j] && strcmp(name_of(r), name_of(replacement[j])) == 0;
        retire(s, r, same_name);
    }
    for (size_t i = 0; i < n; i++)
        if (files[i].action == SL_RELOAD_ADDED)
            list_push(&next, fresh[i]);

    /* The HTTP listener shows the new set: names that went away vanish, new ones appear. */
    size_t board_n;
    sl_metrics **board = sl_metrics_list(&board_n);
    for (size_t i = 0; i < board_n; i++)
        if (!has_name(&next, sl_metrics_name(board[i])))
            sl_metrics_set_listed(board[i], false);
    free(board);
    for (size_t i = 0; i < next.n; i++) {
        next.items[i]->metrics = sl_metrics_connector(name_of(next.items[i]));
        sl_metrics_set_listed(next.items[i]->metrics, true);
    }
    free(old.items);
    s->run = next;

    sl_metrics_reload_done(refusals, refused);
    for (size_t i = 0; i < n; i++) {
        sl_connector_free(files[i].conn);
        free(files[i].path);
    }
    free(refusals);
    free(files);
    free(fresh);
    free(members);
    free(removed);
    free(replacement);
    sl_info("reload done: %zu added, %zu changed, %zu removed, %zu refused, %zu unchanged; %zu "
            "connector%s",
            added, changed, gone, refused, unchanged, s->run.n, s->run.n == 1 ? "" : "s");
}

/* Whether the run is over: nothing runs, and a stop came or every connector has failed. */
static bool finished(const supervisor *s)
{
    if (count_live(&s->run) > 0 || s->leaving.n > 0)
        return false;
    if (s->stopping)
        return true;
    if (s->run.n == 0)
        return false; /* every file was removed or refused: wait for the next reload */
    for (size_t i = 0; i < s->run.n; i++)
        if (!s->run.items[i]->ended)
            return false;
    sl_error_log("no connector is left running");
    return true;
}

/* The status of the first connector to fail for good among those still in the run. */
static int exit_status(const supervisor *s)
{
    const runner *first = NULL;
    for (size_t i = 0; i < s->run.n; i++) {
        const runner *r = s->run.items[i];
        if (r->failed && sl_code_exit_status(r->result) != 0 &&
            (!first || r->failed < first->failed))
            first = r;
    }
    return first ? sl_code_exit_status(first->result) : 0;
}

int sl_supervisor_run(int argc, char *const *argv, char *const *paths, sl_connector **conns,
                      size_t n, const sl_http_options *http)
{
    supervisor s = {.argc = argc, .argv = argv};
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every pipeline thread */
    signal(SIGPIPE, SIG_IGN);

    sl_error err;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        runner *r = rc == 0 ? runner_new(paths[i], conns[i], &err) : NULL;
        if (!r) {
            if (rc == 0)
                sl_error_log("%s", err.msg);
            rc = SL_EXIT_INTERNAL;
            sl_connector_free(conns[i]);
            continue;
        }
        list_push(&s.run, r);
        /* Every connector is on the metrics board before the listener lists them. */
        r->metrics = sl_metrics_connector(name_of(r));
    }
    sl_http_server *server = NULL;
    if (rc == 0 && sl_http_server_start(http, &server, &err) != SL_OK) {
        sl_error_log("%s", err.msg);
        rc = SL_EXIT_CONFIG;
    }
    if (rc != 0) {
        for (size_t i = 0; i < s.run.n; i++)
            runner_free(s.run.items[i]);
        free(s.run.items);
        sl_metrics_free_all();
        return rc;
    }
    start_pending(&s);
    sl_info("sluice %s running %zu connector%s", SLUICE_VERSION, n, n == 1 ? "" : "s");

    struct timespec tick = {0, TICK_MS * 1000 * 1000};
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGHUP && s.stopping) {
            sl_info("received SIGHUP while stopping: no reload");
        } else if (sig == SIGHUP) {
            reload(&s);
        } else if (sig > 0 && !s.stopping) {
            sl_info("received %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            stop_all(&s);
        } else if (sig > 0) {
            sl_info("received %s again, still stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        }
        reap(&s);
        if (!s.stopping) {
            restart_requested(&s);
            start_pending(&s);
        }
        if (finished(&s))
            break;
    }

    rc = exit_status(&s);
    for (size_t i = 0; i < s.run.n; i++)
        runner_free(s.run.items[i]);
    free(s.run.items);
    free(s.leaving.items);
    sl_http_server_stop(server);
    sl_metrics_free_all();
    return rc;
}
