/* unit.h: what every C unit test includes: cmocka and small helpers.
 *
 * Each tests/unit/test_*.c is one program built against the ASan/UBSan
 * library and run by scripts/test.sh, which reads cmocka's summary lines. */
#ifndef SILO_TESTS_UNIT_H
#define SILO_TESTS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Makes a fresh empty directory under $TMPDIR and returns its path (owned
 * by the caller, free with free()). Fails the test on error. */
char *unit_tempdir(void);

/* Removes a directory tree (the test's own temporary directory). */
void unit_rmtree(const char *path);

#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

static inline int unit_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

inline void unit_rmtree(const char *path) { nftw(path, unit_rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

inline char *unit_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/silo-unit-XXXXXX", base && *base ? base : "/tmp");
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    return strdup(dir);
}

#endif
