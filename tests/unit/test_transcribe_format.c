/* test_transcribe_format.c: transcribe/format.h, the five response
 * formats of OpenAI's transcription endpoints, byte for byte, and the
 * canonical JSON of asr.h's results that the store keeps. */
#include "unit.h"

#include <math.h>

#include "transcribe/format.h"
#include "util/error.h"

/* Two segments, three words each: "he was not" / "a young man". */
static void sample(struct asr_result *r)
{
    memset(r, 0, sizeof *r);
    static const struct {
        const char *word;
        double start, end, p;
    } words[] = {{"he", 0.21, 0.33, 0.99}, {"was", 0.33, 0.55, 0.9},    {"not", 0.55, 0.98, 0.5},
                 {"a", 1.62, 1.7, 1.0},    {"young", 2.05, 2.33, 0.25}, {"man", 2.33, 2.8, 0.75}};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(asr_result_add_word(r, words[i].word, words[i].start, words[i].end, words[i].p), 0);
    struct asr_segment a = {.start = 0.21,
                            .end = 0.98,
                            .text = "he was not",
                            .avg_logprob = -0.25,
                            .first_word = 0,
                            .word_count = 3};
    struct asr_segment b = {.start = 1.62,
                            .end = 3723.4565,
                            .text = "a young man",
                            .avg_logprob = -0.5,
                            .no_speech_prob = 0.125,
                            .first_word = 3,
                            .word_count = 3};
    assert_int_equal(asr_result_add_segment(r, &a), 0);
    assert_int_equal(asr_result_add_segment(r, &b), 0);
    assert_int_equal(asr_result_join_text(r), 0);
    r->language = strdup("english");
    r->duration = 2.99;
}

static char *render(const struct asr_result *r, enum transcribe_format f, const struct transcribe_view *v)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(transcribe_format_render(r, f, v, &b), 0);
    return buf_take(&b);
}

