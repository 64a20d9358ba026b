/*
 * Tests for src/sinks/sink_file.c: every message lands in its topic's file, in
 * order, and is acknowledged exactly once and only after it was written; a
 * line a crash left half written is cut before the next start writes.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "runtime/config_load.h"
#include "sinks/sinks.h"
#include "support.h"

static char *dir;
static uint64_t acked[64];
static uint64_t acks_total;
static uint64_t last_token_acked;
static bool out_of_order;

/*
 * When set: the file every acknowledged message must already be in (one
 * topic only); line_end[i] is where message i's line ends in it.
 */
static const char *written_path;
static size_t line_end[4096];
static size_t produced;
#define PER_TOKEN 200

static size_t count_lines(const char *path)
{
    size_t len;
    char *text = ts_read_file(path, &len);
    size_t n = 0;
    for (const char *p = text; p && (p = memchr(p, '\n', len - (size_t)(p - text))); p++)
        n++;
    free(text);
    return n;
}

static void on_ack(void *ctx, uint64_t token, sl_code status, const sl_sink_failure *failure)
{
    (void)ctx;
    (void)failure;
    cr_assert_eq(status, SL_OK);
    cr_assert_lt(token, 64);
    if (written_path) {
        /* Messages are acknowledged in order: this one is message acks_total. */
        struct stat st;
        cr_assert_eq(stat(written_path, &st), 0);
        cr_assert_lt(acks_total, produced);
        cr_assert_geq((size_t)st.st_size, line_end[acks_total],
                      "message %llu acknowledged with %lld of its %zu bytes in the file",
                      (unsigned long long)acks_total, (long long)st.st_size, line_end[acks_total]);
    }
    if (token < last_token_acked)
        out_of_order = true;
    last_token_acked = token;
    acked[token]++;
    acks_total++;
}

/* A file sink writing into dir/out (dir as it is). */
static sl_sink *open_sink_here(void)
{
    memset(acked, 0, sizeof acked);
    acks_total = 0;
    produced = 0;
    last_token_acked = 0;
    out_of_order = false;
    char text[4200];
    snprintf(text, sizeof text, "{\"sink.file.directory\": \"%s/out\"}", dir);
    sl_config *cfg;
    sl_error err;
    cr_assert_eq(sl_config_parse("t.json", text, &cfg, &err), SL_OK, "%s", err.msg);
    const sl_config_key *tables[] = {sl_sink_file.config_keys};
    cr_assert_eq(sl_config_validate(cfg, tables, 1, &err), SL_OK, "%s", err.msg);
    sl_sink *sink;
    cr_assert_eq(sl_sink_file.open(cfg, on_ack, NULL, &sink, &err), SL_OK, "%s", err.msg);
    sl_config_free(cfg);
    return sink;
}

static sl_sink *open_sink(void)
{
    dir = ts_tempdir();
    return open_sink_here();
}

static sl_code produce(sl_sink *sink, const char *topic, int n, uint64_t token, size_t pad)
{
    char key[64];
    snprintf(key, sizeof key, "{\"id\":%d}", n);
    char *value = malloc(pad + 64);
    int len = snprintf(value, pad + 64, "{\"n\":%d,\"pad\":\"", n);
    memset(value + len, 'x', pad);
    memcpy(value + len + pad, "\"}", 3);
    sl_message m = {.topic = topic,
                    .key = key,
                    .key_len = strlen(key),
                    .value = value,
                    .value_len = strlen(value),
                    .token = token};
    sl_error err;
    sl_code rc = sl_sink_file.produce(sink, &m, &err);
    if (rc == SL_OK && produced < sizeof line_end / sizeof *line_end) {
        /* {"key":K,"value":V}\n */
        size_t line = 7 + m.key_len + 9 + m.value_len + 2;
        line_end[produced] = (produced ? line_end[produced - 1] : 0) + line;
        produced++;
    }
    free(value);
    return rc;
}

static void serve(sl_sink *sink, uint64_t total)
{
    sl_error err;
    for (int i = 0; i < 2000 && acks_total < total; i++) {
        cr_assert_eq(sl_sink_file.poll(sink, 1, &err), SL_OK, "%s", err.msg);
    }
}

Test(sink_file, messages_are_written_in_order_and_acknowledged_once)
{
    sl_sink *sink = open_sink();
    const char *topics[] = {"p.public.a", "p.public.b", "p.public.c"};
    for (int i = 0; i < 30000; i++)
        cr_assert_eq(produce(sink, topics[i % 3], i, (uint64_t)(i / 1000), 40), SL_OK);
    serve(sink, 30000);
    cr_assert_eq(acks_total, 30000);
    cr_assert_not(out_of_order, "acknowledgements follow the order of the messages");
    for (int t = 0; t < 30; t++)
        cr_assert_eq(acked[t], 1000, "token %d", t);

    for (int f = 0; f < 3; f++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/out/%s.jsonl", dir, topics[f]);
        char *text = ts_read_file(path, NULL);
        cr_assert_not_null(text, "%s", path);
        int expect = f, lines = 0;
        for (char *line = text; *line; line = strchr(line, '\n') + 1) {
            int n = -1;
            char *v = strstr(line, "\"value\":{\"n\":");
            cr_assert_not_null(v);
            sscanf(v + 13, "%d", &n);
            cr_assert_eq(n, expect, "%s line %d", topics[f], lines);
            expect += 3;
            lines++;
        }
        cr_assert_eq(lines, 10000);
        free(text);
    }
    sl_sink_file.close(sink);
    ts_rmtree(dir);
    free(dir);
}

