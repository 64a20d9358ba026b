/*
 * The schema registry client (schema_registry.h).
 *
 * Entries are (subject, schema text) pairs in a list that only grows: one
 * per table version and side (key or value), so a few per table. The
 * pipeline thread appends to it under the lock; the worker thread takes the
 * entry that is due soonest, talks to the registry without the lock held,
 * and writes the outcome back under the lock. An entry's usable id is an
 * atomic so that the encoder and the pipeline read it without locking.
 *
 * Failures are of two kinds. A transient one (no connection, a timeout, HTTP
 * 5xx) is retried with exponential backoff and marks the registry as away. A
 * refusal (HTTP 409 incompatible, 422 invalid, 404 not registered, 401/403)
 * will not change by retrying soon: it is logged with the subject and the
 * registry's reason, and retried at the slow pace of retry_max_ms, so that
 * an operator who changes the subject's compatibility sees the held events
 * go out without a restart.
 *
 * Only Confluent's documented API is used: POST /subjects/{s}/versions
 * (register), POST /subjects/{s} (look up), GET /subjects/{s}/versions/latest,
 * GET /config/{s}?defaultToGlobal=true (the compatibility level named in a
 * refusal; without defaultToGlobal Apicurio answers NONE for a subject with
 * no level of its own) and GET /config (the health check).
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "encoders/schema_registry.h"
#include "sluice/log.h"

#define MAX_RESPONSE (16 * 1024 * 1024)
#define REASON_MAX 1024
#define REFUSAL_LOG_INTERVAL_MS 60000

typedef enum entry_state {
    ENTRY_QUEUED, /* waiting for the worker, from due_ms on */
    ENTRY_BUSY,   /* the worker is asking the registry */
    ENTRY_DONE,   /* id known */
} entry_state;

struct sl_sr_schema {
    sl_encoder_wait wait; /* first member: the pipeline holds messages on it */
    _Atomic int32_t usable_id;
    sl_sr_schema *next;
    char *subject;
    char *schema;
    char *what;

    /* Under sr->lock. */
    entry_state state;
    int32_t id; /* the last id the registry gave, kept while it is checked again */
    int64_t due_ms;
    int64_t backoff_ms;
    char error[REASON_MAX];
    int64_t logged_ms; /* when a refusal was last logged */
};

struct sl_sr {
    sl_sr_options opts;
    char *strings[7]; /* the option strings, copied */
    char **urls;
    size_t nurls;
    size_t url;
    int wake_fd;
    char log_context[128];

    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool started;
    bool stop;
    sl_sr_schema *entries;
    sl_sr_schema **tail;

    /* Worker thread only. */
    bool away; /* the last request found the registry unreachable */
    int64_t next_health_ms;
    CURL *curl;
    struct curl_slist *headers;
    sl_buf response;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        abort();
    return p;
}

void sl_sr_url_for_log(const char *urls, char *out, size_t size)
{
    size_t len = strcspn(urls, ",");
    while (len && urls[0] == ' ') {
        urls++;
        len--;
    }
    const char *scheme = strstr(urls, "://");
    const char *host = scheme && (size_t)(scheme - urls) < len ? scheme + 3 : urls;
    const char *at = memchr(host, '@', len - (size_t)(host - urls));
    const char *slash = memchr(host, '/', len - (size_t)(host - urls));
    if (at && (!slash || at < slash))
        snprintf(out, size, "%.*s%.*s", (int)(host - urls), urls,
                 (int)(len - (size_t)(at + 1 - urls)), at + 1);
    else
        snprintf(out, size, "%.*s", (int)len, urls);
}

/* ---------------------------------------------------------------------------
 * HTTP
 */

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    sl_buf *b = ctx;
    if (b->len + size * n > MAX_RESPONSE)
        return 0;
    sl_buf_append(b, data, size * n);
    return size * n;
}

typedef enum outcome {
    OUTCOME_OK,
    OUTCOME_TRANSIENT, /* retry soon: the registry is away or overloaded */
    OUTCOME_REFUSED,   /* the registry said no; retry slowly */
} outcome;

