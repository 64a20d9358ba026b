/*
 * The README's configuration reference is the output of `sluice keys`, and
 * the man page docs/sluice.1 that of `sluice man`, so that every key a
 * component declares is documented with its real default in both.
 * SLUICE_UPDATE_GOLDEN=1 rewrites the README's section and the page in place.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define README SLUICE_TEST_DATA "/../README.md"
#define BEGIN_MARK "<!-- keys:begin"
#define END_MARK "<!-- keys:end -->"

static char *run_sluice(const char *command)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s", SLUICE_BINARY, command);
    FILE *p = popen(cmd, "r");
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
    char *keys = run_sluice("keys");
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

#define MAN_PAGE SLUICE_TEST_DATA "/../docs/sluice.1"

Test(docs, man_page_matches_sluice_man)
{
    char *page = run_sluice("man");
    cr_assert(strstr(page, ".TH SLUICE 1"), "not a man page");
    /* Every key of the reference is on the page too. */
    char *keys = run_sluice("keys");
    for (const char *k = strstr(keys, "| `"); k; k = strstr(k + 1, "| `")) {
        const char *end = strchr(k + 3, '`');
        char name[256];
        snprintf(name, sizeof name, ".B %.*s\n", (int)(end - k - 3), k + 3);
        /* roff writes hyphens as \- */
        char roff[512];
        size_t n = 0;
        for (const char *c = name; *c && n + 3 < sizeof roff; c++) {
            if (*c == '-')
                roff[n++] = '\\';
            roff[n++] = *c;
        }
        roff[n] = '\0';
        cr_assert(strstr(page, roff), "key %s is missing from the man page", name);
    }
    if (ts_env("SLUICE_UPDATE_GOLDEN")) {
        FILE *f = fopen(MAN_PAGE, "w");
        cr_assert_not_null(f);
        fputs(page, f);
        fclose(f);
    } else {
        char *committed = ts_read_file(MAN_PAGE, NULL);
        cr_assert(committed && strcmp(committed, page) == 0,
                  "docs/sluice.1 is out of date: run SLUICE_UPDATE_GOLDEN=1 "
                  "build-test/unit_test_docs");
        free(committed);
    }
    free(keys);
    free(page);
}
