/*
 * Debezium signals applied to the snapshot coordinator (src/snapshot/signal.c):
 * what each signal type does to the queued tables, and the file channel.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/signal.h"
#include "snapshot/snapshot.h"
#include "support.h"

static int dummy;

static sl_code resolve(void *ctx, const char *id, void **table, uint64_t *stream_id, bool *keyed,
                       int64_t *estimated, int64_t *row_bytes, sl_error *err)
{
    (void)ctx, (void)id, (void)err;
    *table = &dummy;
    *stream_id = 1;
    *keyed = true;
    *estimated = -1;
    *row_bytes = 0;
    return SL_OK;
}

static sl_code reader_open(void *ctx, void **reader, sl_error *err)
{
    (void)ctx, (void)err;
    *reader = &dummy;
    return SL_OK;
}

static void reader_close(void *reader)
{
    (void)reader;
}

static sl_code read_nothing(void *reader, sl_snap_job *job, sl_error *err)
{
    (void)reader, (void)job, (void)err;
    return SL_OK;
}

static const sl_snap_ops ops = {.resolve = resolve,
                                .reader_open = reader_open,
                                .reader_close = reader_close,
                                .read = read_nothing};

static const char *const tables[] = {"public.orders", "public.order_lines", "public.customers",
                                     "inventory.items"};

static sl_snapshot *make(void)
{
    sl_snapshot_config cfg = {.threads = 1};
    sl_snapshot *s;
    sl_error err;
    cr_assert_eq(sl_snapshot_new(&ops, NULL, &cfg, &s, &err), SL_OK);
    return s;
}

static char *state(sl_snapshot *s)
{
    sl_buf b;
    sl_buf_init(&b);
    sl_error err;
    cr_assert_eq(sl_snapshot_state_json(s, sl_snapshot_version(s), &b, &err), SL_OK);
    sl_buf_cstr(&b);
    return b.data;
}

Test(signal, execute_snapshot_expands_expressions_against_captured_tables)
{
    sl_snapshot *s = make();
    sl_signal_apply(s, "1", "execute-snapshot",
                    "{\"data-collections\":[\"public\\\\.order.*\",\"inventory.items\"],"
                    "\"type\":\"incremental\",\"additional-conditions\":[{\"data-collection\":"
                    "\"public.orders\",\"filter\":\"status = 'open'\"}]}",
                    tables, 4);
    char *st = state(s);
    cr_assert(strstr(st, "\"id\":\"public.orders\",\"kind\":\"incremental\","
                         "\"additional_condition\":\"status = 'open'\""),
              "%s", st);
    cr_assert(strstr(st, "\"id\":\"public.order_lines\",\"kind\":\"incremental\",\"rows\""), "%s",
              st);
    cr_assert(strstr(st, "\"id\":\"inventory.items\""), "%s", st);
    cr_assert_null(strstr(st, "customers"), "%s", st);
    free(st);
    sl_snapshot_free(s);
}

Test(signal, execute_snapshot_without_collections_or_with_bad_data_is_ignored)
{
    sl_snapshot *s = make();
    sl_signal_apply(s, "1", "execute-snapshot", "{\"data-collections\":[]}", tables, 4);
    sl_signal_apply(s, "2", "execute-snapshot", "not json", tables, 4);
    sl_signal_apply(s, "3", "execute-snapshot",
                    "{\"data-collections\":[\"public.orders\"],\"type\":\"weird\"}", tables, 4);
    sl_signal_apply(s, "4", "no-such-signal", "{}", tables, 4);
    cr_assert_not(sl_snapshot_running(s));
    sl_snapshot_free(s);
}

Test(signal, stop_pause_resume_and_log)
{
    sl_snapshot *s = make();
    sl_signal_apply(s, "1", "execute-snapshot", "{\"data-collections\":[\"public.*\"]}", tables, 4);
    sl_signal_apply(s, "2", "pause-snapshot", NULL, tables, 4);
    cr_assert_eq(atomic_load(&sl_snapshot_progress_of(s)->state), SL_SNAPSHOT_PAUSED);
    char *st = state(s);
    cr_assert(strstr(st, "\"paused\":true"), "%s", st);
    free(st);
    sl_signal_apply(s, "3", "resume-snapshot", "{}", tables, 4);
    cr_assert_eq(atomic_load(&sl_snapshot_progress_of(s)->state), SL_SNAPSHOT_RUNNING);
    sl_signal_apply(s, "4", "stop-snapshot",
                    "{\"data-collections\":[\"public.orders\"],\"type\":\"INCREMENTAL\"}", tables,
                    4);
    st = state(s);
    cr_assert_null(strstr(st, "\"public.orders\""), "%s", st);
    cr_assert(strstr(st, "public.customers"), "%s", st);
    free(st);
    sl_signal_apply(s, "5", "log", "{\"message\":\"hello\"}", tables, 4);
    sl_signal_apply(s, "6", "stop-snapshot", "{\"type\":\"incremental\"}", tables, 4);
    cr_assert_not(sl_snapshot_running(s), "stop-snapshot without collections stops all");
    sl_snapshot_free(s);
}

typedef struct seen {
    char ids[8][32];
    char types[8][32];
    char data[8][128];
    int n;
} seen;

static void collect(void *ctx, const char *id, const char *type, const char *data)
{
    seen *x = ctx;
    snprintf(x->ids[x->n], sizeof x->ids[0], "%s", id);
    snprintf(x->types[x->n], sizeof x->types[0], "%s", type);
    snprintf(x->data[x->n], sizeof x->data[0], "%s", data ? data : "");
    x->n++;
}

Test(signal, file_channel_reads_each_line_once_and_empties_the_file)
{
    char path[] = "/tmp/sluice-signal-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *text = "{\"id\":\"a\",\"type\":\"execute-snapshot\",\"data\":{\"data-collections\":"
                       "[\"public.t\"]}}\n\nnot a signal\n{\"id\":\"b\",\"type\":\"log\",\"data\":"
                       "{\"message\":\"x\"}}\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    seen x = {0};
    sl_error err;
    cr_assert_eq(sl_signal_file_poll(path, collect, &x, &err), SL_OK);
    cr_assert_eq(x.n, 2);
    cr_assert_str_eq(x.ids[0], "a");
    cr_assert_str_eq(x.types[0], "execute-snapshot");
    cr_assert_str_eq(x.data[0], "{\"data-collections\":[\"public.t\"]}");
    cr_assert_str_eq(x.types[1], "log");
    size_t len = 99;
    char *rest = ts_read_file(path, &len);
    cr_assert_eq(len, 0, "the file is emptied");
    free(rest);
    cr_assert_eq(sl_signal_file_poll(path, collect, &x, &err), SL_OK);
    cr_assert_eq(x.n, 2, "nothing twice");
    unlink(path);
    cr_assert_eq(sl_signal_file_poll(path, collect, &x, &err), SL_OK, "a missing file is fine");
    cr_assert_eq(sl_signal_file_poll("/tmp", collect, &x, &err), SL_IO);
    cr_assert(strstr(err.msg, "\"/tmp\""), "%s", err.msg);
}
