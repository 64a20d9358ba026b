/*
 * The README's configuration reference is the output of `sluice keys`, so
 * that every key a component declares is documented with its real default.
 * SLUICE_UPDATE_GOLDEN=1 rewrites the section in place.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define README SLUICE_TEST_DATA "/../README.md"
#define BEGIN_MARK "<!-- keys:begin"
#define END_MARK "<!-- keys:end -->"

static char *run_keys(void)
{
    FILE *p = popen(SLUICE_BINARY " keys", "r");
    cr_assert_not_null(p);
    char *out = ts_read_stream(p, NULL);
    cr_assert_eq(pclose(p), 0);
    return out;
}

Test(docs, readme_configuration_reference_matches_sluice_keys)
{
    char *readme = ts_read_file(README, NULL);
    cr_assert_not_null(readme);
    char *begin = strstr(readme, BEGIN_MARK);
    char *end = strstr(readme, END_MARK);
    cr_assert(begin && end && begin < end, "README lacks the keys markers");
    begin = strchr(begin, '\n') + 1;
    char *keys = run_keys();
    /* The README has its own "##" title for the section. */
    char *expected = malloc(strlen(keys) * 2 + 2);
    size_t n = 0;
    for (const char *line = keys; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
        if (strncmp(line, "## Configuration keys", 21) == 0) {
            line += len;
            continue;
        }
        memcpy(expected + n, line, len);
        n += len;
        line += len;
    }
    expected[n] = '\0';
    while (n > 0 && expected[0] == '\n')
        memmove(expected, expected + 1, n--);
    size_t have = (size_t)(end - begin);
    if (ts_env("SLUICE_UPDATE_GOLDEN")) {
        FILE *f = fopen(README, "w");
        fwrite(readme, 1, (size_t)(begin - readme), f);
        fputs(expected, f);
        fputs(end, f);
        fclose(f);
    } else {
        cr_assert(have == n && memcmp(begin, expected, n) == 0,
                  "README's configuration reference is out of date: run "
                  "SLUICE_UPDATE_GOLDEN=1 build-test/unit_test_docs");
    }
    free(expected);
    free(keys);
    free(readme);
}
