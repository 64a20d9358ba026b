/*
 * Tests for src/common/error.c: what each error class means for the pipeline
 * (retriable or not) and for the process (its exit status, README "Exit
 * codes").
 */
#include <criterion/criterion.h>

#include "sluice/error.h"

Test(error, exit_status_of_every_code_is_its_class)
{
    for (int c = 0; c < SL_CODE_COUNT; c++) {
        int status = sl_code_exit_status((sl_code)c);
        cr_assert(status >= 0 && status <= 5, "%s: %d", sl_code_name((sl_code)c), status);
    }
    cr_assert_eq(sl_code_exit_status(SL_OK), SL_EXIT_OK);
    cr_assert_eq(sl_code_exit_status(SL_CONFIG), SL_EXIT_CONFIG);
    cr_assert_eq(sl_code_exit_status(SL_UNSUPPORTED), SL_EXIT_CONFIG);
    cr_assert_eq(sl_code_exit_status(SL_CONNECT), SL_EXIT_SOURCE);
    cr_assert_eq(sl_code_exit_status(SL_SOURCE), SL_EXIT_SOURCE);
    cr_assert_eq(sl_code_exit_status(SL_PROTOCOL), SL_EXIT_SOURCE);
    cr_assert_eq(sl_code_exit_status(SL_SINK), SL_EXIT_SINK);
    cr_assert_eq(sl_code_exit_status(SL_SINK_RETRY), SL_EXIT_SINK);
    cr_assert_eq(sl_code_exit_status(SL_SINK_RESET), SL_EXIT_SINK);
    cr_assert_eq(sl_code_exit_status(SL_STATE), SL_EXIT_STATE);
    cr_assert_eq(sl_code_exit_status(SL_NOMEM), SL_EXIT_INTERNAL);
    cr_assert_eq(sl_code_exit_status(SL_IO), SL_EXIT_INTERNAL);
    cr_assert_eq(sl_code_exit_status(SL_INTERNAL), SL_EXIT_INTERNAL);
}

Test(error, item7_only_transient_classes_are_retriable)
{
    cr_assert(sl_code_is_retriable(SL_CONNECT));
    cr_assert(sl_code_is_retriable(SL_SOURCE));
    cr_assert(sl_code_is_retriable(SL_SINK_RETRY));
    cr_assert(sl_code_is_retriable(SL_SINK_RESET));
    cr_assert_not(sl_code_is_retriable(SL_SINK), "a permanent sink error stops the connector");
    cr_assert_not(sl_code_is_retriable(SL_CONFIG));
    cr_assert_not(sl_code_is_retriable(SL_STATE));
    cr_assert_not(sl_code_is_retriable(SL_PROTOCOL));
    cr_assert_not(sl_code_is_retriable(SL_INTERNAL));
}
