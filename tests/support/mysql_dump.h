/*
 * A binlog reader for tests: runs every event of a binlog (a file's bytes,
 * magic included) through sluice's MySQL parsers and decoders, as a source
 * would, and writes what they produced as text, one line per event and one
 * per decoded row. The golden files of tests/golden/mysql-binlogs/ are this
 * text, checked by hand against mysqlbinlog -v; the robustness tests feed it
 * mutated binlogs.
 */
#ifndef SLUICE_TEST_MYSQL_DUMP_H
#define SLUICE_TEST_MYSQL_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "mysql/my_types.h"
#include "sluice/error.h"
#include "sluice/memory.h"

/*
 * Dumps the binlog in data[0..len) into out. opts may be NULL (Debezium's
 * defaults). Stops at the first error that ends a stream (a corrupt event),
 * writing it as the last line, and returns it; conversion problems of single
 * values are written and do not stop the dump.
 */
sl_code mysql_dump(const uint8_t *data, size_t len, const my_type_options *opts, sl_buf *out,
                   sl_error *err);

/* The same, with strings written whole (mysql_dump cuts them at 400 bytes). */
sl_code mysql_dump_full(const uint8_t *data, size_t len, const my_type_options *opts, sl_buf *out,
                        sl_error *err);

/* Appends a value as the dump writes it (schema gives float/double widths and names). */
void mysql_dump_value(sl_buf *out, const sl_schema *schema, const sl_value *v);

#endif
