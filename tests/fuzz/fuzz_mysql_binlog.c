/*
 * Fuzz target: a binlog as the MySQL source reads it. The input is a binlog
 * file (the four-byte magic is added when missing); every event goes
 * through framing and checksum checks, the control-event parsers, TABLE_MAP
 * and the column converters, the row decoder, binary JSON and partial
 * updates, transaction payloads (zstd) and MariaDB's compressed events, as
 * tests/support/mysql_dump.c drives them. Byte 0 picks the value modes so
 * every converter variant is reached, and with its top bit set the CRC32 of
 * every event is recomputed first, so mutations reach the parsers behind the
 * checksum.
 *
 * Seeds: the binlogs of tests/golden/mysql-binlogs/. Build with
 * -DSLUICE_FUZZ=ON (clang); tests/support/mysql_dump.c is compiled in.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mysql_dump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    my_type_options o;
    my_type_options_default(&o);
    o.decimal = (sl_dbz_decimal_mode)(data[0] % 3);
    o.time = (sl_dbz_time_mode)((data[0] >> 2) % 3);
    o.binary = (sl_dbz_binary_mode)((data[0] >> 4) & 3);
    o.bigint_unsigned = (sl_dbz_bigint_mode)((data[0] >> 6) & 1);
    bool fix_checksums = data[0] >> 7;
    data++;
    size--;
    uint8_t *copy = malloc(size + 4);
    size_t n = 0;
    if (size < 4 || memcmp(data,
                           "\xfe"
                           "bin",
                           4) != 0) {
        memcpy(copy,
               "\xfe"
               "bin",
               4);
        n = 4;
    }
    memcpy(copy + n, data, size);
    n += size;
    for (size_t pos = 4; fix_checksums && pos + 23 <= n;) {
        uint32_t len;
        memcpy(&len, copy + pos + 9, 4);
        if (len < 23 || len > n - pos)
            break;
        uint32_t c = (uint32_t)crc32(0L, copy + pos, (uInt)(len - 4));
        memcpy(copy + pos + len - 4, &c, 4);
        pos += len;
    }
    sl_buf out;
    sl_buf_init(&out);
    sl_error err;
    mysql_dump(copy, n, &o, &out, &err);
    sl_buf_free(&out);
    free(copy);
    return 0;
}
