/* test_media_probe.c: media/probe.h over an fs store.
 *
 * WAV files are built here byte by byte (exact durations, one large enough
 * to need many reads); containers that only FFmpeg can write come from the
 * ffmpeg command line when it is installed (skipped otherwise): WebM through
 * a pipe, which has no duration in its header and so is measured by walking
 * the packets, and MP4 with its index at the end, which needs seeks. */
#include "unit.h"

#include <math.h>

#include "media/probe.h"
#include "util/error.h"

static char *root;
static struct store *st;

static int setup(void **state)
{
    (void)state;
    root = unit_tempdir();
    struct store_config cfg = {.name = "test", .driver = "fs", .root = root, .bucket = "media"};
    return store_open(&cfg, &st);
}

static int teardown(void **state)
{
    (void)state;
    store_close(st);
    unit_rmtree(root);
    free(root);
    return 0;
}

static void put_le(unsigned char *p, uint32_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* A PCM 16-bit WAV of frames frames; *len_out its size. Caller frees. */
static unsigned char *make_wav(uint32_t rate, uint16_t channels, uint32_t frames, size_t *len_out)
{
    uint32_t data = frames * channels * 2;
    unsigned char *w = calloc(1, 44 + data);
    assert_non_null(w);
    memcpy(w, "RIFF", 4);
    put_le(w + 4, 36 + data, 4);
    memcpy(w + 8, "WAVEfmt ", 8);
    put_le(w + 16, 16, 4);
    put_le(w + 20, 1, 2);
    put_le(w + 22, channels, 2);
    put_le(w + 24, rate, 4);
    put_le(w + 28, rate * channels * 2, 4);
    put_le(w + 32, channels * 2, 2);
    put_le(w + 34, 16, 2);
    memcpy(w + 36, "data", 4);
    put_le(w + 40, data, 4);
    for (uint32_t i = 0; i < frames * channels; i++)
        put_le(w + 44 + 2 * i, (uint32_t)(int16_t)(8000 * sin(i * 0.05)), 2);
    *len_out = 44 + data;
    return w;
}

static void put(const char *key, const void *data, size_t n)
{
    assert_int_equal(store_put_bytes(st, "media", key, data, n, NULL, NULL), 0);
}

static void wav_duration_is_exact(void **state)
{
    (void)state;
    size_t n;
    unsigned char *w = make_wav(16000, 1, 40000, &n);
    put("a.wav", w, n);
    struct probe_info pi;
    assert_int_equal(probe_stored(st, "media", "a.wav", &pi), 0);
    assert_true(fabs(pi.duration - 2.5) < 1e-6);
    assert_string_equal(pi.format, "wav");
    assert_string_equal(pi.codec, "pcm_s16le");
    assert_int_equal(pi.sample_rate, 16000);
    assert_int_equal(pi.channels, 1);
    assert_true(pi.has_audio);
    assert_false(pi.has_video);
    assert_false(pi.duration_scanned);
    free(w);
}

static void large_wav_is_read_in_pieces(void **state)
{
    (void)state;
    size_t n;
    unsigned char *w = make_wav(48000, 2, 48000 * 30, &n); /* 5.8 MB: many PROBE_IO_BUFFERs */
    put("long.wav", w, n);
    struct probe_info pi;
    assert_int_equal(probe_stored(st, "media", "long.wav", &pi), 0);
    assert_true(fabs(pi.duration - 30.0) < 1e-6);
    assert_int_equal(pi.channels, 2);
    free(w);
}

static void not_media_and_missing(void **state)
{
    (void)state;
    static const char text[] = "these are words, not sound\n";
    put("words.txt", text, sizeof text - 1);
    unsigned char noise[4096];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (unsigned char)(i * 7919 >> 3);
    put("noise.bin", noise, sizeof noise);
    struct probe_info pi;
    assert_int_equal(probe_stored(st, "media", "words.txt", &pi), SILO_EMEDIATYPE);
    assert_true(pi.duration < 0);
    int rc = probe_stored(st, "media", "noise.bin", &pi);
    assert_true(rc == SILO_EMEDIATYPE || (rc == 0 && pi.duration < 0.5));
    assert_int_equal(probe_stored(st, "media", "absent.wav", &pi), SILO_ENOTFOUND);
    put("empty.wav", "", 0);
    assert_int_equal(probe_stored(st, "media", "empty.wav", &pi), SILO_EMEDIATYPE);
    /* A WAV cut short after its header: whatever FFmpeg makes of it, no crash. */
    size_t n;
    unsigned char *w = make_wav(8000, 1, 8000, &n);
    put("cut.wav", w, 60);
    probe_stored(st, "media", "cut.wav", &pi);
    free(w);
}

/* Runs an ffmpeg command line writing to stdout; returns the bytes (owned)
 * or NULL when ffmpeg is missing or fails. */
static unsigned char *ffmpeg_output(const char *args, size_t *len_out)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -hide_banner -loglevel error -f lavfi -i sine=frequency=440:duration=2.5 %s 2>/dev/null",
             args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    size_t cap = 1 << 20, len = 0, got;
    unsigned char *out = malloc(cap);
    while (out && (got = fread(out + len, 1, cap - len, p)) > 0) {
        len += got;
        if (len == cap)
            out = realloc(out, cap *= 2);
    }
    int status = pclose(p);
    if (status != 0 || len == 0) {
        free(out);
        return NULL;
    }
    *len_out = len;
    return out;
}

static void containers_without_a_duration_are_scanned(void **state)
{
    (void)state;
    if (system("command -v ffmpeg >/dev/null 2>&1") != 0)
        skip();
    char dir_args[1024];
    size_t n = 0;
    unsigned char *webm = ffmpeg_output("-c:a libopus -f webm pipe:1", &n);
    assert_non_null(webm);
    put("take.webm", webm, n);
    free(webm);
    struct probe_info pi;
    assert_int_equal(probe_stored(st, "media", "take.webm", &pi), 0);
    assert_true(pi.duration_scanned);
    assert_true(fabs(pi.duration - 2.5) < 0.05);
    assert_string_equal(pi.codec, "opus");

    /* MP4 written to a file keeps its index at the end: probing seeks. */
    char *dir = unit_tempdir();
    snprintf(dir_args, sizeof dir_args, "-c:a aac -y %s/take.m4a && cat %s/take.m4a", dir, dir);
    unsigned char *m4a = ffmpeg_output(dir_args, &n);
    unit_rmtree(dir);
    free(dir);
    assert_non_null(m4a);
    put("take.m4a", m4a, n);
    free(m4a);
    assert_int_equal(probe_stored(st, "media", "take.m4a", &pi), 0);
    assert_false(pi.duration_scanned);
    assert_true(fabs(pi.duration - 2.5) < 0.05);
    assert_string_equal(pi.codec, "aac");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wav_duration_is_exact),
        cmocka_unit_test(large_wav_is_read_in_pieces),
        cmocka_unit_test(not_media_and_missing),
        cmocka_unit_test(containers_without_a_duration_are_scanned),
    };
    return cmocka_run_group_tests_name("probe", tests, setup, teardown);
}
