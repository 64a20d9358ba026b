/*
 * Tests for src/runtime/main.c, through the real binary: check validates files and
 * directories without connecting, refuses what run would refuse, and the
 * usual flags behave.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static char *dir;
static char output[65536];

static void setup(void)
{
    dir = ts_tempdir();
}

static void teardown(void)
{
    ts_rmtree(dir);
    free(dir);
}

TestSuite(cli, .init = setup, .fini = teardown);

/* Runs sluice with args; returns the exit status, output (stdout and stderr) in output. */
static int sluice(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", SLUICE_BINARY, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(output, 1, sizeof output - 1, p);
    output[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_connector(const char *file, const char *name, const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"name\": \"%s\", \"connector.class\": \"postgres\", "
             "\"database.hostname\": \"h\", \"database.user\": \"u\", \"database.dbname\": \"d\", "
             "\"topic.prefix\": \"%s\", \"sink.type\": \"stdout\"%s}",
             name, name, extra);
    free(ts_write_file(dir, file, text));
}

Test(cli, version_and_help)
{
    cr_assert_eq(sluice("--version"), 0);
    cr_assert(strncmp(output, "sluice ", 7) == 0, "%s", output);
    cr_assert_eq(sluice("--help"), 0);
    cr_assert(strstr(output, "check FILE|DIR"), "%s", output);
    cr_assert(strstr(output, "run FILE|DIR"), "%s", output);
    cr_assert_eq(sluice(""), 2, "no command is a usage error");
    cr_assert_eq(sluice("frobnicate x"), 2);
    cr_assert(strstr(output, "unknown command \"frobnicate\""), "%s", output);
    cr_assert_eq(sluice("--log-level loud check x"), 2);
}

Test(cli, check_validates_a_directory_of_connector_files)
{
    write_connector("a.json", "alpha", "");
    write_connector("b.json", "beta", "");
    free(ts_write_file(dir, "notes.txt", "not a connector"));
    char args[4200];
    snprintf(args, sizeof args, "check %s", dir);
    cr_assert_eq(sluice(args), 0, "%s", output);
    cr_assert(strstr(output, "a.json: ok (connector \"alpha\""), "%s", output);
    cr_assert(strstr(output, "b.json: ok (connector \"beta\""), "%s", output);
    cr_assert_null(strstr(output, "notes.txt"), "only *.json files are connectors");
}

Test(cli, a_directory_given_with_a_trailing_slash_names_its_files_once)
{
    write_connector("a.json", "alpha", "");
    char args[4200];
    snprintf(args, sizeof args, "check %s/", dir);
    cr_assert_eq(sluice(args), 0, "%s", output);
    cr_assert(strstr(output, "/a.json: ok"), "%s", output);
    cr_assert_null(strstr(output, "//a.json"), "%s", output);
}

Test(cli, check_reports_every_bad_file_and_fails)
{
    write_connector("a.json", "alpha", ", \"database.prot\": 5432");
    write_connector("b.json", "beta", ", \"tombstones.on.delete\": \"maybe\"");
    char args[4200];
    snprintf(args, sizeof args, "check %s", dir);
    cr_assert_eq(sluice(args), 2);
    cr_assert(strstr(output, "a.json\": unknown key \"database.prot\""), "%s", output);
    cr_assert(strstr(output, "b.json\": key \"tombstones.on.delete\""), "%s", output);
}

Test(cli, two_connectors_may_not_share_a_name_or_an_offsets_file)
{
    write_connector("a.json", "same", "");
    write_connector("b.json", "same", "");
    char args[4200];
    snprintf(args, sizeof args, "check %s", dir);
    cr_assert_eq(sluice(args), 2);
    cr_assert(strstr(output, "connector name \"same\" is also used"), "%s", output);

    write_connector("b.json", "other", ", \"offset.storage.file.filename\": \"same.offsets.json\"");
    cr_assert_eq(sluice(args), 2);
    cr_assert(strstr(output, "offsets file \"same.offsets.json\" is also used"), "%s", output);
}

Test(cli, run_refuses_a_bad_file_before_starting_anything)
{
    write_connector("a.json", "alpha", ", \"value.converter\": \"com.example.PigeonConverter\"");
    char args[4200];
    snprintf(args, sizeof args, "run %s/a.json", dir);
    cr_assert_eq(sluice(args), 2);
    cr_assert(strstr(output, "unsupported converter \"com.example.PigeonConverter\""), "%s",
              output);
    snprintf(args, sizeof args, "run %s/missing.json", dir);
    cr_assert_eq(sluice(args), 2);
    cr_assert(strstr(output, "missing.json"), "%s", output);
}

Test(cli, keys_lists_every_component)
{
    cr_assert_eq(sluice("keys"), 0);
    cr_assert(strstr(output, "`database.hostname`"));
    cr_assert(strstr(output, "`kafka.bootstrap.servers`"));
    cr_assert(strstr(output, "`sink.file.directory`"));
    cr_assert(strstr(output, "`schemas.enable`"));
}

/* Starts sluice with args in the background, output to dir/out.log; returns its pid. */
static pid_t sluice_start(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "exec %s %s >%s/out.log 2>&1", SLUICE_BINARY, args, dir);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    cr_assert_gt(pid, 0);
    return pid;
}