/*
 * One request to the current URL. Returns OUTCOME_TRANSIENT with reason on a
 * transport failure; otherwise OUTCOME_OK with *status and the parsed body
 * in *json (NULL when it is not JSON; the caller frees it).
 */
static outcome http(sl_sr *sr, const char *method, const char *path, const char *body, long *status,
                    json_t **json, char *reason, size_t reason_size)
{
    *json = NULL;
    *status = 0;
    const char *base = sr->urls[sr->url];
    size_t base_len = strlen(base);
    while (base_len && base[base_len - 1] == '/')
        base_len--;
    char url[4096];
    snprintf(url, sizeof url, "%.*s%s", (int)base_len, base, path);

    CURL *c = sr->curl;
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    sl_buf_reset(&sr->response);
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    if (rc != CURLE_OK) {
        char where[512];
        sl_sr_url_for_log(base, where, sizeof where);
        snprintf(reason, reason_size, "%s %s: %s", method, where,
                 curl_err[0] ? curl_err : curl_easy_strerror(rc));
        if (sr->nurls > 1)
            sr->url = (sr->url + 1) % sr->nurls;
        return OUTCOME_TRANSIENT;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (sr->response.len) {
        json_error_t jerr;
        *json = json_loadb(sr->response.data, sr->response.len, JSON_DECODE_ANY, &jerr);
    }
    if (*status >= 500 || *status == 408 || *status == 429) {
        const char *msg = *json ? json_string_value(json_object_get(*json, "message")) : NULL;
        snprintf(reason, reason_size, "HTTP %ld%s%s", *status, msg ? ": " : "", msg ? msg : "");
        json_decref(*json);
        *json = NULL;
        if (sr->nurls > 1)
            sr->url = (sr->url + 1) % sr->nurls;
        return OUTCOME_TRANSIENT;
    }
    return OUTCOME_OK;
}

static char *escape_path(sl_sr *sr, const char *s)
{
    char *e = curl_easy_escape(sr->curl, s, 0);
    if (!e)
        abort();
    return e;
}

/* {"schema": "<text>"} */
static char *schema_body(const char *schema)
{
    json_t *o = json_pack("{s:s}", "schema", schema);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        abort();
    return text;
}

/* The subject's compatibility level, its own or the global one, or "?". */
static void compatibility(sl_sr *sr, const char *subject_path, char *out, size_t size)
{
    char path[2048];
    snprintf(path, sizeof path, "/config/%s?defaultToGlobal=true", subject_path);
    long status;
    json_t *j;
    char reason[REASON_MAX];
    snprintf(out, size, "?");
    if (http(sr, "GET", path, NULL, &status, &j, reason, sizeof reason) != OUTCOME_OK)
        return;
    const char *level = j ? json_string_value(json_object_get(j, "compatibilityLevel")) : NULL;
    if (status == 200 && level)
        snprintf(out, size, "%s", level);
    json_decref(j);
}

/* The registry's own words for a refusal, shortened. */
static void refusal_text(const json_t *j, long status, char *out, size_t size)
{
    const char *msg = j ? json_string_value(json_object_get(j, "message")) : NULL;
    snprintf(out, size, "%.400s (HTTP %ld)", msg ? msg : "no reason given", status);
}

/*
 * True when the registry's latest schema text is the same schema document as
 * ours, whatever its spacing or member order (a registry may store the text
 * it was given reformatted).
 */
static bool same_schema(const char *a, const char *b)
{
    json_t *ja = json_loads(a, JSON_ALLOW_NUL, NULL);
    json_t *jb = json_loads(b, JSON_ALLOW_NUL, NULL);
    bool same = ja && jb && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return same;
}

/*
 * Asks the registry for e's id: registers it (auto.register.schemas), takes
 * the subject's latest version (use.latest.version) or looks it up.
 */
static outcome resolve(sl_sr *sr, const sl_sr_schema *e, int32_t *id, char *reason,
                       size_t reason_size)
{
    char *subject = escape_path(sr, e->subject);
    char path[2048];
    const char *method = "POST";
    char *body = NULL;
    if (sr->opts.auto_register) {
        snprintf(path, sizeof path, "/subjects/%s/versions", subject);
        body = schema_body(e->schema);
    } else if (sr->opts.use_latest) {
        snprintf(path, sizeof path, "/subjects/%s/versions/latest", subject);
        method = "GET";
    } else {
        snprintf(path, sizeof path, "/subjects/%s", subject);
        body = schema_body(e->schema);
    }
    long status;
    json_t *j;
    outcome out = http(sr, method, path, body, &status, &j, reason, reason_size);
    free(body);
    if (out != OUTCOME_OK)
        goto done;

    json_int_t got = j ? json_integer_value(json_object_get(j, "id")) : 0;
    if (status == 200 && got > 0 && got <= INT32_MAX) {
        const char *latest = j ? json_string_value(json_object_get(j, "schema")) : NULL;
        if (!sr->opts.auto_register && sr->opts.use_latest &&
            (!latest || !same_schema(latest, e->schema))) {
            json_int_t version = json_integer_value(json_object_get(j, "version"));
            snprintf(reason, reason_size,
                     "subject \"%s\": its latest version (%lld, id %lld) is not the schema of %s "
                     "(use.latest.version needs them to be the same Avro schema)",
                     e->subject, (long long)version, (long long)got, e->what);
            out = OUTCOME_REFUSED;
            goto done;
        }
        *id = (int32_t)got;
        goto done;
    }
    char words[448]; /* the registry's words: the rest of reason names the subject and table */
    refusal_text(j, status, words, sizeof words);
    out = OUTCOME_REFUSED;
    if (status == 200) {
        snprintf(reason, reason_size, "subject \"%s\": unexpected answer for %s: %s", e->subject,
                 e->what, words);
    } else if (status == 409) {
        char level[64];
        compatibility(sr, subject, level, sizeof level);
        snprintf(reason, reason_size,
                 "subject \"%s\" (compatibility %s) refused the new schema of %s: %s", e->subject,
                 level, e->what, words);
    } else if (status == 404) {
        snprintf(reason, reason_size, "subject \"%s\" has no %s for %s and %s: %s", e->subject,
                 sr->opts.use_latest ? "version" : "such schema", e->what,
                 sr->opts.auto_register ? "registering failed" : "auto.register.schemas is false",
                 words);
    } else if (status == 401 || status == 403) {
        snprintf(reason, reason_size, "subject \"%s\": the registry refused our credentials: %s",
                 e->subject, words);
    } else {
        snprintf(reason, reason_size, "subject \"%s\" refused the schema of %s: %s", e->subject,
                 e->what, words);
    }
done:
    json_decref(j);
    curl_free(subject);
    return out;
}

static outcome health(sl_sr *sr, char *reason, size_t reason_size)
{
    long status;
    json_t *j;
    outcome out = http(sr, "GET", "/config", NULL, &status, &j, reason, reason_size);
    json_decref(j);
    return out;
}

/* ---------------------------------------------------------------------------
 * The worker thread
 */

static void wake_pipeline(sl_sr *sr)
{
    uint64_t one = 1;
    ssize_t n = write(sr->wake_fd, &one, sizeof one);
    (void)n;
}

/*
 * The registry answers again after being away: every known id (but fresh,
 * the one it has just given) is checked anew before it is used again. Under
 * the lock.
 */
static void recheck_all(sl_sr *sr, const sl_sr_schema *fresh, int64_t now)
{
    size_t n = 0;
    for (sl_sr_schema *e = sr->entries; e; e = e->next) {
        if (e->state != ENTRY_DONE || e == fresh)
            continue;
        atomic_store(&e->usable_id, 0);
        e->state = ENTRY_QUEUED;
        e->due_ms = now;
        n++;
    }
    char where[512];
    sl_sr_url_for_log(sr->urls[sr->url], where, sizeof where);
    if (n)
        sl_info("schema registry %s answers again: checking the ids of %zu schemas before using "
                "them",
                where, n);
    else
        sl_info("schema registry %s answers again", where);
}

static void went_away(sl_sr *sr, const char *reason)
{
    if (sr->away)
        return;
    sr->away = true;
    sl_warn("schema registry unreachable (%s): events whose schema id is known keep flowing, "
            "events that need a new schema wait and are retried",
            reason);
}

/* Writes the outcome of a request for e back; under the lock. */
static void settle_entry(sl_sr *sr, sl_sr_schema *e, outcome out, int32_t id, const char *reason)
{
    int64_t now = mono_ms();
    if (out == OUTCOME_OK) {
        if (e->id && e->id != id)
            sl_warn("schema registry gave subject \"%s\" id %d for the schema of %s it had as id "
                    "%d (it lost its storage?): using %d from now on",
                    e->subject, id, e->what, e->id, id);
        if (e->error[0])
            sl_info("subject \"%s\": schema of %s registered as id %d", e->subject, e->what, id);
        e->id = id;
        e->state = ENTRY_DONE;
        e->backoff_ms = 0;
        e->error[0] = '\0';
        atomic_store(&e->usable_id, id);
        wake_pipeline(sr);
        return;
    }
    e->state = ENTRY_QUEUED;
    snprintf(e->error, sizeof e->error, "%s", reason);
    if (out == OUTCOME_TRANSIENT) {
        int64_t b = e->backoff_ms ? e->backoff_ms * 2 : sr->opts.retry_initial_ms;
        e->backoff_ms = b > sr->opts.retry_max_ms ? sr->opts.retry_max_ms : b;
        e->due_ms = now + e->backoff_ms;
        return;
    }
    e->due_ms = now + sr->opts.retry_max_ms;
    if (!e->logged_ms || now - e->logged_ms >= REFUSAL_LOG_INTERVAL_MS) {
        e->logged_ms = now;
        sl_error_log("%s; the events of %s are held (the checkpoint stays before them) and the "
                     "registration is retried every %lld ms",
                     reason, e->what, (long long)sr->opts.retry_max_ms);
    }
}

static void *worker(void *arg)
{
    sl_sr *sr = arg;
    sl_log_set_context(sr->log_context[0] ? sr->log_context : NULL);
    pthread_mutex_lock(&sr->lock);
    while (!sr->stop) {
        int64_t now = mono_ms();
        sl_sr_schema *due = NULL;
        int64_t next = INT64_MAX;
        bool have_done = false;
        for (sl_sr_schema *e = sr->entries; e; e = e->next) {
            if (e->state == ENTRY_DONE)
                have_done = true;
            if (e->state != ENTRY_QUEUED)
                continue;
            if (e->due_ms <= now) {
                if (!due || e->due_ms < due->due_ms)
                    due = e;
            } else if (e->due_ms < next) {
                next = e->due_ms;
            }
        }
        char reason[REASON_MAX] = "";
        if (due) {
            due->state = ENTRY_BUSY;
            pthread_mutex_unlock(&sr->lock);
            int32_t id = 0;
            outcome out = resolve(sr, due, &id, reason, sizeof reason);
            pthread_mutex_lock(&sr->lock);
            bool was_away = sr->away;
            if (out == OUTCOME_TRANSIENT)
                went_away(sr, reason);
            else
                sr->away = false;
            settle_entry(sr, due, out, id, reason);
            if (was_away && !sr->away)
                recheck_all(sr, due, mono_ms());
            continue;
        }
        if (have_done && now >= sr->next_health_ms) {
            pthread_mutex_unlock(&sr->lock);
            outcome out = health(sr, reason, sizeof reason);
            pthread_mutex_lock(&sr->lock);
            sr->next_health_ms = mono_ms() + sr->opts.health_interval_ms;
            if (out == OUTCOME_TRANSIENT) {
                went_away(sr, reason);
            } else if (sr->away) {
                sr->away = false;
                recheck_all(sr, NULL, mono_ms());
            }
            continue;
        }
        if (have_done && sr->next_health_ms < next)
            next = sr->next_health_ms;
        if (next == INT64_MAX) {
            pthread_cond_wait(&sr->cond, &sr->lock);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t wait_ms = next - now;
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (wait_ms % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&sr->cond, &sr->lock, &ts);
        }
    }
    pthread_mutex_unlock(&sr->lock);
    return NULL;
}

/* ---------------------------------------------------------------------------
 * The client
 */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool settle_wait(const sl_encoder_wait *w, char *bytes, size_t len)
{
    const sl_sr_schema *s = (const sl_sr_schema *)w;
    int32_t id = atomic_load(&s->usable_id);
    if (id <= 0 || len < 5)
        return false;
    bytes[1] = (char)(id >> 24);
    bytes[2] = (char)(id >> 16);
    bytes[3] = (char)(id >> 8);
    bytes[4] = (char)id;
    return true;
}

static sl_code setup_curl(sl_sr *sr, sl_error *err)
{
    sr->curl = curl_easy_init();
    if (!sr->curl)
        return sl_error_set(err, SL_NOMEM, "could not create an HTTP client");
    CURL *c = sr->curl;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)sr->opts.timeout_ms);
    long connect_ms = sr->opts.timeout_ms < 10000 ? (long)sr->opts.timeout_ms : 10000L;
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sr->response);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "sluice/" SLUICE_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/vnd.schemaregistry.v1+json");
    h = curl_slist_append(h, "Accept: application/vnd.schemaregistry.v1+json, application/json");
    if (sr->opts.bearer_token && *sr->opts.bearer_token) {
        size_t n = strlen(sr->opts.bearer_token) + 32;
        char *line = malloc(n);
        if (!line)
            abort();
        snprintf(line, n, "Authorization: Bearer %s", sr->opts.bearer_token);
        h = curl_slist_append(h, line);
        memset(line, 0, n);
        free(line);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    sr->headers = h;
    if (sr->opts.user_info && *sr->opts.user_info) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, sr->opts.user_info);
    }
    if (sr->opts.ca_file && *sr->opts.ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, sr->opts.ca_file);
    if (sr->opts.cert_file && *sr->opts.cert_file)
        curl_easy_setopt(c, CURLOPT_SSLCERT, sr->opts.cert_file);
    if (sr->opts.key_file && *sr->opts.key_file)
        curl_easy_setopt(c, CURLOPT_SSLKEY, sr->opts.key_file);
    if (sr->opts.key_password && *sr->opts.key_password)
        curl_easy_setopt(c, CURLOPT_KEYPASSWD, sr->opts.key_password);
    return SL_OK;
}