Test(sink_file, topics_that_are_not_file_names_are_refused)
{
    sl_sink *sink = open_sink();
    sl_message m = {.topic = "../escape", .value = "{}", .value_len = 2};
    sl_error err;
    cr_assert_eq(sl_sink_file.produce(sink, &m, &err), SL_SINK);
    cr_assert(strstr(err.msg, "../escape"), "%s", err.msg);
    sl_sink_file.close(sink);
    ts_rmtree(dir);
    free(dir);
}

Test(sink_file, a_line_a_crash_cut_short_is_removed_before_writing_again)
{
    sl_sink *sink = open_sink();
    for (int i = 0; i < 2; i++)
        cr_assert_eq(produce(sink, "p.public.t", i, 1, 10), SL_OK);
    serve(sink, 2);
    sl_sink_file.close(sink);
    char path[4300];
    snprintf(path, sizeof path, "%s/out/p.public.t.jsonl", dir);
    /* What a kill -9 in the middle of a write(2) leaves: the start of a line. */
    FILE *f = fopen(path, "a");
    cr_assert_not_null(f);
    fputs("{\"key\":{\"id\":2},\"value\":{\"n\":2,\"pa", f);
    fclose(f);

    sink = open_sink_here();
    cr_assert_eq(produce(sink, "p.public.t", 2, 2, 10), SL_OK);
    serve(sink, 1);
    sl_sink_file.close(sink);
    char *text = ts_read_file(path, NULL);
    int lines = 0;
    for (char *line = text; *line; line = strchr(line, '\n') + 1) {
        cr_assert_not_null(strchr(line, '\n'), "every line ends: %s", text);
        json_error_t jerr;
        json_t *m = json_loadb(line, (size_t)(strchr(line, '\n') - line), 0, &jerr);
        cr_assert_not_null(m, "line %d is not JSON (%s): %s", lines, jerr.text, text);
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(m, "value"), "n")), lines);
        json_decref(m);
        lines++;
    }
    cr_assert_eq(lines, 3, "%s", text);
    free(text);
    ts_rmtree(dir);
    free(dir);
}

/*
 * Lines are gathered and written in large writes, and syncs are batched:
 * an acknowledgement must still come only after the message's line is in
 * the file (each acknowledgement checks the file's size).
 */
Test(sink_file, a_message_is_acknowledged_only_after_its_line_is_in_the_file)
{
    sl_sink *sink = open_sink();
    char path[4300];
    snprintf(path, sizeof path, "%s/out/p.public.t.jsonl", dir);
    written_path = path;
    sl_error err;
    for (int i = 0; i < 10 * PER_TOKEN; i++) {
        cr_assert_eq(produce(sink, "p.public.t", i, (uint64_t)(i / PER_TOKEN), 1000), SL_OK);
        cr_assert_eq(sl_sink_file.poll(sink, 0, &err), SL_OK, "%s", err.msg);
    }
    serve(sink, 10 * PER_TOKEN);
    cr_assert_eq(acks_total, 10 * PER_TOKEN);
    written_path = NULL;
    cr_assert_eq(count_lines(path), 10 * PER_TOKEN);
    sl_sink_file.close(sink);
    ts_rmtree(dir);
    free(dir);
}

/*
 * A write that fails (here: past RLIMIT_FSIZE, with SIGXFSZ ignored) is
 * reported as retriable, naming the topic, at that call and the next ones,
 * and no message whose line is not in the file is acknowledged.
 */
Test(sink_file, a_failed_write_is_reported_and_nothing_unwritten_acknowledged)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {.rlim_cur = 1024 * 1024, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    sl_sink *sink = open_sink();
    char path[4300];
    snprintf(path, sizeof path, "%s/out/p.public.t.jsonl", dir);
    written_path = path;
    sl_error err;
    sl_code rc = SL_OK;
    for (int i = 0; i < 20 * PER_TOKEN && rc == SL_OK; i++) {
        rc = produce(sink, "p.public.t", i, (uint64_t)(i / PER_TOKEN), 1000);
        if (rc == SL_OK)
            rc = sl_sink_file.poll(sink, 0, &err);
    }
    if (rc == SL_OK)
        rc = sl_sink_file.flush(sink, 1000, &err);
    cr_assert_eq(rc, SL_SINK_RETRY);
    cr_assert_eq(sl_sink_file.flush(sink, 1000, &err), SL_SINK_RETRY);
    cr_assert(strstr(err.msg, "could not write the file of topic \"p.public.t\""), "%s", err.msg);
    cr_assert_lt(acks_total, 20 * PER_TOKEN);
    written_path = NULL;
    sl_sink_file.close(sink);
    ts_rmtree(dir);
    free(dir);
}
