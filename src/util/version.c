/* version.c: the version, the commit and the libraries' versions; see
 * version.h. */
#include "util/version.h"

#include <curl/curl.h>
#include <jansson.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libpq-fe.h>
#include <magic.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "version_gen.h"

const char *version_string(void) { return SILO_VERSION; }

const char *version_commit(void) { return SILO_COMMIT; }

const char *version_server_header(void) { return "silo/" SILO_VERSION; }

/* "MAJOR.MINOR.MICRO" of an FFmpeg library's packed version number. */
static void print_av(FILE *out, const char *name, unsigned packed)
{
    fprintf(out, "  %-14s %u.%u.%u\n", name, AV_VERSION_MAJOR(packed), AV_VERSION_MINOR(packed),
            AV_VERSION_MICRO(packed));
}

void version_print(FILE *out)
{
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
    int pq = PQlibVersion(), magic = magic_version();
    fprintf(out, "silo %s (commit %s)\n", SILO_VERSION, SILO_COMMIT);
#ifdef __VERSION__
    fprintf(out, "compiler: %s %s\n",
#ifdef __clang__
            "clang",
#else
            "gcc",
#endif
            __VERSION__);
#endif
    fprintf(out, "libraries:\n");
    fprintf(out, "  %-14s %s\n", "libmicrohttpd", MHD_get_version());
    fprintf(out, "  %-14s %s (%s)\n", "libcurl", curl->version,
            curl->ssl_version ? curl->ssl_version : "no TLS");
    fprintf(out, "  %-14s %s\n", "OpenSSL", OpenSSL_version(OPENSSL_VERSION_STRING));
    fprintf(out, "  %-14s %s\n", "jansson", jansson_version_str());
    fprintf(out, "  %-14s %s\n", "SQLite", sqlite3_libversion());
    fprintf(out, "  %-14s %d.%d\n", "libpq", pq / 10000, pq % 10000);
    fprintf(out, "  %-14s %s\n", "FFmpeg", av_version_info());
    print_av(out, "libavformat", avformat_version());
    print_av(out, "libavcodec", avcodec_version());
    print_av(out, "libavutil", avutil_version());
    fprintf(out, "  %-14s %s (built against)\n", "pocketsphinx", SILO_BUILT_POCKETSPHINX);
    fprintf(out, "  %-14s %d.%02d\n", "libmagic", magic / 100, magic % 100);
    fprintf(out, "  %-14s %s (built against)\n", "libsystemd", SILO_BUILT_LIBSYSTEMD);
}

int version_render_metric(struct buf *out)
{
    return buf_printf(out,
                      "# HELP silo_build_info The version and commit of the running binary (always 1).\n"
                      "# TYPE silo_build_info gauge\n"
                      "silo_build_info{version=\"%s\",commit=\"%s\"} 1\n",
                      SILO_VERSION, SILO_COMMIT);
}
