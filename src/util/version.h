/* version.h: what silo was built from and with.
 *
 * The version comes from the VERSION file and the commit from git (or the
 * stamp of a `git archive` tarball), both through scripts/version.sh at
 * build time (build/gen/version_gen.h). The libraries' versions are asked
 * of the libraries at run time where they can tell, else taken from
 * pkg-config at build time. */
#ifndef SILO_UTIL_VERSION_H
#define SILO_UTIL_VERSION_H

#include <stdio.h>

#include "util/buf.h"

/* The release version ("0.2.0"); static, never NULL. */
const char *version_string(void);

/* The commit built: 12 hex digits, maybe followed by "-dirty", or
 * "unknown"; static, never NULL. */
const char *version_commit(void);

/* The value of the Server header both listeners send ("silo/0.2.0");
 * static, never NULL. */
const char *version_server_header(void);

/* Writes the `silo version` report to out: the first line
 * "silo VERSION (commit COMMIT)", then the compiler and one line per
 * library with its version. */
void version_print(FILE *out);

/* Appends the silo_build_info gauge (Prometheus text, with its HELP and
 * TYPE lines) to out. Returns 0 or the buf error (SILO_ETOOBIG,
 * SILO_ENOMEM). */
int version_render_metric(struct buf *out);

#endif
