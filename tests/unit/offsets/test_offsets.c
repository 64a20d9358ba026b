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

Test(offsets, item13_a_corrupt_file_names_the_file_but_never_quotes_it)
{
    char *dir = ts_tempdir();
    /* Cut in the middle of a string: the parser's message would quote the text around it. */
    char *path = ts_write_file(dir, "c.json", "{\"name\": \"c\", \"pass S3cr3t-word");
    char pos[64];
    bool found;
    sl_error err;
    cr_assert_eq(sl_offsets_read(path, "c", "postgres", pos, sizeof pos, &found, &err), SL_STATE,
                 "a corrupt file is a state to settle, not a transient error: %s", err.msg);
    cr_assert_not(found);
    cr_assert(strstr(err.msg, "c.json"), "%s", err.msg);
    cr_assert(strstr(err.msg, "not valid JSON"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "S3cr3t"), "the content leaked: %s", err.msg);
    cr_assert_null(strstr(err.msg, "pass"), "the content leaked: %s", err.msg);
    free(path);
    ts_rmtree(dir);
    free(dir);
}

Test(offsets, item13_an_empty_file_is_refused_naming_it)
{
    char *dir = ts_tempdir();
    char *path = ts_write_file(dir, "c.json", "");
    char pos[64];
    bool found;
    sl_error err;
    cr_assert_eq(sl_offsets_read(path, "c", "postgres", pos, sizeof pos, &found, &err), SL_STATE,
                 "%s", err.msg);
    cr_assert(strstr(err.msg, "c.json") && strstr(err.msg, "empty"), "%s", err.msg);
    free(path);
    /* Valid JSON without a position: refused the same way. */
    path = ts_write_file(dir, "d.json", "{\"name\":\"c\",\"source\":\"postgres\"}");
    cr_assert_eq(sl_offsets_read(path, "c", "postgres", pos, sizeof pos, &found, &err), SL_STATE,
                 "%s", err.msg);
    free(path);
    ts_rmtree(dir);
    free(dir);
}

Test(offsets, item6_an_object_position_is_kept_as_an_object_and_read_back_as_its_text)
{
    char *dir = ts_tempdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/c.json", dir);
    const char *text =
        "{\"lsn\":\"0/16B3748\",\"slot\":\"s\",\"system_identifier\":\"73\",\"timeline\":1}";
    sl_error err;
    cr_assert_eq(sl_offsets_write(path, "c", "postgres", text, &err), SL_OK, "%s", err.msg);
    char *file = ts_read_file(path, NULL);
    cr_assert(strstr(file, "\"position\":{\"lsn\":\"0/16B3748\""), "%s", file);
    free(file);
    char pos[256];
    bool found = false;
    cr_assert_eq(sl_offsets_read(path, "c", "postgres", pos, sizeof pos, &found, &err), SL_OK, "%s",
                 err.msg);
    cr_assert(found);
    cr_assert_str_eq(pos, text);
    ts_rmtree(dir);
    free(dir);
}

Test(offsets, source_state_travels_with_the_position)
{
    char *dir = ts_tempdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/c.json", dir);
    sl_error err;
    const char *state = "{\"collections\":[{\"id\":\"public.t\",\"primary_key\":[\"10\",\"a\"]}]}";
    cr_assert_eq(sl_offsets_write_state(path, "c", "postgres", "0/10", state, &err), SL_OK, "%s",
                 err.msg);
    char pos[64];
    bool found = false;
    sl_buf got;
    sl_buf_init(&got);
    cr_assert_eq(sl_offsets_read_state(path, "c", "postgres", pos, sizeof pos, &got, &found, &err),
                 SL_OK);
    cr_assert(found);
    cr_assert_str_eq(pos, "0/10");
    cr_assert_str_eq(sl_buf_cstr(&got), state);
    /* A later write without state leaves none behind. */
    cr_assert_eq(sl_offsets_write_state(path, "c", "postgres", "0/20", NULL, &err), SL_OK);
    sl_buf_reset(&got);
    cr_assert_eq(sl_offsets_read_state(path, "c", "postgres", pos, sizeof pos, &got, &found, &err),
                 SL_OK);
    cr_assert_eq(got.len, 0);
    cr_assert_neq(sl_offsets_write_state(path, "c", "postgres", "0/30", "[1]", &err), SL_OK,
                  "state must be an object");
    sl_buf_free(&got);
    ts_rmtree(dir);
    free(dir);
}
