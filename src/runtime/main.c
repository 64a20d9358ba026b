/*
 * The sluice command line: check, run, offsets, keys and man.
 *
 * `run` checks every connector file, then hands them to the supervisor
 * (supervisor.h): one pipeline thread per connector, SIGTERM and SIGINT to
 * stop, SIGHUP to reload the files.
 *
 * The exit status says how `run` ended (README, "Exit codes"): 0 after a
 * requested stop, otherwise the class of the first connector's failure
 * (sl_code_exit_status), so that a supervisor can tell a configuration to fix
 * from a database or a Kafka to look at.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/config_load.h"
#include "runtime/connector.h"
#include "runtime/docs.h"
#include "http/http_server.h"
#include "offsets/cli.h"
#include "runtime/registry.h"
#include "runtime/reload.h"
#include "sluice/log.h"
#include "runtime/supervisor.h"

static const char usage[] =
    "usage: sluice [OPTION]... COMMAND [FILE|DIR]...\n"
    "\n"
    "sluice captures row changes from a database's log and appends them to Kafka as\n"
    "Debezium-compatible events. Each connector is one JSON file of Debezium-style keys.\n"
    "\n"
    "commands:\n"
    "  check FILE|DIR...  validate connector files without connecting to anything\n"
    "  run FILE|DIR...    run every connector given; a directory means each *.json in it\n"
    "  offsets show FILE|DIR...   print each connector's stored position (JSON)\n"
    "  offsets set FILE POSITION  store a position (as show prints it, an LSN, or a Kafka\n"
    "                             Connect offset map); stop the connector first\n"
    "  offsets reset FILE|DIR...  forget each connector's stored position\n"
    "  keys               print every configuration key, its default and meaning (markdown)\n"
    "  man                print the man page sluice(1) (roff)\n"
    "  health [--ready] [ADDR]  probe a running sluice's /healthz (or /readyz); exit 0 if ok\n"
    "\n"
    "options:\n"
    "  --log-level LEVEL  error, warn, info (default) or debug; or SLUICE_LOG_LEVEL\n"
    "  --log-format FMT   text (default) or json, one object per line; or SLUICE_LOG_FORMAT\n"
    "  --http-listen ADDR  serve /healthz, /readyz, /metrics and Kafka Connect's connector\n"
    "                     REST calls on ADDR (HOST:PORT, or PORT for loopback only);\n"
    "                     default $SLUICE_HTTP_LISTEN, else no listener\n"
    "  --http-token-file FILE  require \"Authorization: Bearer TOKEN\" (TOKEN read from FILE,\n"
    "                     or $SLUICE_HTTP_TOKEN) on all but /healthz and /readyz\n"
    "  --help             show this help\n"
    "  --version          show the version\n"
    "\n"
    "SIGTERM or SIGINT stops `run` after flushing the sinks and writing final checkpoints;\n"
    "SIGHUP reloads the connector files: added ones start, removed ones stop, changed ones\n"
    "restart, invalid ones are refused and change nothing.\n"
    "\n"
    "exit status: 0 stopped as asked, 1 internal error, 2 configuration, 3 source (database),\n"
    "4 sink (Kafka), 5 stored position does not match the database.\n";

/* Process settings of the HTTP listener (command line, then environment). */
static sl_http_options http_opts;

typedef struct file_list {
    char **paths;
    size_t n, cap;
} file_list;

/* Expands directories into their *.json files, in name order (sl_reload_scan). */
static int collect(int argc, char **argv, file_list *out)
{
    sl_error err;
    if (argc == 0) {
        fprintf(stderr, "sluice: no connector files given\n%s", usage);
        return -1;
    }
    if (sl_reload_scan(argc, argv, &out->paths, &out->n, &err) != SL_OK) {
        fprintf(stderr, "sluice: %s\n", err.msg);
        return -1;
    }
    out->cap = out->n;
    return 0;
}

/* Loads every file; on any error reports all of them and fails. */
static int load_all(const file_list *files, sl_connector ***out)
{
    sl_connector **conns = calloc(files->n, sizeof *conns);
    int failed = 0;
    for (size_t i = 0; i < files->n; i++) {
        sl_error err;
        if (sl_connector_load(files->paths[i], &conns[i], &err) != SL_OK) {
            fprintf(stderr, "sluice: %s\n", err.msg);
            failed = 1;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (conns[j] &&
                sl_reload_conflict(conns[j], files->paths[j], conns[i], files->paths[i], &err)) {
                fprintf(stderr, "sluice: %s\n", err.msg);
                failed = 1;
            }
        }
    }
    if (failed) {
        for (size_t i = 0; i < files->n; i++)
            sl_connector_free(conns[i]);
        free(conns);
        return -1;
    }
    *out = conns;
    return 0;
}

static int cmd_check(const file_list *files)
{
    sl_connector **conns;
    if (load_all(files, &conns) != 0)
        return 1;
    for (size_t i = 0; i < files->n; i++) {
        printf("%s: ok (connector \"%s\", source %s, sink %s)\n", files->paths[i],
               sl_config_name(conns[i]->cfg), conns[i]->source->name, conns[i]->sink->name);
        sl_connector_free(conns[i]);
    }
    free(conns);
    return 0;
}

static int cmd_run(int argc, char **argv, const file_list *files)
{
    sl_connector **conns;
    if (load_all(files, &conns) != 0)
        return SL_EXIT_CONFIG;
    int rc = sl_supervisor_run(argc, argv, files->paths, conns, files->n, &http_opts);
    free(conns); /* the connectors are the supervisor's */
    return rc;
}