static void timestamps(void **state)
{
    (void)state;
    static const struct {
        double seconds;
        char sep;
        const char *want;
    } cases[] = {
        {0, ',', "00:00:00,000"},         {-3, '.', "00:00:00.000"},     {0.0004, ',', "00:00:00,000"},
        {0.0005, ',', "00:00:00,001"},    {2.8, ',', "00:00:02,800"},    {59.9996, '.', "00:01:00.000"},
        {3723.4565, '.', "01:02:03.457"}, {360000, ',', "99:59:59,999"}, {1e12, '.', "99:59:59.999"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[16];
        transcribe_format_timestamp(cases[i].seconds, cases[i].sep, out);
        assert_string_equal(out, cases[i].want);
    }
}

static void names_types_and_extensions(void **state)
{
    (void)state;
    static const struct {
        const char *name, *type, *ext;
        bool json;
    } cases[] = {
        {"json", "application/json", "json", true},
        {"text", "text/plain; charset=utf-8", "txt", false},
        {"srt", "text/plain; charset=utf-8", "srt", false},
        {"verbose_json", "application/json", "json", true},
        {"vtt", "text/vtt; charset=utf-8", "vtt", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum transcribe_format f;
        assert_int_equal(transcribe_format_parse(cases[i].name, &f), 0);
        assert_string_equal(transcribe_format_name(f), cases[i].name);
        assert_string_equal(transcribe_format_content_type(f), cases[i].type);
        assert_string_equal(transcribe_format_extension(f), cases[i].ext);
        assert_true(transcribe_format_is_json(f) == cases[i].json);
    }
    enum transcribe_format f;
    static const char *const bad[] = {"", "JSON", "xml", "verbose-json", "srt ", NULL};
    for (const char *const *b = bad; *b; b++)
        assert_int_equal(transcribe_format_parse(*b, &f), SILO_EINVAL);
    assert_int_equal(transcribe_format_parse(NULL, &f), SILO_EINVAL);
}

static void text_srt_vtt_and_json_bytes(void **state)
{
    (void)state;
    struct asr_result r;
    sample(&r);
    struct transcribe_view v = {.task = "transcribe", .segments = true};
    static const struct {
        enum transcribe_format f;
        const char *want;
    } cases[] = {
        {TRANSCRIBE_JSON, "{\"text\":\"he was not a young man\"}"},
        {TRANSCRIBE_TEXT, "he was not a young man\n"},
        {TRANSCRIBE_SRT, "1\n00:00:00,210 --> 00:00:00,980\nhe was not\n\n"
                         "2\n00:00:01,620 --> 01:02:03,457\na young man\n\n"},
        {TRANSCRIBE_VTT, "WEBVTT\n\n00:00:00.210 --> 00:00:00.980\nhe was not\n\n"
                         "00:00:01.620 --> 01:02:03.457\na young man\n\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = render(&r, cases[i].f, &v);
        assert_string_equal(out, cases[i].want);
        free(out);
    }
    asr_result_clear(&r);

    /* Silence: empty text, no cues. */
    struct asr_result empty = {0};
    assert_int_equal(asr_result_join_text(&empty), 0);
    char *out = render(&empty, TRANSCRIBE_SRT, &v);
    assert_string_equal(out, "");
    free(out);
    out = render(&empty, TRANSCRIBE_VTT, &v);
    assert_string_equal(out, "WEBVTT\n\n");
    free(out);
    out = render(&empty, TRANSCRIBE_JSON, &v);
    assert_string_equal(out, "{\"text\":\"\"}");
    free(out);
    asr_result_clear(&empty);
}

static void verbose_json_follows_the_granularities(void **state)
{
    (void)state;
    struct asr_result r;
    sample(&r);
    static const struct {
        bool segments, words;
    } views[] = {{true, false}, {false, true}, {true, true}};
    for (size_t i = 0; i < 3; i++) {
        struct transcribe_view v = {.task = i == 2 ? "translate" : "transcribe",
                                    .segments = views[i].segments,
                                    .words = views[i].words,
                                    .temperature = 0.2};
        json_t *doc = transcribe_format_object(&r, TRANSCRIBE_VERBOSE_JSON, &v);
        assert_non_null(doc);
        assert_string_equal(json_string_value(json_object_get(doc, "task")), v.task);
        assert_string_equal(json_string_value(json_object_get(doc, "language")), "english");
        assert_true(fabs(json_real_value(json_object_get(doc, "duration")) - 2.99) < 1e-9);
        assert_string_equal(json_string_value(json_object_get(doc, "text")), "he was not a young man");
        json_t *segments = json_object_get(doc, "segments"), *words = json_object_get(doc, "words");
        assert_true((segments != NULL) == views[i].segments);
        assert_true((words != NULL) == views[i].words);
        if (segments) {
            assert_int_equal(json_array_size(segments), 2);
            json_t *s = json_array_get(segments, 1);
            static const char *const keys[] = {"id",
                                               "seek",
                                               "start",
                                               "end",
                                               "text",
                                               "tokens",
                                               "temperature",
                                               "avg_logprob",
                                               "compression_ratio",
                                               "no_speech_prob"};
            assert_int_equal(json_object_size(s), 10);
            for (size_t k = 0; k < 10; k++)
                assert_non_null(json_object_get(s, keys[k]));
            assert_int_equal(json_integer_value(json_object_get(s, "id")), 1);
            assert_int_equal(json_integer_value(json_object_get(s, "seek")), 162);
            assert_string_equal(json_string_value(json_object_get(s, "text")), " a young man");
            assert_true(json_is_array(json_object_get(s, "tokens")));
            assert_true(fabs(json_real_value(json_object_get(s, "end")) - 3723.457) < 1e-9);
            assert_true(fabs(json_real_value(json_object_get(s, "temperature")) - 0.2) < 1e-9);
            assert_true(fabs(json_real_value(json_object_get(s, "no_speech_prob")) - 0.125) < 1e-9);
        }
        if (words) {
            assert_int_equal(json_array_size(words), 6);
            json_t *w = json_array_get(words, 4);
            assert_int_equal(json_object_size(w), 3); /* word, start, end: no probability */
            assert_string_equal(json_string_value(json_object_get(w, "word")), "young");
            assert_true(fabs(json_real_value(json_object_get(w, "start")) - 2.05) < 1e-9);
        }
        json_decref(doc);
    }
    /* Rendered compactly, times print as written (2.8, not 2.7999999999999998). */
    struct transcribe_view v = {.task = "transcribe", .words = true};
    char *out = render(&r, TRANSCRIBE_VERBOSE_JSON, &v);
    assert_non_null(strstr(out, "{\"word\":\"man\",\"start\":2.33,\"end\":2.8}"));
    assert_null(strstr(out, "\"segments\""));
    free(out);
    assert_null(transcribe_format_object(&r, TRANSCRIBE_SRT, &v));
    asr_result_clear(&r);
}

static void canonical_json_round_trips(void **state)
{
    (void)state;
    struct asr_result r, back;
    sample(&r);
    json_t *doc = asr_result_to_json(&r);
    assert_non_null(doc);
    assert_int_equal(asr_result_from_json(doc, &back), 0);
    assert_string_equal(back.text, r.text);
    assert_string_equal(back.language, "english");
    assert_int_equal(back.segment_count, 2);
    assert_int_equal(back.word_count, 6);
    assert_int_equal(back.segments[1].first_word, 3);
    assert_int_equal(back.segments[1].word_count, 3);
    assert_string_equal(back.words[5].word, "man");
    assert_true(fabs(back.words[4].probability - 0.25) < 1e-9);
    assert_true(fabs(back.segments[1].end - 3723.457) < 1e-9);
    json_decref(doc);
    asr_result_clear(&back);
    asr_result_clear(&r);

    static const char *const bad[] = {"[]",
                                      "{\"segments\": []}",
                                      "{\"text\": 1}",
                                      "{\"text\": \"x\", \"segments\": {}}",
                                      "{\"text\": \"x\", \"segments\": [{\"words\": [{\"word\": 3}]}]}",
                                      NULL};
    for (const char *const *b = bad; *b; b++) {
        json_t *d = json_loads(*b, 0, NULL);
        assert_non_null(d);
        assert_int_equal(asr_result_from_json(d, &back), SILO_EINVAL);
        json_decref(d);
    }
}

static void many_words_grow_past_the_first_blocks(void **state)
{
    (void)state;
    struct asr_result r = {0};
    for (int i = 0; i < 1000; i++)
        assert_int_equal(asr_result_add_word(&r, "la", i, i + 0.5, 1), 0);
    assert_int_equal(r.word_count, 1000);
    assert_string_equal(r.words[999].word, "la");
    asr_result_clear(&r);
    assert_int_equal(r.word_count, 0);
}

static void compression_ratio_rises_with_repetition(void **state)
{
    (void)state;
    assert_true(transcribe_format_compression_ratio("") == 1.0);
    double plain = transcribe_format_compression_ratio("he was not an ill disposed young man");
    double looped = transcribe_format_compression_ratio(
        "thank you thank you thank you thank you thank you thank you thank you thank you thank you");
    assert_true(plain >= 1.0 && plain < 1.3);
    assert_true(looped > 2.4); /* Whisper's threshold for a hallucinated loop */
}

static void language_names(void **state)
{
    (void)state;
    assert_string_equal(asr_language_name("en"), "english");
    assert_string_equal(asr_language_name("FR"), "french");
    assert_null(asr_language_name("xx"));
    assert_null(asr_language_name(""));
    assert_null(asr_language_name(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timestamps),
        cmocka_unit_test(names_types_and_extensions),
        cmocka_unit_test(text_srt_vtt_and_json_bytes),
        cmocka_unit_test(verbose_json_follows_the_granularities),
        cmocka_unit_test(canonical_json_round_trips),
        cmocka_unit_test(many_words_grow_past_the_first_blocks),
        cmocka_unit_test(compression_ratio_rises_with_repetition),
        cmocka_unit_test(language_names),
    };
    return cmocka_run_group_tests_name("transcribe_format", tests, NULL, NULL);
}
