/*
 * A minimal HTTP/1.0 client, for `sluice health` (so that a container image
 * needs no curl) and for the tests of the listener. One request per
 * connection, the whole answer read until the server closes it.
 */
#ifndef SLUICE_HTTP_CLIENT_H
#define SLUICE_HTTP_CLIENT_H

#include <stddef.h>

#include "sluice/error.h"

#define SL_HTTP_HOST_MAX 256
#define SL_HTTP_PORT_MAX 8

/*
 * Splits a listener address: "host:port", "[v6]:port", or a bare "port" or
 * ":port", which mean loopback (127.0.0.1). The port may be 0 (any free one).
 */
sl_code sl_http_parse_address(const char *text, char host[SL_HTTP_HOST_MAX],
                              char port[SL_HTTP_PORT_MAX], sl_error *err);

typedef struct sl_http_response {
    int status;    /* 200, 404, ... */
    char *headers; /* the header lines, NUL-terminated */
    char *body;    /* NUL-terminated (the NUL not counted in body_len) */
    size_t body_len;
} sl_http_response;

/*
 * Sends method path to host:port with an optional bearer token and body
 * (both may be NULL) and reads the answer, all within timeout_ms. The caller
 * frees out with sl_http_response_free (also after an error).
 */
sl_code sl_http_request(const char *host, const char *port, const char *method, const char *path,
                        const char *token, const char *body, int timeout_ms, sl_http_response *out,
                        sl_error *err);

void sl_http_response_free(sl_http_response *r);

/* The value of header name (case-insensitive) in r, copied into buf; false when absent. */
int sl_http_response_header(const sl_http_response *r, const char *name, char *buf, size_t size);

#endif
