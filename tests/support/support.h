/*
 * Shared helpers for the criterion tests: temporary files and directories,
 * and reading files back.
 */
#ifndef SLUICE_TEST_SUPPORT_H
#define SLUICE_TEST_SUPPORT_H

#include <stddef.h>
#include <stdio.h>

/* A new empty directory under $TMPDIR; the caller removes it with ts_rmtree. */
char *ts_tempdir(void);

/* Removes a directory tree. */
void ts_rmtree(const char *path);

/* Writes text to dir/name and returns the full path (malloc'ed). */
char *ts_write_file(const char *dir, const char *name, const char *text);

/* Everything left to read from a stream (malloc'ed, NUL-terminated); *len may be NULL. */
char *ts_read_stream(FILE *f, size_t *len);

/* The whole content of a file (malloc'ed, NUL-terminated), or NULL; *len may be NULL. */
char *ts_read_file(const char *path, size_t *len);

/* An environment variable, or NULL when unset or empty. */
const char *ts_env(const char *name);

#endif
