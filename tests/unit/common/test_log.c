/*
 * Tests for src/common/log.c: JSON lines that any JSON reader takes back whatever
 * the message holds, the connector's name from the thread or given, and
 * secrets hidden before the line is put together.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/redact.h"
#include "sluice/log.h"
#include "support.h"

/* Runs fn with stderr going to a file; returns what was written (malloc'ed). */
static char *capture(void (*fn)(void))
{
    char *dir = ts_tempdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/err", dir);
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w");
    dup2(fileno(f), 2);
    fn();
    dup2(saved, 2);
    close(saved);
    fclose(f);
    char *text = ts_read_file(path, NULL);
    ts_rmtree(dir);
    free(dir);
    return text;
}

static void log_tricky(void)
{
    sl_log_set_format(SL_LOG_JSON);
    sl_log_set_context("inv\"entory");
    sl_info("quote \" backslash \\ newline \n tab \t bell \a secret hunter22 é");
    sl_log_for("other", SL_LOG_WARN, "from a library's thread");
    sl_log_set_context(NULL);
    sl_info("no connector");
    sl_log_set_format(SL_LOG_TEXT);
}

Test(log, json_lines_carry_any_message_and_hide_secrets)
{
    sl_redact_add("hunter22");
    char *text = capture(log_tricky);
    sl_redact_remove("hunter22");
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    json_error_t jerr;
    json_t *j = json_loads(line, 0, &jerr);
    cr_assert(json_is_object(j), "%s: %s", jerr.text, line);
    cr_assert_str_eq(json_string_value(json_object_get(j, "level")), "INFO");
    cr_assert_str_eq(json_string_value(json_object_get(j, "connector")), "inv\"entory");
    cr_assert_str_eq(json_string_value(json_object_get(j, "msg")),
                     "quote \" backslash \\ newline \n tab \t bell \a secret *** é");
    cr_assert(strlen(json_string_value(json_object_get(j, "ts"))) == 24, "%s", line);
    json_decref(j);

    j = json_loads(strtok_r(NULL, "\n", &save), 0, &jerr);
    cr_assert_str_eq(json_string_value(json_object_get(j, "connector")), "other");
    cr_assert_str_eq(json_string_value(json_object_get(j, "level")), "WARN");
    json_decref(j);

    j = json_loads(strtok_r(NULL, "\n", &save), 0, &jerr);
    cr_assert_null(json_object_get(j, "connector"), "a line of no connector has none");
    json_decref(j);
    cr_assert_null(strtok_r(NULL, "\n", &save), "one line per call");
    free(text);
}

static void log_text(void)
{
    sl_log_set_context("inv");
    sl_log_for("lib", SL_LOG_ERROR, "x");
    sl_info("y");
    sl_log_set_context(NULL);
}

Test(log, text_lines_name_the_connector_in_brackets)
{
    char *text = capture(log_text);
    cr_assert(strstr(text, "ERROR [lib] x\n"), "%s", text);
    cr_assert(strstr(text, "INFO  [inv] y\n"), "%s", text);
    free(text);
}
