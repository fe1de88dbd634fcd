/* fuzz_store_key.c: keys, prefixes, delimiters and continuation tokens from
 * the fuzzer, through put/head/get/list/delete/delete_prefix on one fs store
 * in a temporary directory.
 *
 * Input: one operation byte, then two NUL-separated strings (a key or
 * prefix, and a body, delimiter or token). Besides crashes and sanitizer
 * reports it checks the contract: invalid keys are EINVAL and valid ones
 * round-trip exactly; listings stay inside the prefix, in strictly
 * increasing byte order, within max_keys; and every 512 runs, that the
 * store's directory holds only its layout and nothing appeared beside it. */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "util/error.h"

#define BUCKET "fuzz"

static struct store *st;
static char parent[256], root[300];
static unsigned long runs;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "fuzz_store_key: check failed at line %d: %s\n", __LINE__, #cond);               \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    store_close(st);
    st = NULL;
    nftw(parent, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup_once(void)
{
    const char *tmp = getenv("TMPDIR");
    struct store_config cfg = {.driver = "fs", .bucket = BUCKET};

    if (st)
        return;
    snprintf(parent, sizeof parent, "%s/silo-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK(mkdtemp(parent) != NULL);
    snprintf(root, sizeof root, "%s/store", parent);
    cfg.root = root;
    CHECK(store_open(&cfg, &st) == 0);
    atexit(cleanup);
}

static int key_compare(const char *a, const char *b)
{
    size_t an = strlen(a), bn = strlen(b);
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static bool starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* Lists up to three pages and checks every entry against the options. */
static void check_listing(const char *prefix, const char *delimiter, const char *start_after,
                          unsigned max_keys)
{
    static char last[STORE_KEY_MAX + 1];
    char *token = NULL;
    bool have_last = false;

    for (int page_no = 0; page_no < 3; page_no++) {
        struct store_list_options opt = {prefix, delimiter, start_after, token, max_keys};
        struct store_list_result page;
        int rc = store_list(st, BUCKET, &opt, &page);
        CHECK(rc == 0 || rc == SILO_EINVAL);
        if (rc)
            break;
        CHECK(page.count + page.prefix_count <= max_keys);
        CHECK(page.truncated == (page.next_continuation != NULL));
        for (size_t i = 0; i < page.count; i++) {
            const char *key = page.objects[i].key;
            CHECK(starts_with(key, prefix));
            CHECK(store_key_valid(key));
            CHECK(!delimiter || !strstr(key + strlen(prefix), delimiter));
            CHECK(!start_after || key_compare(key, start_after) > 0);
            CHECK(!have_last || key_compare(last, key) < 0); /* across pages too */
            snprintf(last, sizeof last, "%s", key);
            have_last = true;
        }
        for (size_t i = 0; i < page.prefix_count; i++) {
            const char *cp = page.common_prefixes[i];
            CHECK(delimiter && starts_with(cp, prefix));
            CHECK(strlen(cp) >= strlen(delimiter) &&
                  strcmp(cp + strlen(cp) - strlen(delimiter), delimiter) == 0);
        }
        free(token);
        token = page.next_continuation ? strdup(page.next_continuation) : NULL;
        store_list_result_free(&page);
        if (!token)
            break;
    }
    free(token);
}

/* Walks the store root: only the catalog, tmp/, data/, data/xx and
 * data/xx/<32 hex digits> may exist. */
static int check_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    const char *rel = path + strlen(root);
    rel += *rel == '/';
    size_t n = strlen(rel);
    bool ok = n == 0 || strcmp(rel, "tmp") == 0 || strcmp(rel, "data") == 0 ||
              strncmp(rel, "catalog.db", 10) == 0 ||
              (strncmp(rel, "data/", 5) == 0 && n == 7 && flag == FTW_D) ||
              (strncmp(rel, "data/", 5) == 0 && n == 40 && rel[7] == '/' &&
               strspn(rel + 8, "0123456789abcdef") == 32);
    if (!ok)
        fprintf(stderr, "fuzz_store_key: unexpected %s\n", path);
    return ok ? 0 : 1;
}

static void check_layout(void)
{
    DIR *d = opendir(parent);
    struct dirent *e;
    CHECK(d != NULL);
    while ((e = readdir(d)))
        CHECK(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, "store") == 0);
    closedir(d);
    CHECK(nftw(root, check_entry, 16, FTW_PHYS) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[2 * STORE_KEY_MAX + 64];
    struct store_object_info info;
    char *body = NULL;
    size_t len;
    int rc;

    setup_once();
    if (size < 1 || size > sizeof text - 2)
        return 0;
    unsigned op = data[0];
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    text[size] = '\0';
    const char *a = text;              /* key or prefix */
    const char *b = a + strlen(a) + 1; /* body, delimiter or token */
    if (b > text + size - 1)
        b = "";
    bool valid = store_key_valid(a);

    switch (op % 7) {
    case 0: /* put, then it must read back exactly */
        rc = store_put_bytes(st, BUCKET, a, b, strlen(b), NULL, NULL);
        CHECK(rc == (valid ? 0 : SILO_EINVAL));
        if (!valid)
            break;
        CHECK(store_head(st, BUCKET, a, &info) == 0);
        CHECK(strcmp(info.key, a) == 0 && info.size == strlen(b));
        store_object_info_clear(&info);
        CHECK(store_get_bytes(st, BUCKET, a, strlen(b), &body, &len) == 0);
        CHECK(len == strlen(b) && memcmp(body, b, len) == 0);
        free(body);
        check_listing(a, NULL, NULL, 1);
        break;
    case 1: /* head */
        rc = store_head(st, BUCKET, a, &info);
        CHECK(valid ? rc == 0 || rc == SILO_ENOTFOUND : rc == SILO_EINVAL);
        if (rc == 0)
            CHECK(strcmp(info.key, a) == 0);
        store_object_info_clear(&info);
        break;
    case 2: /* delete, then it is gone */
        rc = store_delete(st, BUCKET, a);
        CHECK(valid ? rc == 0 || rc == SILO_ENOTFOUND : rc == SILO_EINVAL);
        if (valid)
            CHECK(store_head(st, BUCKET, a, &info) == SILO_ENOTFOUND);
        break;
    case 3: /* list with a delimiter */
        check_listing(a, *b ? b : NULL, NULL, 1 + op % 5);
        break;
    case 4: /* list after a marker */
        check_listing("", NULL, a, 1 + op % 4);
        break;
    case 5: { /* list with a forged continuation token */
        struct store_list_options opt = {.prefix = b, .continuation = a, .max_keys = 3};
        struct store_list_result page;
        rc = store_list(st, BUCKET, &opt, &page);
        CHECK(rc == 0 || rc == SILO_EINVAL);
        if (rc == 0)
            store_list_result_free(&page);
        break;
    }
    case 6: { /* delete_prefix, then nothing is left under it */
        uint64_t deleted = 0;
        rc = store_delete_prefix(st, BUCKET, a, &deleted);
        CHECK(rc == (*a ? 0 : SILO_EINVAL));
        if (rc == 0) {
            struct store_list_options opt = {.prefix = a, .max_keys = 1};
            struct store_list_result page;
            CHECK(store_list(st, BUCKET, &opt, &page) == 0);
            CHECK(page.count == 0);
            store_list_result_free(&page);
        }
        break;
    }
    }
    if (++runs % 512 == 0)
        check_layout();
    return 0;
}
