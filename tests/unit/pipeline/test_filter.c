/*
 * Tests for src/pipeline/filter.c: include/exclude lists behave as Debezium's do,
 * Java regular expressions matched case-insensitively against the whole
 * name, and what cannot be compiled is refused naming the key.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/config_load.h"
#include "sluice/filter.h"

/* Compiles include/exclude, asserting success; the caller frees. */
static sl_filter *filter(const char *include, const char *exclude)
{
    sl_filter *f = NULL;
    sl_error err;
    cr_assert_eq(sl_filter_new_from(include, exclude, &f, &err), SL_OK, "%s", err.msg);
    return f;
}

Test(filter, java_escapes_such_as_backslash_d_work)
{
    /* POSIX extended syntax has no \d: Debezium users write it all the time. */
    sl_filter *f = filter("public\\.t\\d+", NULL);
    cr_assert(sl_filter_match(f, "public.t1"));
    cr_assert(sl_filter_match(f, "public.t42"));
    cr_assert_not(sl_filter_match(f, "public.tx"));
    cr_assert_not(sl_filter_match(f, "public.t"));
    sl_filter_free(f);

    f = filter("public\\.\\w+_(?!audit)\\w+", NULL);
    cr_assert(sl_filter_match(f, "public.orders_items"));
    cr_assert_not(sl_filter_match(f, "public.orders_audit"), "negative lookahead");
    sl_filter_free(f);
}

Test(filter, matching_is_case_insensitive_as_in_debezium)
{
    sl_filter *f = filter("CMP\\.T_PKCHANGE", NULL);
    cr_assert(sl_filter_match(f, "cmp.t_pkchange"));
    cr_assert(sl_filter_match(f, "CMP.T_PKCHANGE"));
    sl_filter_free(f);

    f = filter(NULL, "Public\\.Audit.*");
    cr_assert_not(sl_filter_match(f, "public.audit_log"));
    cr_assert(sl_filter_match(f, "public.orders"));
    sl_filter_free(f);
}

Test(filter, an_expression_must_match_the_whole_name)
{
    sl_filter *f = filter("public\\.t|inventory\\..*", NULL);
    cr_assert(sl_filter_match(f, "public.t"));
    cr_assert_not(sl_filter_match(f, "public.t1"), "Java's matches() is a full match");
    cr_assert_not(sl_filter_match(f, "xpublic.t"));
    cr_assert(sl_filter_match(f, "inventory.a"), "the alternation is anchored as a whole");
    sl_filter_free(f);
}

Test(filter, a_backslash_keeps_a_comma_inside_an_expression)
{
    /* Debezium splits lists on commas that no backslash escapes. */
    sl_filter *f = filter(" public\\.x{1\\,2} , public\\.y ,, ", NULL);
    cr_assert(sl_filter_match(f, "public.x"));
    cr_assert(sl_filter_match(f, "public.xx"));
    cr_assert_not(sl_filter_match(f, "public.xxx"));
    cr_assert(sl_filter_match(f, "public.y"), "items are trimmed, empty items skipped");
    sl_filter_free(f);
}

Test(filter, non_ascii_names_match_by_character)
{
    sl_filter *f = filter("public\\.caf.", NULL);
    cr_assert(sl_filter_match(f, "public.café"), "'.' is one character, not one byte");
    cr_assert_not(sl_filter_match(f, "public.caf\xff"), "an invalid UTF-8 byte is no character");
    sl_filter_free(f);
}

Test(filter, expressions_that_do_not_compile_are_refused)
{
    sl_filter *f = NULL;
    sl_error err;
    cr_assert_eq(sl_filter_new_from("public\\.a, public.(b", NULL, &f, &err), SL_CONFIG);
    cr_assert_null(f);
    cr_assert(strstr(err.msg, "public.(b"), "%s", err.msg);
    cr_assert(strstr(err.msg, "offset"), "%s", err.msg);
    /* Java's class intersection has no PCRE2 equivalent: refused, not misread. */
    cr_assert_eq(sl_filter_new_from("public\\.[a-z&&[^e]]+", NULL, &f, &err), SL_CONFIG);
    cr_assert(strstr(err.msg, "not supported"), "%s", err.msg);
    cr_assert_eq(sl_filter_new_from(NULL, "a\\", &f, &err), SL_CONFIG, "a dangling backslash");
}

Test(filter, a_bad_expression_in_a_configuration_names_its_key_only)
{
    setenv("SLUICE_TEST_FILTER_SECRET", "Zq7-secret-(", 1);
    sl_config *cfg;
    sl_error err;
    cr_assert_eq(sl_config_parse("f.json",
                                 "{\"table.include.list\": \"${env:SLUICE_TEST_FILTER_SECRET}\", "
                                 "\"schema.exclude.list\": \"x(\"}",
                                 &cfg, &err),
                 SL_OK, "%s", err.msg);
    sl_filter *f = NULL;
    cr_assert_eq(sl_filter_new(cfg, "table.include.list", "table.exclude.list", &f, &err),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "key \"table.include.list\""), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "Zq7-secret"), "%s", err.msg);
    cr_assert_eq(sl_filter_new(cfg, "schema.include.list", "schema.exclude.list", &f, &err),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "key \"schema.exclude.list\""), "%s", err.msg);
    cr_assert(strstr(err.msg, "\"x(\""), "a value written in the file is shown: %s", err.msg);
    sl_config_free(cfg);
}
