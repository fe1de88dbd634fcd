/* store_bench.c: micro-benchmarks of the storage core, built by `make bench`.
 *
 *   store_bench presign N          N presigned GET URLs on one thread: URLs/s
 *   store_bench write DIR MIB      stream MIB MiB into an fs store at DIR in
 *                                  1 MiB writes: MiB/s (run it under
 *                                  /usr/bin/time -v for the peak RSS)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/presign.h"
#include "store/store.h"
#include "util/error.h"
#include "util/timeutil.h"

static int open_store(const char *root, struct store **out)
{
    struct store_config cfg = {.name = "bench",
                               .driver = "fs",
                               .root = root,
                               .bucket = "media",
                               .endpoint = {.url = "http://127.0.0.1:3334",
                                            .region = "us-east-1",
                                            .access_key = "AKIAIOSFODNN7EXAMPLE",
                                            .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                            .path_style = true}};
    return store_open(&cfg, out);
}

static int presign(long n)
{
    char root[] = "/tmp/silo-bench-presign-XXXXXX";
    if (!mkdtemp(root))
        return 1;
    struct store *st;
    if (open_store(root, &st))
        return 1;
    time_t now = time_now();
    int64_t start = time_monotonic_ms();
    size_t total = 0;
    for (long i = 0; i < n; i++) {
        char key[64], *url = NULL;
        snprintf(key, sizeof key, "uploads/alice/%ld.mp3", i);
        if (store_presign_url(st, "GET", "media", key, 3600, NULL, now, &url))
            return 1;
        total += strlen(url);
        free(url);
    }
    double seconds = (double)(time_monotonic_ms() - start) / 1000.0;
    printf("presign: %ld URLs in %.3f s = %.0f URLs/s (%.2f us each, avg %zu bytes)\n", n, seconds,
           n / seconds, seconds * 1e6 / n, total / (size_t)n);
    store_close(st);
    return 0;
}

static int write_big(const char *root, long mib)
{
    struct store *st;
    if (open_store(root, &st))
        return 1;
    char *chunk = malloc(1 << 20);
    if (!chunk)
        return 1;
    for (int i = 0; i < (1 << 20); i++)
        chunk[i] = (char)(i * 31);
    struct store_writer *w;
    int64_t start = time_monotonic_ms();
    int rc = store_put_begin(st, "media", "big.bin", NULL, &w);
    for (long i = 0; !rc && i < mib; i++)
        rc = store_put_write(w, chunk, 1 << 20);
    struct store_object_info info = {0};
    rc = rc ? rc : store_put_commit(w, &info);
    double seconds = (double)(time_monotonic_ms() - start) / 1000.0;
    if (rc) {
        fprintf(stderr, "write failed: %s\n", silo_strerror(rc));
        return 1;
    }
    printf("write: %ld MiB in %.2f s = %.0f MiB/s, etag %s\n", mib, seconds, mib / seconds, info.etag);
    store_object_info_clear(&info);
    store_delete(st, "media", "big.bin");
    store_close(st);
    free(chunk);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "presign") == 0)
        return presign(strtol(argv[2], NULL, 10));
    if (argc == 4 && strcmp(argv[1], "write") == 0)
        return write_big(argv[2], strtol(argv[3], NULL, 10));
    fprintf(stderr, "usage: store_bench presign N | write DIR MIB\n");
    return 2;
}
