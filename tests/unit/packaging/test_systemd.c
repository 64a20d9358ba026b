/*
 * Tests for packaging/sluice.service: systemd itself (systemd-analyze, from
 * the systemd package) checks that the unit is valid and that its hardening
 * keeps the service's exposure low, with the unit's commands pointing at the
 * sluice just built. No systemd runs here, so the unit is not started.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define UNIT SLUICE_TEST_DATA "/../packaging/sluice.service"

/* The unit with its commands pointing at the binary under test; the path of the copy. */
static char *unit_copy(char **dir)
{
    char *text = ts_read_file(UNIT, NULL);
    cr_assert_not_null(text, "%s is missing", UNIT);
    *dir = ts_tempdir();
    char *out = malloc(strlen(text) * 2 + 4096);
    size_t n = 0;
    const char *from = "/usr/local/bin/sluice ";
    for (const char *p = text; *p;) {
        if (strncmp(p, from, strlen(from)) == 0) {
            n += (size_t)sprintf(out + n, "%s ", SLUICE_BINARY);
            p += strlen(from);
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    char *path = ts_write_file(*dir, "sluice.service", out);
    free(out);
    free(text);
    return path;
}

Test(systemd, the_unit_is_valid_and_runs_sluice_check_then_run)
{
    char *text = ts_read_file(UNIT, NULL);
    cr_assert(strstr(text, "\nExecStartPre=/usr/local/bin/sluice check /etc/sluice/connectors\n"));
    cr_assert(strstr(text, "\nExecStart=/usr/local/bin/sluice run /etc/sluice/connectors\n"));
    cr_assert(strstr(text, "\nRestartPreventExitStatus=2 5\n"),
              "a bad configuration is not retried");
    free(text);
    char *dir;
    char *path = unit_copy(&dir);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "systemd-analyze verify --man=no %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    char *out = ts_read_stream(p, NULL);
    int status = pclose(p);
    cr_assert_eq(status, 0, "systemd-analyze verify: %s", out);
    cr_assert_eq(out[0], '\0', "systemd-analyze verify complains: %s", out);
    free(out);
    ts_rmtree(dir);
    free(dir);
    free(path);
}

Test(systemd, the_hardening_keeps_the_exposure_at_or_below_2)
{
    char *text = ts_read_file(UNIT, NULL);
    static const char *const required[] = {
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/sluice",
        "StateDirectory=sluice",
        "CapabilityBoundingSet=\n",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
    };
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        cr_assert(strstr(text, required[i]), "the unit lacks %s", required[i]);
    free(text);
    char *dir;
    char *path = unit_copy(&dir);
    char cmd[8192];
    /* systemd's exposure score is 0 (locked down) to 10; the threshold is in tenths. */
    snprintf(cmd, sizeof cmd, "systemd-analyze security --offline=true --threshold=20 %s 2>&1",
             path);
    FILE *p = popen(cmd, "r");
    char *out = ts_read_stream(p, NULL);
    int status = pclose(p);
    cr_assert_eq(status, 0, "exposure above 2.0: %s", out);
    cr_assert(strstr(out, "Overall exposure level"), "%s", out);
    free(out);
    ts_rmtree(dir);
    free(dir);
    free(path);
}