sl_code sl_sr_open(const sl_sr_options *opts, int wake_fd, sl_sr **out, sl_error *err)
{
    pthread_once(&curl_once, curl_init);
    sl_sr *sr = calloc(1, sizeof *sr);
    if (!sr)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    sr->opts = *opts;
    const char **fields[] = {&sr->opts.urls,        &sr->opts.user_info, &sr->opts.bearer_token,
                             &sr->opts.ca_file,     &sr->opts.cert_file, &sr->opts.key_file,
                             &sr->opts.key_password};
    for (size_t i = 0; i < 7; i++) {
        if (*fields[i]) {
            sr->strings[i] = xstrdup(*fields[i]);
            *fields[i] = sr->strings[i];
        }
    }
    if (sr->opts.retry_initial_ms <= 0)
        sr->opts.retry_initial_ms = 300;
    if (sr->opts.retry_max_ms < sr->opts.retry_initial_ms)
        sr->opts.retry_max_ms = sr->opts.retry_initial_ms;
    if (sr->opts.health_interval_ms <= 0)
        sr->opts.health_interval_ms = 2000;
    if (sr->opts.timeout_ms <= 0)
        sr->opts.timeout_ms = 30000;
    snprintf(sr->log_context, sizeof sr->log_context, "%s",
             opts->log_context ? opts->log_context : "");
    sr->wake_fd = wake_fd;
    sr->tail = &sr->entries;
    sl_buf_init(&sr->response);

    /* The URL list: comma-separated, blanks around each ignored. */
    char *list = xstrdup(sr->opts.urls ? sr->opts.urls : "");
    char *save = NULL;
    for (char *u = strtok_r(list, ", ", &save); u; u = strtok_r(NULL, ", ", &save)) {
        sr->urls = realloc(sr->urls, (sr->nurls + 1) * sizeof *sr->urls);
        if (!sr->urls)
            abort();
        sr->urls[sr->nurls++] = xstrdup(u);
    }
    free(list);
    sl_code rc = SL_OK;
    if (!sr->nurls)
        rc = sl_error_set(err, SL_CONFIG, "no schema registry URL");
    if (rc == SL_OK)
        rc = setup_curl(sr, err);
    pthread_mutex_init(&sr->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&sr->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc == SL_OK) {
        int e = pthread_create(&sr->thread, NULL, worker, sr);
        if (e)
            rc = sl_error_set(err, SL_INTERNAL, "could not start the schema registry thread: %s",
                              strerror(e));
        else
            sr->started = true;
    }
    if (rc != SL_OK) {
        sl_sr_close(sr);
        return rc;
    }
    *out = sr;
    return SL_OK;
}

