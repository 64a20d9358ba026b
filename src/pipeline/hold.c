/*
 * Held messages (hold.h): a short list of topics, each with a FIFO of
 * messages copied into one allocation each.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline/hold.h"

typedef struct held {
    struct held *next;
    const sl_encoder_wait *key_wait; /* NULL once settled */
    const sl_encoder_wait *value_wait;
    sl_message msg; /* every pointer below points into this allocation */
    size_t size;
} held;

typedef struct topic_queue {
    struct topic_queue *next;
    char *topic;
    held *head;
    held **tail;
} topic_queue;

struct sl_hold {
    topic_queue *topics;
    size_t bytes, max_bytes, count;
};

sl_hold *sl_hold_new(size_t max_bytes)
{
    sl_hold *h = calloc(1, sizeof *h);
    if (h)
        h->max_bytes = max_bytes;
    return h;
}

static void queue_free(topic_queue *q)
{
    for (held *m = q->head, *next; m; m = next) {
        next = m->next;
        free(m);
    }
    free(q->topic);
    free(q);
}

void sl_hold_free(sl_hold *hold)
{
    if (!hold)
        return;
    for (topic_queue *q = hold->topics, *next; q; q = next) {
        next = q->next;
        queue_free(q);
    }
    free(hold);
}

static topic_queue *find(const sl_hold *hold, const char *topic)
{
    for (topic_queue *q = hold->topics; q; q = q->next)
        if (strcmp(q->topic, topic) == 0)
            return q;
    return NULL;
}

bool sl_hold_has_topic(const sl_hold *hold, const char *topic)
{
    return hold->count && find(hold, topic) != NULL;
}

size_t sl_hold_count(const sl_hold *hold)
{
    return hold->count;
}

sl_code sl_hold_add(sl_hold *hold, const sl_message *msg, const sl_encoder_wait *key_wait,
                    const sl_encoder_wait *value_wait, sl_error *err)
{
    size_t size = sizeof(held) + msg->key_len + msg->value_len + msg->nheaders * sizeof(sl_header);
    for (size_t i = 0; i < msg->nheaders; i++)
        size += strlen(msg->headers[i].name) + 1 + msg->headers[i].len;
    /* One message always fits, so a huge one cannot block the pipeline for good. */
    if (hold->count && hold->bytes + size > hold->max_bytes)
        return SL_FULL;
    topic_queue *q = find(hold, msg->topic);
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q || !(q->topic = strdup(msg->topic))) {
            free(q);
            return sl_error_set(err, SL_NOMEM, "out of memory");
        }
        q->tail = &q->head;
        q->next = hold->topics;
        hold->topics = q;
    }
    held *m = malloc(size);
    if (!m)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    memset(m, 0, sizeof *m);
    m->size = size;
    m->key_wait = key_wait;
    m->value_wait = value_wait;
    m->msg = *msg;
    m->msg.topic = q->topic;
    char *p = (char *)(m + 1);
    sl_header *headers = (sl_header *)p;
    p += msg->nheaders * sizeof(sl_header);
    for (size_t i = 0; i < msg->nheaders; i++) {
        size_t n = strlen(msg->headers[i].name) + 1;
        memcpy(p, msg->headers[i].name, n);
        headers[i].name = p;
        p += n;
        memcpy(p, msg->headers[i].value, msg->headers[i].len);
        headers[i].value = p;
        headers[i].len = msg->headers[i].len;
        p += msg->headers[i].len;
    }
    m->msg.headers = msg->nheaders ? headers : NULL;
    if (msg->key) {
        memcpy(p, msg->key, msg->key_len);
        m->msg.key = p;
        p += msg->key_len;
    }
    if (msg->value) {
        memcpy(p, msg->value, msg->value_len);
        m->msg.value = p;
    }
    *q->tail = m;
    q->tail = &m->next;
    hold->bytes += size;
    hold->count++;
    return SL_OK;
}

/* True once the message's key and value are final (patched in place by their waits). */
static bool settled(held *m)
{
    if (m->key_wait && m->key_wait->settle(m->key_wait, (char *)m->msg.key, m->msg.key_len))
        m->key_wait = NULL;
    if (m->value_wait &&
        m->value_wait->settle(m->value_wait, (char *)m->msg.value, m->msg.value_len))
        m->value_wait = NULL;
    return !m->key_wait && !m->value_wait;
}

sl_code sl_hold_release(sl_hold *hold, const sl_sink_ops *ops, sl_sink *sink, sl_error *err)
{
    topic_queue **link = &hold->topics;
    while (*link) {
        topic_queue *q = *link;
        while (q->head && settled(q->head)) {
            held *m = q->head;
            sl_code rc = ops->produce(sink, &m->msg, err);
            if (rc == SL_FULL)
                return SL_OK;
            if (rc != SL_OK)
                return rc;
            q->head = m->next;
            if (!q->head)
                q->tail = &q->head;
            hold->bytes -= m->size;
            hold->count--;
            free(m);
        }
        if (!q->head) {
            *link = q->next;
            queue_free(q);
        } else {
            link = &q->next;
        }
    }
    return SL_OK;
}