/* `sluice offsets show|set|reset`: one connector file for set, any number otherwise. */
static int cmd_offsets(int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    bool set = strcmp(sub, "set") == 0;
    if (!set && strcmp(sub, "show") != 0 && strcmp(sub, "reset") != 0) {
        fprintf(stderr, "sluice: offsets: expected show, set or reset\n%s", usage);
        return SL_EXIT_CONFIG;
    }
    if (set && argc != 3) {
        fprintf(stderr, "sluice: offsets set: expected one connector file and a position\n");
        return SL_EXIT_CONFIG;
    }
    file_list files = {0};
    sl_connector **conns = NULL;
    int rc = collect(set ? 1 : argc - 1, argv + 1, &files) != 0 ? SL_EXIT_CONFIG : SL_EXIT_OK;
    if (rc == SL_EXIT_OK && load_all(&files, &conns) != 0)
        rc = SL_EXIT_CONFIG;
    for (size_t i = 0; rc != SL_EXIT_CONFIG && i < files.n; i++) {
        sl_error err;
        sl_code code = set                        ? sl_offsets_set(conns[i], argv[2], stdout, &err)
                       : strcmp(sub, "show") == 0 ? sl_offsets_show(conns[i], stdout, &err)
                                                  : sl_offsets_reset(conns[i], &err);
        if (code != SL_OK) {
            fprintf(stderr, "sluice: %s: %s\n", files.paths[i], err.msg);
            rc = sl_code_exit_status(code);
        }
    }
    for (size_t i = 0; conns && i < files.n; i++)
        sl_connector_free(conns[i]);
    free(conns);
    for (size_t k = 0; k < files.n; k++)
        free(files.paths[k]);
    free(files.paths);
    return rc;
}

/* SLUICE_LOG_LEVEL and SLUICE_LOG_FORMAT, which the options override. */
static int log_from_env(void)
{
    const char *level = getenv("SLUICE_LOG_LEVEL");
    const char *format = getenv("SLUICE_LOG_FORMAT");
    if (level && *level && sl_log_level_parse(level) < 0) {
        fprintf(stderr, "sluice: SLUICE_LOG_LEVEL: unknown log level \"%s\"\n", level);
        return -1;
    }
    if (format && *format && sl_log_format_parse(format) < 0) {
        fprintf(stderr, "sluice: SLUICE_LOG_FORMAT: unknown log format \"%s\"\n", format);
        return -1;
    }
    if (level && *level)
        sl_log_set_level((sl_log_level)sl_log_level_parse(level));
    if (format && *format)
        sl_log_set_format((sl_log_format)sl_log_format_parse(format));
    return 0;
}

int main(int argc, char **argv)
{
    if (log_from_env() != 0)
        return 2;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("sluice %s\n", SLUICE_VERSION);
            return 0;
        }
        int used = sl_http_option(argc, argv, i, &http_opts);
        if (used < 0)
            return 2;
        if (used > 0) {
            i += used - 1;
            continue;
        }
        if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            int level = sl_log_level_parse(argv[++i]);
            if (level < 0) {
                fprintf(stderr, "sluice: unknown log level \"%s\"\n", argv[i]);
                return 2;
            }
            sl_log_set_level((sl_log_level)level);
            continue;
        }
        if (strcmp(argv[i], "--log-format") == 0 && i + 1 < argc) {
            int format = sl_log_format_parse(argv[++i]);
            if (format < 0) {
                fprintf(stderr, "sluice: unknown log format \"%s\"\n", argv[i]);
                return 2;
            }
            sl_log_set_format((sl_log_format)format);
            continue;
        }
        fprintf(stderr, "sluice: unknown option \"%s\"\n%s", argv[i], usage);
        return 2;
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[i++];
    if (strcmp(cmd, "keys") == 0) {
        sl_docs_keys(stdout);
        return 0;
    }
    if (strcmp(cmd, "man") == 0) {
        sl_docs_man(stdout);
        return 0;
    }
    if (strcmp(cmd, "health") == 0 || strcmp(cmd, "run") == 0) {
        sl_error err;
        if (sl_http_options_finish(&http_opts, &err) != SL_OK) {
            fprintf(stderr, "sluice: %s\n", err.msg);
            sl_http_options_free(&http_opts);
            return 2;
        }
    }
    if (strcmp(cmd, "health") == 0) {
        int rc = sl_http_health_command(argc - i, argv + i, &http_opts);
        sl_http_options_free(&http_opts);
        return rc;
    }
    if (strcmp(cmd, "offsets") == 0) {
        int rc = cmd_offsets(argc - i, argv + i);
        sl_http_options_free(&http_opts);
        return rc;
    }
    if (strcmp(cmd, "check") != 0 && strcmp(cmd, "run") != 0) {
        fprintf(stderr, "sluice: unknown command \"%s\"\n%s", cmd, usage);
        return 2;
    }
    file_list files = {0};
    int rc;
    if (collect(argc - i, argv + i, &files) != 0)
        rc = 2;
    else
        rc = strcmp(cmd, "check") == 0 ? (cmd_check(&files) ? 2 : 0)
                                       : cmd_run(argc - i, argv + i, &files);
    for (size_t k = 0; k < files.n; k++)
        free(files.paths[k]);
    free(files.paths);
    sl_http_options_free(&http_opts);
    return rc;
}
