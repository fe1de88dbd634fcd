/* test_asr.c: media/decode.h and the pocketsphinx engine of asr.h over an
 * fs store, on Debian's LibriVox test clips (pocketsphinx-testdata; the
 * tests skip when it or the en-us model is missing).
 *
 * Decoding: a 48 kHz stereo WAV comes out as 16 kHz mono with the right
 * number of samples; non-audio is SILO_EMEDIATYPE. The engine: a clip's
 * transcript is the same whatever was decoded before on the thread and on
 * another thread (decoders are reset per request); the same clip as MP3,
 * M4A and Ogg (made by the ffmpeg command line) reads the same; a
 * language the engine lacks is SILO_EUNSUPPORTED. */
#include "unit.h"

#include <math.h>
#include <pthread.h>

#include "asr/asr.h"
#include "media/decode.h"
#include "util/error.h"

#define CLIPS "/usr/share/pocketsphinx/test/data/librivox/"
#define SHORT_CLIP CLIPS "sense_and_sensibility_01_austen_64kb-0880.wav"
#define OTHER_CLIP CLIPS "sense_and_sensibility_01_austen_64kb-0930.wav"

static char *root;
static struct store *st;
static struct asr_engine *engine;

static int setup(void **state)
{
    (void)state;
    root = unit_tempdir();
    struct store_config cfg = {.name = "test", .driver = "fs", .root = root, .bucket = "media"};
    if (store_open(&cfg, &st))
        return -1;
    struct asr_config acfg = {.engine = "pocketsphinx", .model_dir = "/usr/share/pocketsphinx/model/en-us"};
    if (access(SHORT_CLIP, R_OK) == 0 && asr_open(&acfg, &engine) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    asr_close(engine);
    store_close(st);
    unit_rmtree(root);
    free(root);
    return 0;
}

/* Stores the output of a shell command (stdout) under key; false when
 * the command fails (ffmpeg missing). */
static bool put_command(const char *key, const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return false;
    size_t cap = 1 << 20, len = 0, got;
    unsigned char *out = malloc(cap);
    while (out && (got = fread(out + len, 1, cap - len, p)) > 0) {
        len += got;
        if (len == cap)
            out = realloc(out, cap *= 2);
    }
    int status = pclose(p);
    bool ok = out && status == 0 && len > 0;
    if (ok)
        assert_int_equal(store_put_bytes(st, "media", key, out, len, NULL, NULL), 0);
    free(out);
    return ok;
}

static bool put_file(const char *key, const char *path)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cat '%s'", path);
    return put_command(key, cmd);
}

static void decode_resamples_and_downmixes(void **state)
{
    (void)state;
    if (!put_command("stereo.wav", "ffmpeg -hide_banner -loglevel error -f lavfi -i "
                                   "sine=frequency=300:duration=1.5:sample_rate=48000 -ac 2 -f wav pipe:1"))
        skip();
    struct decode *d;
    assert_int_equal(decode_open(st, "media", "stereo.wav", DECODE_SAMPLE_RATE, &d), 0);
    assert_string_equal(decode_format(d), "wav");
    assert_true(fabs(decode_duration(d) - 1.5) < 0.01);
    int16_t buf[1000];
    size_t n, total = 0;
    int peak = 0;
    do {
        assert_int_equal(decode_read(d, buf, sizeof buf / sizeof buf[0], &n), 0);
        for (size_t i = 0; i < n; i++)
            peak = abs(buf[i]) > peak ? abs(buf[i]) : peak;
        total += n;
    } while (n > 0);
    assert_true(total >= 23990 && total <= 24010); /* 1.5 s at 16 kHz */
    assert_int_equal(decode_position(d), total);
    assert_true(peak > 1000);
    decode_close(d);
}

static void decode_refuses_what_is_not_audio(void **state)
{
    (void)state;
    static const char text[] = "these are words, not sound\n";
    assert_int_equal(store_put_bytes(st, "media", "words.txt", text, sizeof text - 1, NULL, NULL), 0);
    struct decode *d = NULL;
    assert_int_equal(decode_open(st, "media", "words.txt", DECODE_SAMPLE_RATE, &d), SILO_EMEDIATYPE);
    assert_null(d);
    assert_int_equal(decode_open(st, "media", "absent.wav", DECODE_SAMPLE_RATE, &d), SILO_ENOTFOUND);
}

