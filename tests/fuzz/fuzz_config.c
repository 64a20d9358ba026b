/*
 * Fuzz target: the connector file loader (src/runtime/config.c, src/runtime/connector.c):
 * JSON parsing, ${...} substitution, validation against every registered
 * key table and the components' checks, exactly as `sluice check` runs them.
 *
 * The input is the connector file. It is loaded from a private sandbox
 * directory (made once, the working directory from then on) holding what a
 * reference may point at: a secret file, a properties file, an empty file, a
 * symbolic link to /dev/zero and a FIFO, as a careless or hostile
 * configuration might name. Inputs naming an absolute path or ".." are
 * skipped, so the fuzzer reads nothing outside the sandbox. Each input runs
 * in the sandbox and the harness goes back to its own directory after it, so
 * libFuzzer's relative corpus and artifact paths keep working.
 *
 * Besides the sanitizers, it checks the promise of include/sluice/error.h:
 * no error message contains a secret, neither a value that came from a
 * ${...} reference nor the value of a key whose name says password or secret.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/connector.h"
#include "sluice/memory.h"
#include "sluice/log.h"

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_config: " __VA_ARGS__);                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

/* The secrets a reference can reach; none may show in a message. */
static const char *const secrets[] = {"s3cr3t-FILE-7f2a", "s3cr3t-ENV-91c4", "s3cr3t-PROP-5d0e"};

static char sandbox[64];
static int home_fd; /* the directory libFuzzer was started in */

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        FAIL("could not write \"%s\" in the sandbox", name);
}

/* Removes the sandbox at exit (after a crash scripts/fuzz.sh removes its TMPDIR). */
static void remove_sandbox(void)
{
    static const char *const files[] = {"secret", "secrets.properties", "empty", "zero",
                                        "fifo",   "connector.json"};
    char path[128];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", sandbox, files[i]);
        unlink(path);
    }
    rmdir(sandbox);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sl_log_set_level(SL_LOG_ERROR);
    const char *tmp = getenv("TMPDIR");
    snprintf(sandbox, sizeof sandbox, "%s/sluice-fuzz-config.XXXXXX",
             tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    home_fd = open(".", O_RDONLY | O_DIRECTORY);
    if (home_fd < 0 || !mkdtemp(sandbox) || chdir(sandbox) != 0)
        FAIL("could not make the sandbox directory");
    write_file("secret", "s3cr3t-FILE-7f2a\n");
    write_file("secrets.properties", "# connector secrets\npassword = s3cr3t-PROP-5d0e\n"
                                     "user: cdc\n");
    write_file("empty", "");
    if (symlink("/dev/zero", "zero") != 0 || mkfifo("fifo", 0600) != 0)
        FAIL("could not make the special files of the sandbox");
    setenv("FUZZ_SECRET", "s3cr3t-ENV-91c4", 1);
    atexit(remove_sandbox);
    if (fchdir(home_fd) != 0)
        FAIL("could not go back to the starting directory");
    return 0;
}

/* Whether the name of a key says its value is a secret (a part of the README's rule). */
static bool secret_key(const char *key)
{
    static const char *const words[] = {"password",   "secret",  "token",
                                        "credential", "private", "jaas"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strcasestr(key, words[i]))
            return true;
    return false;
}

/*
 * Put in place of secret values: no message text contains it, and it is short
 * enough for the JSON parser to quote it near a syntax error (20 bytes at most).
 */
#define MARKER "Zq7x"

/*
 * Appends value with each run of letters, digits, '-' and '_' replaced by the
 * marker and the punctuation kept, so that a part of it that ends up in a
 * message ("S3cr${t-XYZ}" naming variable "t-XYZ") shows as the marker.
 */
static void mark_value(sl_buf *out, const char *value, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && (isalnum((unsigned char)value[j]) || value[j] == '-' || value[j] == '_'))
            j++;
        if (j > i) {
            sl_buf_puts(out, MARKER);
            i = j;
        } else {
            sl_buf_putc(out, value[i++]);
        }
    }
}

/* Replaces the string values of secret keys of obj (and of a "config" object in it); counts them.
 */
static int mark_secrets(json_t *obj, int depth)
{
    int n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (json_is_object(v) && depth == 0)
            n += mark_secrets(v, 1);
        else if (json_is_string(v) && secret_key(key)) {
            sl_buf b;
            sl_buf_init(&b);
            mark_value(&b, json_string_value(v), json_string_length(v));
            json_string_setn(v, b.data ? b.data : "", b.len);
            sl_buf_free(&b);
            n++;
        }
    }
    return n;
}

