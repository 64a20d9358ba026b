/*
 * Golden tests of the MySQL binlog parsers and row decoders on real binlog
 * files written by MySQL 8.0.22-9.6 and MariaDB 10.5 (tests/golden/
 * mysql-binlogs/README.md says where each comes from). Every file is read
 * event by event as a source would, and the text the decoders produce is
 * compared with NAME.txt next to it. Those files were checked by hand
 * against mariadb-binlog -v --base64-output=decode-rows and the values the
 * files' origins document (see the README).
 *
 * SLUICE_UPDATE_GOLDEN=1 rewrites the .txt files instead of comparing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql_dump.h"
#include "support.h"

#define DIR SLUICE_TEST_DATA "/golden/mysql-binlogs/"

static void check_file_as(const char *name, const my_type_options *opts, const char *golden_name,
                          bool full)
{
    char path[512], golden[512];
    snprintf(path, sizeof path, DIR "%s", name);
    snprintf(golden, sizeof golden, DIR "%s.txt", golden_name ? golden_name : name);
    size_t len;
    char *data = ts_read_file(path, &len);
    cr_assert_not_null(data, "cannot read %s", path);
    sl_buf out;
    sl_buf_init(&out);
    sl_error err;
    sl_error_clear(&err);
    if (full)
        mysql_dump_full((const uint8_t *)data, len, opts, &out, &err);
    else
        mysql_dump((const uint8_t *)data, len, opts, &out, &err);
    const char *text = sl_buf_cstr(&out);
    if (ts_env("SLUICE_UPDATE_GOLDEN")) {
        FILE *f = fopen(golden, "w");
        cr_assert_not_null(f, "cannot write %s", golden);
        fputs(text, f);
        fclose(f);
    } else {
        char *want = ts_read_file(golden, NULL);
        cr_assert_not_null(want, "missing golden file %s (SLUICE_UPDATE_GOLDEN=1 writes it)",
                           golden);
        if (strcmp(want, text) != 0) {
            /* Name the first line that differs. */
            const char *a = want, *b = text;
            int line = 1;
            while (*a && *a == *b) {
                if (*a == '\n')
                    line++;
                a++, b++;
            }
            cr_assert_fail("%s differs from %s at line %d:\n  want: %.200s\n  got:  %.200s", name,
                           golden, line, a, b);
        }
        free(want);
    }
    sl_buf_free(&out);
    free(data);
}

static void check_file(const char *name, const my_type_options *opts, const char *golden_name)
{
    check_file_as(name, opts, golden_name, false);
}

/*
 * The binlogs MySQL 9.7 and MariaDB 10.11 wrote for the SQL of the Debezium
 * golden capture (capture.sh), dumped with whole strings: compare-debezium.py
 * checks these .txt files value by value against Debezium's events.
 */
Test(my_golden, debezium_golden_sql_on_mysql_9_7)
{
    check_file_as("mysql97-debezium-golden.000002", NULL, NULL, true);
}

Test(my_golden, debezium_golden_sql_on_mariadb_10_11)
{
    my_type_options o;
    my_type_options_default(&o);
    o.zero_timestamp_as_epoch = true; /* Debezium's MariaDB connector is 3.5 */
    check_file_as("mariadb1011-debezium-golden.000002", &o, NULL, true);
}

Test(my_golden, json_partial_updates_mysql_8_0_22)
{
    check_file("rmc-json.binlog.000001", NULL, NULL);
}

Test(my_golden, json_opaque_values_mysql_9_0_1)
{
    check_file("rmc-json-opaque.binlog", NULL, NULL);
}

Test(my_golden, bit_columns)
{
    check_file("rmc-mysql_type_bit.000001", NULL, NULL);
}

Test(my_golden, invisible_columns)
{
    check_file("rmc-binlog-invisible-columns.000001", NULL, NULL);
}

Test(my_golden, char_varchar_enum_set_blob_with_full_metadata)
{
    check_file("rmc-mysql-enum-string-set.000001", NULL, NULL);
}

Test(my_golden, minimal_row_image)
{
    check_file("rmc-minimal_row_metadata.000001", NULL, NULL);
}

Test(my_golden, negative_time)
{
    check_file("rmc-time_issue.000001", NULL, NULL);
}

Test(my_golden, negative_time_in_connect_mode)
{
    my_type_options o;
    my_type_options_default(&o);
    o.time = SL_DBZ_TIME_CONNECT;
    check_file("rmc-time_issue.000001", &o, "rmc-time_issue.000001.connect");
}

Test(my_golden, previous_gtids_and_rotate)
{
    check_file("rmc-binlog_transaction_previous_GTID_no_tag.000001", NULL, NULL);
}

Test(my_golden, tagged_gtids_mysql_9_6)
{
    check_file("rmc-binlog_transaction_with_GTID_TAG.000001", NULL, NULL);
}

Test(my_golden, transaction_payloads_zstd)
{
    check_file("osheroff-mysql-bin.compressed", NULL, NULL);
    check_file("apecloud-mysql-bin.000057", NULL, NULL);
    check_file("rmc-transaction_compression.000001", NULL, NULL);
}

Test(my_golden, vectors_mysql_9_0_1)
{
    check_file("rmc-vector.binlog", NULL, NULL);
}

Test(my_golden, mariadb_10_5_gtid_annotate_rows)
{
    check_file("rmc-mariadb-bin.000001", NULL, NULL);
}

Test(my_golden, mysql_5_1_partial_row_images_without_checksums)
{
    check_file("rmc-update-partial-row.binlog", NULL, NULL);
}

Test(my_golden, truncated_file_is_an_error)
{
    check_file("rmc-binlog_truncated_event.000001", NULL, NULL);
}
