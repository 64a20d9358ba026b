/* Tests for src/offsets/offsets.c: atomic writes, reading back, refusing a foreign file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "offsets/offsets.h"
#include "support.h"

Test(offsets, missing_file_means_no_position)
{
    char *dir = ts_tempdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/none.json", dir);
    char pos[64];
    bool found = true;
    sl_error err;
    cr_assert_eq(sl_offsets_read(path, "c", "postgres", pos, sizeof pos, &found, &err), SL_OK);
    cr_assert_not(found);
    ts_rmtree(dir);
    free(dir);
}

Test(offsets, written_position_reads_back_and_leaves_no_temp_file)
{
    char *dir = ts_tempdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/sub/dir/c.json", dir);
    sl_error err;
    cr_assert_eq(sl_offsets_write(path, "c", "postgres", "0/16B3748", &err), SL_OK, "%s", err.msg);
    cr_assert_eq(sl_offsets_write(path, "c", "postgres", "1/0", &err), SL_OK, "%s", err.msg);
    char pos[64];
    bool found = false;
    cr_assert_eq(sl_offsets_read(path, "c", "postgres", pos, sizeof pos, &found, &err), SL_OK);
    cr_assert(found);
    cr_assert_str_eq(pos, "1/0");
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_neq(access(tmp, F_OK), 0, "no temporary file is left behind");
    ts_rmtree(dir);
    free(dir);
}

Test(offsets, a_file_of_another_connector_is_refused)
{
    char *dir = ts_tempdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/c.json", dir);
    sl_error err;
    cr_assert_eq(sl_offsets_write(path, "orders", "postgres", "0/10", &err), SL_OK);
    char pos[64];
    bool found;
    cr_assert_eq(sl_offsets_read(path, "inventory", "postgres", pos, sizeof pos, &found, &err),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "orders"), "%s", err.msg);
    ts_rmtree(dir);
    free(dir);
}

Test(offsets, a_corrupt_file_is_an_error_not_a_fresh_start)
{
    char *dir = ts_tempdir();
    char *path = ts_write_file(dir, "c.json", "{\"name\": \"c\", \"posit");
    char pos[64];
    bool found;
    sl_error err;
    cr_assert_eq(sl_offsets_read(path, "c", "postgres", pos, sizeof pos, &found, &err), SL_IO);
    cr_assert(strstr(err.msg, "c.json"), "%s", err.msg);
    free(path);
    ts_rmtree(dir);
    free(dir);
}
