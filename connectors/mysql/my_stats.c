/*
 * Figures of the MySQL/MariaDB source for the metrics (source.h's stats):
 * where the stream reads (binlog file, position, GTID set: Debezium's
 * BinlogFilename, BinlogPosition and GtidSet), and how far behind the
 * server's end of binlog the position acknowledged downstream is.
 *
 * A binlog position is a file and an offset in it, which do not subtract
 * across files. Positions become one number by counting bytes over the
 * server's binlog files as SHOW BINARY LOGS lists them: the sizes of the
 * files before a position's file, plus its offset. The server's end is the
 * sum of every file's size. A file older than the list (purged) counts from
 * zero, one newer than the list (the server rotated since) from the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql/my_source_int.h"

/* How often the server is asked for its binlog files. */
#define MY_STATS_REFRESH_MS 5000

typedef struct binlog_list {
    my_binlog_file *files;
    size_t n, cap;
} binlog_list;

static int add_binlog(void *ctx, unsigned ncols, char **row)
{
    binlog_list *l = ctx;
    if (ncols < 2 || !row[0] || !row[1])
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        my_binlog_file *f = realloc(l->files, cap * sizeof *f);
        if (!f)
            return 1;
        l->files = f;
        l->cap = cap;
    }
    my_binlog_file *f = &l->files[l->n];
    f->name = strdup(row[0]);
    if (!f->name)
        return 1;
    f->size = strtoull(row[1], NULL, 10);
    l->n++;
    return 0;
}

void my_stats_free(sl_source *s)
{
    for (size_t i = 0; i < s->nbinlogs; i++)
        free(s->binlogs[i].name);
    free(s->binlogs);
    s->binlogs = NULL;
    s->nbinlogs = 0;
}

/* Reads the server's binlog files over the query connection, if it is open. */
static void refresh_binlogs(sl_source *s)
{
    if (!s->query)
        return;
    binlog_list l = {0};
    sl_error err;
    sl_code rc = my_conn_query_each(s->query, "SHOW BINARY LOGS", add_binlog, &l, &err);
    if (rc == SL_OK) {
        my_stats_free(s);
        s->binlogs = l.files;
        s->nbinlogs = l.n;
        return;
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.files[i].name);
    free(l.files);
    /* A connection that failed is dropped; the next statement that needs one opens a new one. */
    if (rc == SL_CONNECT) {
        my_conn_close(s->query);
        s->query = NULL;
    }
}

/* The bytes of binlog before offset pos of file, over the listed files. */
static uint64_t binlog_offset(const sl_source *s, const char *file, uint64_t pos)
{
    uint64_t before = 0;
    for (size_t i = 0; i < s->nbinlogs; i++) {
        int cmp = strcmp(file, s->binlogs[i].name);
        if (cmp == 0)
            return before + pos;
        if (cmp < 0)
            return before + pos; /* purged (before the first), or a gap in the list */
        before += s->binlogs[i].size;
    }
    return before + pos;
}

void my_stats(sl_source *s, sl_source_stats *out)
{
    if (s->state != MY_STREAMING)
        return;
    if (my_now_ms() - s->binlogs_read_ms >= MY_STATS_REFRESH_MS) {
        s->binlogs_read_ms = my_now_ms();
        refresh_binlogs(s);
    }
    out->known = true;
    snprintf(out->log_file, sizeof out->log_file, "%s", s->file);
    out->log_offset = s->next_pos;

    uint64_t end = 0;
    for (size_t i = 0; i < s->nbinlogs; i++)
        end += s->binlogs[i].size;
    uint64_t received = binlog_offset(s, s->file, s->next_pos);
    out->server_position = end > received ? end : received;

    /* Before the first acknowledgement, the position the stream started from is the confirmed one.
     */
    const char *file = s->file;
    uint64_t pos = s->next_pos;
    my_position acked;
    my_position_init(&acked);
    sl_error err;
    if (s->acked.len && my_position_decode(&s->acked, &acked, &err) == SL_OK) {
        file = acked.file;
        pos = acked.pos;
    } else if (s->have_resume && s->resume.file[0]) {
        file = s->resume.file;
        pos = s->resume.pos;
    }
    out->confirmed_position = binlog_offset(s, file, pos);
    my_position_free(&acked);

    if (s->have_gtids) {
        sl_buf text;
        sl_buf_init(&text);
        if (s->server.flavor == MY_FLAVOR_MARIADB)
            my_mariadb_gtid_list_format(&s->mgtids, &text);
        else
            my_gtid_set_format(&s->gtids, &text);
        if (text.len < sizeof out->gtids)
            snprintf(out->gtids, sizeof out->gtids, "%s", sl_buf_cstr(&text));
        sl_buf_free(&text);
    }
}