static char *transcribe(const char *key, const char *language)
{
    struct asr_source src = {.st = st, .bucket = "media", .key = key};
    struct asr_options opt = {.language = language};
    struct asr_result r;
    char *error = NULL;
    int rc = asr_transcribe(engine, &src, &opt, NULL, NULL, &r, &error);
    free(error);
    if (rc)
        return NULL;
    char *text = strdup(r.text);
    assert_true(r.duration > 0);
    assert_true(r.word_count > 0 && r.segment_count > 0);
    for (size_t i = 0; i < r.word_count; i++) {
        assert_true(r.words[i].end > r.words[i].start);
        assert_true(r.words[i].end <= r.duration + 0.05);
        assert_null(strchr(r.words[i].word, '(')); /* "was(2)" lost its suffix */
        assert_true(r.words[i].word[0] != '<' && r.words[i].word[0] != '[');
    }
    asr_result_clear(&r);
    return text;
}

static void *transcribe_thread(void *arg) { return transcribe(arg, NULL); }

static void results_do_not_depend_on_history(void **state)
{
    (void)state;
    if (!engine || !put_file("short.wav", SHORT_CLIP) || !put_file("other.wav", OTHER_CLIP))
        skip();
    char *first = transcribe("short.wav", "en");
    assert_non_null(first);
    assert_non_null(strstr(first, "young man"));
    char *other = transcribe("other.wav", NULL);
    assert_non_null(other);
    char *again = transcribe("short.wav", NULL);
    assert_string_equal(first, again);
    pthread_t t;
    void *elsewhere = NULL;
    assert_int_equal(pthread_create(&t, NULL, transcribe_thread, "short.wav"), 0);
    pthread_join(t, &elsewhere);
    assert_non_null(elsewhere);
    assert_string_equal(first, elsewhere);
    free(first);
    free(other);
    free(again);
    free(elsewhere);
}

static void compressed_containers_read_the_same(void **state)
{
    (void)state;
    if (!engine || !put_file("short.wav", SHORT_CLIP))
        skip();
    static const struct {
        const char *key, *args;
    } forms[] = {
        {"short.mp3", "-c:a libmp3lame -b:a 128k -f mp3"},
        {"short.ogg", "-c:a libvorbis -q:a 10 -f ogg"},
        {"short.m4a", "-c:a aac -b:a 128k -movflags frag_keyframe+empty_moov -f mp4"},
    };
    char *want = transcribe("short.wav", NULL);
    assert_non_null(want);
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "ffmpeg -hide_banner -loglevel error -i '%s' %s pipe:1", SHORT_CLIP,
                 forms[i].args);
        if (!put_command(forms[i].key, cmd))
            skip();
        char *got = transcribe(forms[i].key, NULL);
        assert_non_null(got);
        assert_string_equal(got, want);
        free(got);
    }
    free(want);
}

static void languages_the_engine_lacks_are_refused(void **state)
{
    (void)state;
    if (!engine || !put_file("short.wav", SHORT_CLIP))
        skip();
    assert_true(asr_language_supported(engine, "en"));
    assert_true(asr_language_supported(engine, "EN"));
    assert_false(asr_language_supported(engine, "fr"));
    struct asr_source src = {.st = st, .bucket = "media", .key = "short.wav"};
    struct asr_options opt = {.language = "fr"};
    struct asr_result r;
    assert_int_equal(asr_transcribe(engine, &src, &opt, NULL, NULL, &r, NULL), SILO_EUNSUPPORTED);
    char text[64];
    asr_languages_text(engine, text, sizeof text);
    assert_string_equal(text, "en");
    struct asr_config bad = {.engine = "whisper.cpp"};
    struct asr_engine *none = NULL;
    assert_int_equal(asr_open(&bad, &none), SILO_EINVAL);
    struct asr_config openai_without_url = {.engine = "openai"};
    assert_int_equal(asr_open(&openai_without_url, &none), SILO_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_resamples_and_downmixes),
        cmocka_unit_test(decode_refuses_what_is_not_audio),
        cmocka_unit_test(results_do_not_depend_on_history),
        cmocka_unit_test(compressed_containers_read_the_same),
        cmocka_unit_test(languages_the_engine_lacks_are_refused),
    };
    return cmocka_run_group_tests_name("asr", tests, setup, teardown);
}
