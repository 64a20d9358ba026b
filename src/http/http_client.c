/*
 * The minimal HTTP/1.0 client (http_client.h). HTTP/1.0 with
 * "Connection: close" keeps the answer simple to read: no chunked transfer
 * encoding, the body runs to the end of the connection.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http_client.h"
#include "sluice/memory.h"

#define RESPONSE_MAX (64 * 1024 * 1024)

sl_code sl_http_parse_address(const char *text, char host[SL_HTTP_HOST_MAX],
                              char port[SL_HTTP_PORT_MAX], sl_error *err)
{
    const char *p;
    size_t hlen;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return sl_error_set(err, SL_CONFIG, "address \"%s\": expected [ADDRESS]:PORT", text);
        hlen = (size_t)(close - text - 1);
        memcpy(host, text + 1, hlen < SL_HTTP_HOST_MAX ? hlen : 0);
        p = close + 2;
    } else if (strchr(text, ':')) {
        const char *colon = strrchr(text, ':');
        hlen = (size_t)(colon - text);
        p = colon + 1;
        if (hlen == 0) {
            hlen = strlen("127.0.0.1");
            memcpy(host, "127.0.0.1", hlen + 1);
        } else if (hlen < SL_HTTP_HOST_MAX) {
            memcpy(host, text, hlen);
        }
    } else {
        hlen = strlen("127.0.0.1");
        memcpy(host, "127.0.0.1", hlen + 1);
        p = text;
    }
    if (hlen == 0 || hlen >= SL_HTTP_HOST_MAX)
        return sl_error_set(err, SL_CONFIG, "address \"%s\": bad host", text);
    host[hlen] = '\0';
    size_t plen = strlen(p);
    bool digits = plen > 0 && plen < SL_HTTP_PORT_MAX;
    for (size_t i = 0; digits && i < plen; i++)
        digits = isdigit((unsigned char)p[i]);
    if (!digits || atol(p) > 65535)
        return sl_error_set(err, SL_CONFIG, "address \"%s\": bad port", text);
    memcpy(port, p, plen + 1);
    return SL_OK;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline; false on timeout or error. */
static bool wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return true;
        if (n < 0 && errno != EINTR)
            return false;
    }
}

static int connect_to(const char *host, const char *port, int64_t deadline, sl_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        sl_error_set(err, SL_CONNECT, "could not resolve \"%s\": %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    int last_errno = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline)) {
            int so = 0;
            socklen_t len = sizeof so;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len);
            if (so == 0)
                break;
            last_errno = so;
        } else {
            last_errno = errno == EINPROGRESS ? ETIMEDOUT : errno;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        sl_error_set(err, SL_CONNECT, "could not connect to \"%s:%s\": %s", host, port,
                     strerror(last_errno ? last_errno : ECONNREFUSED));
    return fd;
}

static bool send_all(int fd, const char *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(fd, POLLOUT, deadline))
                return false;
        } else {
            return false;
        }
    }
    return true;
}

sl_code sl_http_request(const char *host, const char *port, const char *method, const char *path,
                        const char *token, const char *body, int timeout_ms, sl_http_response *out,
                        sl_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t deadline = mono_ms() + timeout_ms;
    int fd = connect_to(host, port, deadline, err);
    if (fd < 0)
        return err->code;

    sl_buf req;
    sl_buf_init(&req);
    bool v6 = strchr(host, ':') != NULL;
    sl_buf_printf(&req, "%s %s HTTP/1.0\r\nHost: %s%s%s:%s\r\nConnection: close\r\n", method, path,
                  v6 ? "[" : "", host, v6 ? "]" : "", port);
    if (token)
        sl_buf_printf(&req, "Authorization: Bearer %s\r\n", token);
    sl_buf_printf(&req, "Content-Length: %zu\r\n\r\n", body ? strlen(body) : 0);
    if (body)
        sl_buf_puts(&req, body);
    bool sent = send_all(fd, req.data, req.len, deadline);
    /* The request held the token: clear it before the memory goes back. */
    memset(req.data, 0, req.len);
    sl_buf_free(&req);
    if (!sent) {
        close(fd);
        return sl_error_set(err, SL_IO, "could not send the request to \"%s:%s\"", host, port);
    }

    sl_buf in;
    sl_buf_init(&in);
    for (;;) {
        char *w = sl_buf_reserve(&in, 16384);
        ssize_t r = recv(fd, w, 16384, 0);
        if (r > 0) {
            in.len += (size_t)r;
            if (in.len > RESPONSE_MAX)
                break;
        } else if (r == 0) {
            break;
        } else if (errno == EAGAIN || errno == EINTR) {
            if (!wait_fd(fd, POLLIN, deadline)) {
                close(fd);
                sl_buf_free(&in);
                return sl_error_set(err, SL_IO, "no complete answer from \"%s:%s\" in %d ms", host,
                                    port, timeout_ms);
            }
        } else {
            int e = errno;
            close(fd);
            sl_buf_free(&in);
            return sl_error_set(err, SL_IO, "could not read the answer of \"%s:%s\": %s", host,
                                port, strerror(e));
        }
    }
    close(fd);
    const char *text = sl_buf_cstr(&in);
    const char *end = strstr(text, "\r\n\r\n");
    int status = 0;
    if (!end || sscanf(text, "HTTP/%*d.%*d %d", &status) != 1) {
        sl_buf_free(&in);
        return sl_error_set(err, SL_PROTOCOL, "\"%s:%s\" did not answer in HTTP", host, port);
    }
    out->status = status;
    out->headers = strndup(text, (size_t)(end - text));
    out->body_len = in.len - (size_t)(end + 4 - text);
    out->body = malloc(out->body_len + 1);
    if (!out->headers || !out->body)
        abort();
    memcpy(out->body, end + 4, out->body_len);
    out->body[out->body_len] = '\0';
    sl_buf_free(&in);
    return SL_OK;
}

void sl_http_response_free(sl_http_response *r)
{
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

int sl_http_response_header(const sl_http_response *r, const char *name, char *buf, size_t size)
{
    size_t nlen = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = len - (size_t)(v - line);
            snprintf(buf, size, "%.*s", (int)vlen, v);
            return 1;
        }
        line = eol ? eol + 2 : NULL;
    }
    return 0;
}
