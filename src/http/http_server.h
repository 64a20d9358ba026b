/*
 * The HTTP listener: health, readiness, Prometheus metrics, and the Kafka
 * Connect REST calls an operator uses on a connector (status, pause, resume,
 * restart). Off unless an address is given; a bare port listens on loopback
 * only. Served by libmicrohttpd's own thread, which reads the metrics board
 * (metrics.h) and never touches a pipeline's state directly.
 *
 * Process settings, not connector settings: they come from the command line
 * (--http-listen, --http-token-file) or the environment (SLUICE_HTTP_LISTEN,
 * SLUICE_HTTP_TOKEN, SLUICE_HTTP_TOKEN_FILE), the command line winning. The
 * token is never accepted on the command line, where any user could read it
 * in the process list.
 */
#ifndef SLUICE_HTTP_SERVER_H
#define SLUICE_HTTP_SERVER_H

#include "sluice/error.h"

typedef struct sl_http_options {
    char *listen;     /* "host:port", "[v6]:port" or "port"; NULL: off. Owned. */
    char *token_file; /* from --http-token-file; owned */
    char *token;      /* the bearer token, or NULL. Owned; a secret */
} sl_http_options;

/*
 * Consumes a listener option at argv[i] (with its value) from main's option
 * loop. Returns the number of arguments used (0: not a listener option), or
 * -1 after printing what is wrong.
 */
int sl_http_option(int argc, char **argv, int i, sl_http_options *opts);

/* Fills what the command line left unset from the environment and reads the token file. */
sl_code sl_http_options_finish(sl_http_options *opts, sl_error *err);

void sl_http_options_free(sl_http_options *opts);

typedef struct sl_http_server sl_http_server;

/*
 * Starts listening when opts->listen is set (otherwise *out is NULL and
 * nothing runs) and enables the metrics that cost something to gather. The
 * caller stops it with sl_http_server_stop, which frees it.
 */
sl_code sl_http_server_start(const sl_http_options *opts, sl_http_server **out, sl_error *err);

/* The port actually bound (useful with port 0). */
int sl_http_server_port(const sl_http_server *srv);

void sl_http_server_stop(sl_http_server *srv);

/*
 * `sluice health [--ready] [ADDRESS]`: GETs /healthz (or /readyz) of the
 * listener at ADDRESS (default: the --http-listen or SLUICE_HTTP_LISTEN
 * address, an all-interfaces address probed on loopback). Prints the answer;
 * returns the exit status: 0 healthy, 1 not, 2 usage error. For container
 * health checks, so that an image needs no curl.
 */
int sl_http_health_command(int argc, char **argv, const sl_http_options *opts);

#endif