/* Loads path in the sandbox; returns the code and fills err. */
static sl_code load(const char *text, size_t len, sl_error *err)
{
    if (chdir(sandbox) != 0)
        FAIL("could not enter the sandbox %s", sandbox);
    FILE *f = fopen("connector.json", "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0)
        FAIL("could not write the connector file");
    sl_connector *c = NULL;
    sl_code rc = sl_connector_load("connector.json", &c, err);
    sl_connector_free(c);
    if (fchdir(home_fd) != 0)
        FAIL("could not leave the sandbox");
    /* Reading a regular file is never interrupted: the load blocked until libFuzzer's alarm.
     * An error quoting the input may carry the same words, so those only count when the input
     * does not contain them. */
    const char *eintr = strerror(EINTR);
    if (rc != SL_OK && strstr(err->msg, eintr) && !memmem(text, len, eintr, strlen(eintr)))
        FAIL("loading blocked until a signal came (a FIFO or device behind a reference?): %s",
             err->msg);
    if (rc != SL_OK && rc != SL_CONFIG && rc != SL_IO)
        FAIL("a bad connector file must give a configuration error, got %s: %s", sl_code_name(rc),
             err->msg);
    return rc;
}

/* Whether a string value of obj (or of a "config" object in it) may reach outside the sandbox. */
static bool escapes_sandbox(const json_t *obj, int depth)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (json_is_object(v) && depth == 0 && escapes_sandbox(v, 1))
            return true;
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (strstr(s, "..") || strstr(s, "file:/"))
            return true;
    }
    return false;
}

/*
 * The input with the raw text of every value of a secret key replaced by the
 * marker, also where the JSON around it is broken (a syntax error's message
 * quotes the text near it); NULL when there is none. Caller frees.
 */
static char *mark_raw_secrets(const uint8_t *data, size_t size, size_t *out_len)
{
    sl_buf out;
    sl_buf_init(&out);
    bool marked = false;
    size_t i = 0, copied = 0;
    while (i < size) {
        size_t k = i;
        if (!(size - k >= 6 && strncasecmp((const char *)data + k, "secret", 6) == 0) &&
            !(size - k >= 8 && strncasecmp((const char *)data + k, "password", 8) == 0)) {
            i++;
            continue;
        }
        /* The rest of the key, then  ":  "  and the value up to its closing quote. */
        while (k < size && data[k] != '"')
            k++;
        size_t j = k + 1;
        while (j < size && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n'))
            j++;
        if (k >= size || j >= size || data[j] != ':') {
            i++;
            continue;
        }
        j++;
        while (j < size && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n'))
            j++;
        if (j >= size || data[j] != '"') {
            i++;
            continue;
        }
        size_t start = j + 1, end = start;
        while (end < size && data[end] != '"')
            end++;
        sl_buf_append(&out, data + copied, start - copied);
        mark_value(&out, (const char *)data + start, end - start);
        copied = i = end;
        marked = true;
    }
    if (!marked) {
        sl_buf_free(&out);
        return NULL;
    }
    sl_buf_append(&out, data + copied, size - copied);
    *out_len = out.len;
    return out.data;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return -1;
    /* Values are checked decoded, as the loader sees them ("\u002f" is a '/'). */
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    bool escapes = root && json_is_object(root) && escapes_sandbox(root, 0);
    if (escapes) {
        json_decref(root);
        return -1;
    }
    sl_error err;
    if (load((const char *)data, size, &err) != SL_OK) {
        /*
         * A substituted secret may show only where the input itself spells
         * it out (the fuzzer learns the secrets from the comparisons below).
         */
        for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
            if (strstr(err.msg, secrets[i]) && !memmem(data, size, secrets[i], strlen(secrets[i])))
                FAIL("a substituted secret shows in the error message: %s", err.msg);
    }
    /* The same file with every secret key's value replaced by a marker: the marker must not show.
     */
    if (root && json_is_object(root) && !memmem(data, size, MARKER, strlen(MARKER)) &&
        mark_secrets(root, 0) > 0) {
        char *text = json_dumps(root, JSON_COMPACT);
        if (text && load(text, strlen(text), &err) != SL_OK && strstr(err.msg, MARKER))
            FAIL("the value of a password or secret key shows in the error message: %s", err.msg);
        free(text);
    }
    size_t len;
    char *raw =
        memmem(data, size, MARKER, strlen(MARKER)) ? NULL : mark_raw_secrets(data, size, &len);
    if (raw && load(raw, len, &err) != SL_OK && strstr(err.msg, MARKER))
        FAIL("the text of a password or secret value shows in the error message: %s", err.msg);
    free(raw);
    json_decref(root);
    return 0;
}