void sl_sr_close(sl_sr *sr)
{
    if (!sr)
        return;
    if (sr->started) {
        pthread_mutex_lock(&sr->lock);
        sr->stop = true;
        pthread_cond_signal(&sr->cond);
        pthread_mutex_unlock(&sr->lock);
        pthread_join(sr->thread, NULL);
    }
    pthread_mutex_destroy(&sr->lock);
    pthread_cond_destroy(&sr->cond);
    for (sl_sr_schema *e = sr->entries, *next; e; e = next) {
        next = e->next;
        free(e->subject);
        free(e->schema);
        free(e->what);
        free(e);
    }
    if (sr->curl)
        curl_easy_cleanup(sr->curl);
    curl_slist_free_all(sr->headers);
    for (size_t i = 0; i < 7; i++) {
        if (sr->strings[i]) {
            /* Credentials do not linger in freed memory. */
            memset(sr->strings[i], 0, strlen(sr->strings[i]));
            free(sr->strings[i]);
        }
    }
    for (size_t i = 0; i < sr->nurls; i++)
        free(sr->urls[i]);
    free(sr->urls);
    sl_buf_free(&sr->response);
    free(sr);
}

sl_sr_schema *sl_sr_schema_get(sl_sr *sr, const char *subject, const char *schema, const char *what)
{
    pthread_mutex_lock(&sr->lock);
    sl_sr_schema *e = sr->entries;
    for (; e; e = e->next)
        if (strcmp(e->subject, subject) == 0 && strcmp(e->schema, schema) == 0)
            break;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e)
            abort();
        e->wait.settle = settle_wait;
        atomic_init(&e->usable_id, 0);
        e->subject = xstrdup(subject);
        e->schema = xstrdup(schema);
        e->what = xstrdup(what);
        e->state = ENTRY_QUEUED;
        e->due_ms = mono_ms();
        *sr->tail = e;
        sr->tail = &e->next;
        pthread_cond_signal(&sr->cond);
    }
    pthread_mutex_unlock(&sr->lock);
    return e;
}

int32_t sl_sr_schema_id(const sl_sr_schema *s)
{
    return atomic_load(&s->usable_id);
}

const sl_encoder_wait *sl_sr_schema_wait(const sl_sr_schema *s)
{
    return &s->wait;
}

const char *sl_sr_schema_subject(const sl_sr_schema *s)
{
    return s->subject;
}

void sl_sr_schema_last_error(sl_sr *sr, const sl_sr_schema *s, char *out, size_t size)
{
    pthread_mutex_lock(&sr->lock);
    snprintf(out, size, "%s", s->error);
    pthread_mutex_unlock(&sr->lock);
}
