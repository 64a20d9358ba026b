/*
 * Logs as an operator reads them: JSON lines (log.format json, here through
 * SLUICE_LOG_FORMAT) that each name their connector, librdkafka's lines from
 * its own threads included; and progress lines while a connector catches up
 * after downtime (connectors/postgres/pg_progress.c).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "support.h"

Test(logs, json_lines_name_the_connector_librdkafkas_own_lines_too, .timeout = 120)
{
    it_require_services();
    char *dir = it_tempdir("logs_json");
    char name[64], include[96], extra[512];
    snprintf(name, sizeof name, "logj_%d", (int)getpid());
    snprintf(include, sizeof include, "public.%s", name);
    /*
     * Offsets in a broker that is not there: librdkafka's broker threads log
     * that they cannot connect, and the connector must be named on those too.
     */
    int port = 1;
    snprintf(extra, sizeof extra,
             "\"offset.storage\":\"kafka\",\"kafka.bootstrap.servers\":\"127.0.0.1:%d\"", port);
    char *config = it_write_config(dir, name, include, "stdout", extra);
    char log[4200];
    snprintf(log, sizeof log, "%s/run.log", dir);
    setenv("SLUICE_LOG_FORMAT", "json", 1);
    pid_t pid = it_sluice_start(config, log);
    unsetenv("SLUICE_LOG_FORMAT");
    cr_assert(it_wait_log(log, "Connection refused", 30000), "%s", ts_read_file(log, NULL));
    it_sluice_stop(pid, SIGTERM, 30000);

    char *text = ts_read_file(log, NULL);
    size_t lines = 0, kafka_lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        cr_assert(json_is_object(j), "not a JSON line: %s", line);
        cr_assert(json_string_value(json_object_get(j, "ts")), "%s", line);
        cr_assert(json_string_value(json_object_get(j, "level")), "%s", line);
        const char *msg = json_string_value(json_object_get(j, "msg"));
        cr_assert(msg, "%s", line);
        const char *connector = json_string_value(json_object_get(j, "connector"));
        /* Only the process's own lines (start, signals) belong to no connector. */
        if (!strstr(msg, "running 1 connector") && !strstr(msg, "received SIGTERM") &&
            !strstr(msg, "stopping the others"))
            cr_assert(connector && strcmp(connector, name) == 0, "no connector: %s", line);
        if (strncmp(msg, "kafka (offsets)", 15) == 0)
            kafka_lines++;
        lines++;
        json_decref(j);
    }
    cr_assert_gt(lines, 2);
    cr_assert_gt(kafka_lines, 0, "librdkafka's own lines are routed through the logger");
    free(text);
    free(config);
    free(dir);
}

Test(logs, catching_up_after_downtime_logs_what_is_left_the_rate_and_the_time_left, .timeout = 240)
{
    it_require_services();
    char *dir = it_tempdir("logs_catchup");
    char name[64], include[96];
    snprintf(name, sizeof name, "logc_%d", (int)getpid());
    snprintf(include, sizeof include, "public.%s", name);
    char *config = it_write_config(dir, name, include, "file",
                                   "\"sink.file.fsync\":false,"
                                   "\"catchup.progress.interval.ms\":200");
    PGconn *pg = it_pg_connect();
    it_pg_exec(pg, "CREATE TABLE %s (id int PRIMARY KEY, v text)", name);
    char log[4200];
    snprintf(log, sizeof log, "%s/first.log", dir);
    pid_t pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from slot", 30000), "%s", ts_read_file(log, NULL));
    it_pg_exec(pg, "INSERT INTO %s VALUES (0, 'x')", name);
    cr_assert(it_wait_log(log, "checkpoint {", 30000));
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0);

    /* Downtime: some 60 MB of WAL, in transactions of 20,000 rows. */
    for (int k = 0; k < 8; k++)
        it_pg_exec(pg, "INSERT INTO %s SELECT g, repeat('v', 200) FROM generate_series(%d, %d) g",
                   name, k * 20000 + 1, (k + 1) * 20000);

    snprintf(log, sizeof log, "%s/second.log", dir);
    pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "caught up with the server's WAL", 120000), "%s",
              ts_read_file(log, NULL));
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0);
    char *text = ts_read_file(log, NULL);
    cr_assert(strstr(text, "MB of WAL behind the server's end (from 0/"),
              "the first line gives how far behind, and from where to where: %s", text);
    cr_assert(strstr(text, " of WAL behind the server's end, reading ") &&
                  strstr(text, "MB/s, about ") && strstr(text, " s left"),
              "progress lines give what is left, the rate and the time left: %s", text);
    cr_assert(strstr(text, " read, "), "%s", text);
    free(text);
    it_pg_exec(pg, "SELECT pg_drop_replication_slot('%s')", name);
    it_pg_exec(pg, "DROP TABLE %s", name);
    PQfinish(pg);
    free(config);
    free(dir);
}
