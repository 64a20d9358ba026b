/*
 * The list of values no message may contain (redact.h). It is short (the
 * secrets of the loaded connector files), so a sorted array searched with
 * strstr is enough; messages are not on the hot path.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/redact.h"

typedef struct secret {
    char *value;
    size_t len;
    unsigned refs;
} secret;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static secret *secrets; /* longest first, so that a secret inside another goes second */
static size_t count, capacity;

void sl_redact_add(const char *value)
{
    size_t len = strlen(value);
    if (len < SL_REDACT_MIN_LEN)
        return;
    pthread_mutex_lock(&lock);
    size_t at = 0;
    while (at < count && secrets[at].len > len)
        at++;
    for (size_t i = at; i < count && secrets[i].len == len; i++) {
        if (memcmp(secrets[i].value, value, len) == 0) {
            secrets[i].refs++;
            pthread_mutex_unlock(&lock);
            return;
        }
    }
    if (count == capacity) {
        capacity = capacity ? capacity * 2 : 16;
        secrets = realloc(secrets, capacity * sizeof *secrets);
        if (!secrets)
            abort();
    }
    memmove(&secrets[at + 1], &secrets[at], (count - at) * sizeof *secrets);
    secrets[at].value = strdup(value);
    if (!secrets[at].value)
        abort();
    secrets[at].len = len;
    secrets[at].refs = 1;
    count++;
    pthread_mutex_unlock(&lock);
}

void sl_redact_remove(const char *value)
{
    size_t len = strlen(value);
    if (len < SL_REDACT_MIN_LEN)
        return;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < count; i++) {
        if (secrets[i].len != len || memcmp(secrets[i].value, value, len) != 0)
            continue;
        if (--secrets[i].refs == 0) {
            memset(secrets[i].value, 0, len);
            free(secrets[i].value);
            memmove(&secrets[i], &secrets[i + 1], (count - i - 1) * sizeof *secrets);
            count--;
        }
        break;
    }
    if (count == 0) {
        free(secrets);
        secrets = NULL;
        capacity = 0;
    }
    pthread_mutex_unlock(&lock);
}

void sl_redact(char *text, size_t cap)
{
    if (!text || cap == 0)
        return;
    size_t mark = strlen(SL_REDACT_MARK);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < count; i++) {
        /* Every secret is longer than the mark, so the text only shrinks. */
        char *at = text;
        while ((at = strstr(at, secrets[i].value)) != NULL) {
            memcpy(at, SL_REDACT_MARK, mark);
            memmove(at + mark, at + secrets[i].len, strlen(at + secrets[i].len) + 1);
            at += mark;
        }
    }
    pthread_mutex_unlock(&lock);
}