/* Waits up to timeout_ms for pid; its exit status, or -1 (then kills it). */
static int sluice_wait(pid_t pid, int timeout_ms)
{
    int st;
    for (int i = 0; i < timeout_ms / 10; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static char *read_out(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/out.log", dir);
    char *text = ts_read_file(path, NULL);
    cr_assert_not_null(text);
    return text;
}

/*
 * Exit codes: a database that stays away ends `run` with 3 (source) once
 * errors.max.retries restarts made no progress, naming the connector.
 */
Test(cli, exit_code_3_when_the_database_stays_unreachable)
{
    write_connector("a.json", "alpha",
                    ", \"database.port\": 1, \"errors.max.retries\": 1, "
                    "\"errors.retry.delay.initial.ms\": 10");
    char args[4200];
    snprintf(args, sizeof args, "run %s/a.json", dir);
    cr_assert_eq(sluice(args), 3, "%s", output);
    cr_assert(strstr(output, "connector \"alpha\": could not connect to PostgreSQL"), "%s", output);
    cr_assert(strstr(output, "in 10 ms: restart 1 of 1"), "%s", output);
    cr_assert(strstr(output, "giving up after 1 restart without progress"), "%s", output);
}

/*
 * Issue 15: SIGHUP neither stops sluice nor, as its default action would,
 * kills it without a final checkpoint: it reloads the connector files, and
 * an unchanged file changes nothing. Here the database is away, so the
 * SIGTERM that follows ends a failed life: issue 7 says that must not exit 0,
 * whether it comes while the connector waits to retry or while it tries.
 */
Test(cli, item15_sighup_with_unchanged_files_changes_nothing)
{
    write_connector("a.json", "alpha",
                    ", \"database.port\": 1, \"errors.max.retries\": -1, "
                    "\"errors.retry.delay.initial.ms\": 50, \"errors.retry.delay.max.ms\": 50");
    char args[4200];
    snprintf(args, sizeof args, "run %s/a.json", dir);
    pid_t pid = sluice_start(args);
    usleep(700 * 1000);
    kill(pid, SIGHUP);
    usleep(700 * 1000);
    cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "sluice is still running after SIGHUP");
    kill(pid, SIGTERM);
    int status = sluice_wait(pid, 10000);
    char *out = read_out();
    cr_assert(strstr(out, "received SIGHUP: reloading the connector files"), "%s", out);
    cr_assert(strstr(out, "reload done: 0 added, 0 changed, 0 removed, 0 refused, 1 unchanged"),
              "%s", out);
    cr_assert_eq(status, 3, "a stop after failed attempts exits 3, got %d:\n%s", status, out);
    /* The SIGTERM lands in the 50 ms wait or, on a loaded machine, in an attempt. */
    cr_assert(strstr(out, "stop requested while waiting to restart") ||
                  strstr(out, "; stopping as requested; "),
              "%s", out);
    free(out);
}

/* Issue 8: a producer queue that cannot hold one largest message is refused by check. */
Test(cli, item8_check_refuses_a_queue_smaller_than_the_largest_message)
{
    free(ts_write_file(dir, "k.json",
                       "{\"name\": \"k\", \"connector.class\": \"postgres\", "
                       "\"database.hostname\": \"h\", \"database.user\": \"u\", "
                       "\"database.dbname\": \"d\", \"topic.prefix\": \"k\", "
                       "\"kafka.bootstrap.servers\": \"localhost:9092\", "
                       "\"kafka.message.max.bytes\": \"20000000\"}"));
    char args[4200];
    snprintf(args, sizeof args, "check %s/k.json", dir);
    cr_assert_eq(sluice(args), 2, "%s", output);
    cr_assert(strstr(output, "key \"kafka.queue.buffering.max.kbytes\": 16384 KiB cannot hold one "
                             "message of kafka.message.max.bytes (20000000 bytes)"),
              "%s", output);
}

/* `sluice offsets` on the file store: set, show, reset, as an operator uses them. */
Test(cli, offsets_set_show_and_reset_the_offsets_file)
{
    char extra[4400];
    snprintf(extra, sizeof extra, ", \"offset.storage.file.filename\": \"%s/state/inv.offsets\"",
             dir);
    write_connector("inv.json", "inv", extra);
    char args[4400];
    snprintf(args, sizeof args, "offsets show %s/inv.json", dir);
    cr_assert_eq(sluice(args), 0, "%s", output);
    cr_assert(strstr(output, "\"position\":null"), "nothing stored yet: %s", output);

    snprintf(args, sizeof args, "offsets set %s/inv.json 0/16B3748", dir);
    cr_assert_eq(sluice(args), 0, "%s", output);
    snprintf(args, sizeof args, "offsets show %s", dir);
    cr_assert_eq(sluice(args), 0, "%s", output);
    cr_assert(strstr(output, "\"store\":\"file\""), "%s", output);
    cr_assert(strstr(output, "\"position\":\"0/16B3748\""), "%s", output);
    /* What Kafka Connect would store for it. */
    cr_assert(strstr(output, "\"offset\":{\"lsn\":23803720,\"lsn_commit\":23803720}"), "%s",
              output);

    /* A Debezium offset map is taken too; garbage is refused, naming what is expected. */
    snprintf(args, sizeof args, "offsets set %s/inv.json '{\"lsn_commit\":4096,\"lsn\":8192}'",
             dir);
    cr_assert_eq(sluice(args), 0, "%s", output);
    cr_assert(strstr(output, "\"position\":\"0/1000\""), "%s", output);
    snprintf(args, sizeof args, "offsets set %s/inv.json yesterday", dir);
    cr_assert_eq(sluice(args), 2, "%s", output);
    cr_assert(strstr(output, "LSN like 0/16B3748"), "%s", output);

    snprintf(args, sizeof args, "offsets reset %s/inv.json", dir);
    cr_assert_eq(sluice(args), 0, "%s", output);
    snprintf(args, sizeof args, "offsets show %s/inv.json", dir);
    cr_assert_eq(sluice(args), 0, "%s", output);
    cr_assert(strstr(output, "\"position\":null"), "%s", output);

    cr_assert_eq(sluice("offsets frobnicate"), 2);
    snprintf(args, sizeof args, "offsets set %s/inv.json", dir);
    cr_assert_eq(sluice(args), 2, "set needs a position");
}

Test(cli, offsets_in_kafka_need_a_source_that_maps_them_and_a_cluster)
{
    write_connector("k.json", "k", ", \"offset.storage\": \"kafka\"");
    char args[4400];
    snprintf(args, sizeof args, "check %s/k.json", dir);
    cr_assert_eq(sluice(args), 2, "%s", output);
    cr_assert(strstr(output, "kafka.bootstrap.servers"), "the store needs a cluster: %s", output);
    write_connector("k.json", "k",
                    ", \"offset.storage\": \"org.apache.kafka.connect.storage."
                    "KafkaOffsetBackingStore\", \"kafka.bootstrap.servers\": \"b:9092\"");
    cr_assert_eq(sluice(args), 0, "Connect's class name is accepted: %s", output);
}

Test(cli, log_format_from_the_flag_or_the_environment)
{
    cr_assert_eq(sluice("--log-format yaml keys"), 2);
    cr_assert(strstr(output, "unknown log format"), "%s", output);
    cr_assert_eq(sluice("--log-format json keys"), 0);
    char args[4400];
    snprintf(args, sizeof args, "--log-format json offsets show %s/none.json", dir);
    cr_assert_eq(sluice(args), 2);
    cr_assert_eq(system("SLUICE_LOG_FORMAT=xml " SLUICE_BINARY " keys >/dev/null 2>&1") >> 8, 2);
}
