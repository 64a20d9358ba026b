/*
 * Issue 7, item 14: a server that stops answering without closing its
 * connections (a network partition, a hung host) must neither stall a
 * connector for ever nor keep SIGTERM from stopping sluice. The silence is
 * made real: the walsender or the catalog backend is frozen with SIGSTOP, or
 * the "server" is a socket that accepts connections and never says a word.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "support.h"

static PGconn *db;
static char *dir;
static char log_path[4200];
static pid_t pid = -1;
static pid_t frozen = -1; /* a server process under SIGSTOP, thawed whatever happens */
static char name[64];     /* the test's connector and slot */

static void setup(void)
{
    it_require_services();
    db = it_pg_connect();
}

static void teardown(void)
{
    if (frozen > 0)
        kill(frozen, SIGCONT);
    frozen = -1;
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pid = -1;
    }
    /* Slots are few (max_replication_slots) and hold WAL: leave none behind. */
    if (db && name[0])
        it_pg_drop_slot(db, name);
    name[0] = '\0';
    if (db)
        PQfinish(db);
    db = NULL;
    free(dir);
    dir = NULL;
}

TestSuite(pg_hang, .init = setup, .fini = teardown, .timeout = 120);

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void begin(const char *connector)
{
    snprintf(name, sizeof name, "%s", connector);
    dir = it_tempdir(name);
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    it_pg_exec(db,
               "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
               "WHERE slot_name = '%s' AND NOT active",
               name);
}

/* Waits for the file sink to have written the file of a topic. */
static bool wait_file(const char *d, const char *name, int timeout_ms)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/out/%s", d, name);
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        char *text = ts_read_file(path, NULL);
        bool found = text && strchr(text, '\n');
        free(text);
        if (found)
            return true;
        usleep(100000);
    }
    return false;
}

static pid_t server_pid(const char *sql)
{
    char *v = it_pg_value(db, sql);
    cr_assert_not_null(v, "no such server process: %s", sql);
    pid_t p = (pid_t)atoi(v);
    free(v);
    return p;
}

static void freeze(pid_t p)
{
    frozen = p;
    cr_assert_eq(kill(p, SIGSTOP), 0);
}

/* SIGTERM, and how long sluice took to exit (-1: it did not within limit_ms). */
static int64_t stop_within(int limit_ms, int *status)
{
    int64_t t0 = mono_ms();
    *status = it_sluice_stop(pid, SIGTERM, limit_ms);
    pid = -1;
    return *status == -1 ? -1 : mono_ms() - t0;
}

Test(pg_hang, item14_a_silent_replication_stream_is_given_up_after_wal_sender_timeout)
{
    begin("it_r14");
    /* A role whose sessions have a short wal_sender_timeout: the silence is noticed in seconds. */
    it_pg_exec(db, "DO $$ BEGIN CREATE ROLE it_r14_role LOGIN REPLICATION SUPERUSER "
                   "PASSWORD 'it-r14-pw'; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    it_pg_exec(db, "ALTER ROLE it_r14_role SET wal_sender_timeout = '2s'");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_r14; CREATE TABLE it_r14 (id int PRIMARY KEY)");
    char *cfg = it_write_config(dir, "it_r14", "public.it_r14", "file",
                                "\"database.user\": \"it_r14_role\", "
                                "\"database.password\": \"it-r14-pw\"");
    pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from slot", 30000), "see %s", log_path);
    it_pg_exec(db, "INSERT INTO it_r14 VALUES (1)");
    cr_assert(wait_file(dir, "it_r14.public.it_r14.jsonl", 20000), "see %s", log_path);
    /* Idle, the stream stays up: the server answers sluice's requests for a sign of life. */
    usleep(3000000);
    char *log = ts_read_file(log_path, NULL);
    cr_assert_null(strstr(log, "the connection is dead"), "a live, idle stream was given up");
    free(log);

    /* The walsender hangs: its socket stays open, nothing comes through it. */
    freeze(server_pid("SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'it_r14'"));
    cr_assert(it_wait_log(log_path, "the connection is dead", 20000),
              "a silent stream must be given up after wal_sender_timeout; see %s", log_path);
    /* Reconnects meet the frozen walsender's slot; SIGTERM still stops everything. */
    int status;
    int64_t took = stop_within(20000, &status);
    cr_assert_neq(took, -1, "SIGTERM did not stop sluice; see %s", log_path);
    cr_assert_eq(status, 0, "a requested stop is a clean stop; see %s", log_path);
    kill(frozen, SIGCONT);
    frozen = -1;
    free(cfg);
}

Test(pg_hang, item14_sigterm_stops_sluice_while_a_catalog_query_hangs)
{
    begin("it_r14b");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_r14b; CREATE TABLE it_r14b (id int PRIMARY KEY)");
    char *cfg = it_write_config(dir, "it_r14b", "public.it_r14b", "file", "");
    pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from slot", 30000), "see %s", log_path);
    it_pg_exec(db, "INSERT INTO it_r14b VALUES (1)");
    cr_assert(wait_file(dir, "it_r14b.public.it_r14b.jsonl", 20000), "see %s", log_path);

    /* The catalog backend hangs; a new table version makes sluice query it. */
    freeze(server_pid("SELECT pid FROM pg_stat_activity WHERE application_name = "
                      "'sluice-it_r14b' AND backend_type = 'client backend'"));
    it_pg_exec(db, "ALTER TABLE it_r14b ADD COLUMN v int");
    it_pg_exec(db, "INSERT INTO it_r14b VALUES (2, 2)");
    usleep(1500000); /* time for sluice to be waiting on the frozen backend */
    int status;
    int64_t took = stop_within(20000, &status);
    cr_assert_neq(took, -1, "SIGTERM did not stop sluice blocked on a catalog query; see %s",
                  log_path);
    cr_assert_eq(status, 0, "a requested stop is a clean stop; see %s", log_path);
    kill(frozen, SIGCONT);
    frozen = -1;
    free(cfg);
}

Test(pg_hang, item14_sigterm_stops_sluice_while_connecting_to_a_server_that_never_answers)
{
    dir = it_tempdir("it_r14c");
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    /* Accepts connections (the kernel does, from the backlog) and never answers. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(listen(fd, 8), 0);
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    char extra[256];
    snprintf(extra, sizeof extra, "\"database.port\": \"%d\"", ntohs(addr.sin_port));
    char *cfg = it_write_config(dir, "it_r14c", "public.it_r14c", "file", extra);
    pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "nothing stored in offsets file", 20000), "see %s", log_path);
    usleep(1000000); /* well inside the 10 s connect timeout */
    int status;
    /* Stopping must not wait for the connect timeout (10 s). */
    int64_t took = stop_within(5000, &status);
    cr_assert_neq(took, -1, "SIGTERM waited for the connect timeout; see %s", log_path);
    cr_assert_eq(status, 0, "see %s", log_path);
    close(fd);
    free(cfg);
}
