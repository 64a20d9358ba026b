/*
 * Kafka Connect's offset of Debezium's MySQL and MariaDB connectors for the
 * Kafka offset store: the source's connect_offset_format and
 * connect_offset_parse (sluice/source.h), between the position text of the
 * offsets file (my_position.h) and the map Debezium 3.x keeps in Connect's
 * offsets topic. my_offset.c says which members and why.
 */
#ifndef SLUICE_MY_OFFSET_H
#define SLUICE_MY_OFFSET_H

#include <stdbool.h>

#include "sluice/error.h"
#include "sluice/memory.h"

/* Appends Debezium's map for a position text and the source's state ("" for none). */
sl_code my_connect_offset_format(const char *position, const char *state, sl_buf *out,
                                 sl_error *err);

/*
 * Appends the position text and the state of a map written by Debezium or
 * by my_connect_offset_format; *found is false for Debezium's unfinished
 * initial snapshot. The two differ only in the GTID family assumed when
 * the map itself does not tell (a connector class may read either server).
 * A malformed map is SL_STATE, naming the member.
 */
sl_code my_connect_offset_parse_mysql(const char *offset, sl_buf *position, sl_buf *state,
                                      bool *found, sl_error *err);
sl_code my_connect_offset_parse_mariadb(const char *offset, sl_buf *position, sl_buf *state,
                                        bool *found, sl_error *err);

#endif
