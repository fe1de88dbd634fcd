/* test_transcribe.c: transcribe/transcribe.h (format.c has its own
 * program, test_transcribe_format.c): transcription ids, the public view
 * of a transcription and of its delivery as the job queue moves them,
 * the checks of a request, and with the local engine on Debian's
 * LibriVox clips a whole transcription through a real worker pool: the
 * job, the delivery into a bucket, waiting for it, and a saved
 * recording's transcript written back through recordings/. Real fs store
 * and SQLite; the engine part is skipped when the clips are missing. */
#include "app_fixture.h"

#include <unistd.h>

#include "jobs/jobs.h"
#include "recordings/recordings.h"
#include "transcribe/transcribe.h"
#include "util/arena.h"
#include "util/timeutil.h"

#define CLIP "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"

/* ---- pure ---- */

static void ids(void **state)
{
    (void)state;
    char id[TRANSCRIBE_ID_MAX], token[TRANSCRIBE_TOKEN_HEX + 1];
    int64_t job = 0;
    transcribe_id(42, "0123456789abcdef", id);
    assert_string_equal(id, "tr_42_0123456789abcdef");
    assert_int_equal(transcribe_parse_id(id, &job, token), 0);
    assert_int_equal(job, 42);
    assert_string_equal(token, "0123456789abcdef");
    static const char *const bad[] = {"",
                                      "tr_",
                                      "tr_42",
                                      "tr_42_0123",
                                      "tr_0_0123456789abcdef",
                                      "tr_-1_0123456789abcdef",
                                      "tr_42_0123456789ABCDEF",
                                      "xx_42_0123456789abcdef",
                                      "tr_4x_0123456789abcdef"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (transcribe_parse_id(bad[i], &job, token) == 0)
            fail_msg("'%s' parsed as an id", bad[i]);
    assert_int_equal(transcribe_parse_id(NULL, &job, token), SILO_EINVAL);
}

static void acceptable_files(void **state)
{
    (void)state;
    assert_true(transcribe_file_acceptable("audio/x-wav", "a.bin"));
    assert_true(transcribe_file_acceptable("video/mp4", "a"));
    assert_true(transcribe_file_acceptable("application/ogg", "a"));
    assert_true(transcribe_file_acceptable("application/octet-stream", "clip.M4A"));
    assert_false(transcribe_file_acceptable("application/octet-stream", "clip.exe"));
    assert_false(transcribe_file_acceptable("application/octet-stream", "clip"));
    assert_false(transcribe_file_acceptable("text/plain", "clip.wav"));
}

static void payload_views(void **state)
{
    (void)state;
    enum transcribe_format format;
    struct transcribe_view view;
    json_t *p = json_pack("{s:s, s:s, s:f, s:[s, s]}", "response_format", "verbose_json", "task", "translate",
                          "temperature", 0.25, "granularities", "word", "segment");
    assert_int_equal(transcribe_payload_view(p, &format, &view), 0);
    assert_int_equal(format, TRANSCRIBE_VERBOSE_JSON);
    assert_string_equal(view.task, "translate");
    assert_true(view.words && view.segments);
    json_decref(p);
    p = json_pack("{s:s, s:[s]}", "response_format", "srt", "granularities", "word");
    assert_int_equal(transcribe_payload_view(p, &format, &view), 0);
    assert_true(view.words && !view.segments);
    json_decref(p);
    p = json_pack("{s:s}", "response_format", "srt");
    assert_int_equal(transcribe_payload_view(p, &format, &view), 0);
    assert_true(view.segments && !view.words); /* nothing asked: segments */
    json_decref(p);
    p = json_pack("{s:s}", "response_format", "docx");
    assert_int_equal(transcribe_payload_view(p, &format, &view), SILO_EINVAL);
    json_decref(p);
}

/* ---- the queue, without an engine ---- */

static int64_t enqueue(struct fixture *fx, const char *kind, json_t *payload)
{
    char *text = json_dumps(payload, JSON_COMPACT);
    int64_t id = 0;
    assert_int_equal(jobs_enqueue(fx->f.app.db, kind, text, NULL, 0, 1, &id), 0);
    free(text);
    json_decref(payload);
    return id;
}

/* Claims job id (the only one of its kind due) as worker "w". */
static void claim(struct fixture *fx, int64_t id)
{
    struct job j;
    assert_int_equal(jobs_get(fx->f.app.db, id, &j), 0);
    const char *kinds[] = {j.kind};
    char kind[JOBS_MAX_KIND + 1];
    snprintf(kind, sizeof kind, "%s", j.kind);
    kinds[0] = kind;
    jobs_clear(&j);
    assert_int_equal(jobs_claim(fx->f.app.db, "w", kinds, 1, 60000, &j), 0);
    assert_int_equal(j.id, id);
    jobs_clear(&j);
}

static void finding_and_describing(void **state)
{
    struct fixture *fx = *state;
    struct app *app = &fx->f.app;
    struct job j;
    char *owner = NULL, id[TRANSCRIBE_ID_MAX];
    int64_t job_id =
        enqueue(fx, TRANSCRIBE_JOB,
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "token", "00112233445566ff", "owner",
                          "alice", "task", "transcribe", "model", "whisper-1", "response_format", "text",
                          "language", "en", "created_at", (json_int_t)1700000000));
    transcribe_id(job_id, "00112233445566ff", id);
    assert_int_equal(transcribe_find(app, id, &j, &owner), 0);
    assert_string_equal(owner, "alice");
    free(owner);
    json_t *doc = transcribe_describe(app, &j, true);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "queued");
    assert_string_equal(json_string_value(json_object_get(doc, "id")), id);
    assert_string_equal(json_string_value(json_object_get(doc, "object")), "transcription");
    assert_null(json_object_get(doc, "completed_at"));
    json_decref(doc);
    jobs_clear(&j);

    /* A wrong token, a malformed id, another kind: not found alike. */
    transcribe_id(job_id, "ffffffffffffffff", id);
    assert_int_equal(transcribe_find(app, id, &j, &owner), SILO_ENOTFOUND);
    assert_int_equal(transcribe_find(app, "tr_nope", &j, &owner), SILO_ENOTFOUND);
    int64_t other =
        enqueue(fx, "something_else", json_pack("{s:s, s:s}", "token", "00112233445566ff", "owner", "a"));
    transcribe_id(other, "00112233445566ff", id);
    assert_int_equal(transcribe_find(app, id, &j, &owner), SILO_ENOTFOUND);

    /* Running, then completed with a stored result. */
    claim(fx, job_id);
    assert_int_equal(jobs_get(app->db, job_id, &j), 0);
    doc = transcribe_describe(app, &j, true);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "in_progress");
    json_decref(doc);
    jobs_clear(&j);
    const char *result =
        "{\"text\":\"he was not\",\"language\":\"english\",\"duration\":2.5,\"segments\":"
        "[{\"start\":0,\"end\":2.5,\"text\":\"he was not\",\"avg_logprob\":0,\"no_speech_prob\":0,"
        "\"words\":[]}]}";
    fixture_put(&fx->f, TRANSCRIBE_PREFIX "x/result.json", result, "application/json");
    assert_int_equal(
        jobs_complete(app->db, job_id, "w",
                      "{\"status\":\"completed\",\"result_key\":\".silo-transcriptions/x/result.json\","
                      "\"duration\":2.5}"),
        0);
    assert_int_equal(jobs_get(app->db, job_id, &j), 0);
    doc = transcribe_describe(app, &j, true);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "completed");
    assert_string_equal(json_string_value(json_object_get(doc, "result")), "he was not\n");
    assert_non_null(json_object_get(doc, "completed_at"));
    json_decref(doc);
    doc = transcribe_describe(app, &j, false);
    assert_null(json_object_get(doc, "result"));
    json_decref(doc);
    struct asr_result r;
    assert_int_equal(transcribe_load_result(app, ".silo-transcriptions/x/result.json", &r), 0);
    assert_string_equal(r.text, "he was not");
    asr_result_clear(&r);
    assert_int_equal(transcribe_load_result(app, ".silo-transcriptions/none.json", &r), SILO_ENOTFOUND);
    jobs_clear(&j);
}

static void failures_are_described(void **state)
{
    struct fixture *fx = *state;
    struct app *app = &fx->f.app;
    struct job j;
    int64_t job_id = enqueue(
        fx, TRANSCRIBE_JOB,
        json_pack("{s:s, s:s, s:s}", "token", "aaaaaaaaaaaaaaaa", "owner", "bob", "response_format", "json"));
    claim(fx, job_id);
    assert_int_equal(
        jobs_complete(app->db, job_id, "w",
                      "{\"status\":\"failed\",\"error\":{\"message\":\"bad audio\",\"type\":"
                      "\"invalid_request_error\",\"code\":\"invalid_file_format\",\"status\":400}}"),
        0);
    assert_int_equal(jobs_get(app->db, job_id, &j), 0);
    json_t *doc = transcribe_describe(app, &j, true);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "error"), "code")),
                        "invalid_file_format");
    json_decref(doc);
    jobs_clear(&j);

    /* A job that died: failed, with its last error. */
    job_id =
        enqueue(fx, TRANSCRIBE_JOB, json_pack("{s:s, s:s}", "token", "bbbbbbbbbbbbbbbb", "owner", "bob"));
    claim(fx, job_id);
    enum jobs_state now;
    assert_int_equal(jobs_fail(app->db, job_id, "w", "engine crashed", &now), 0);
    assert_int_equal(now, JOBS_DEAD);
    assert_int_equal(jobs_get(app->db, job_id, &j), 0);
    doc = transcribe_describe(app, &j, true);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "error"), "message")),
                        "engine crashed");
    json_decref(doc);
    jobs_clear(&j);
}

static void delivery_state_follows_its_job(void **state)
{
    struct fixture *fx = *state;
    struct app *app = &fx->f.app;
    int64_t deliver = enqueue(fx, TRANSCRIBE_DELIVER_JOB,
                              json_pack("{s:I, s:s}", "transcription_job", 1, "what", "result"));
    json_t *d = json_pack("{s:s, s:s, s:s, s:I}", "method", "upload_presigned_url", "url_host", "example.com",
                          "status", "pending", "job_id", (json_int_t)deliver);
    json_t *s = transcribe_delivery_state(app, d);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "pending");
    assert_int_equal(json_integer_value(json_object_get(s, "attempts")), 0);
    json_decref(s);
    claim(fx, deliver);
    assert_int_equal(jobs_complete(app->db, deliver, "w", "{\"status\":\"delivered\"}"), 0);
    s = transcribe_delivery_state(app, d);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "delivered");
    assert_int_equal(json_integer_value(json_object_get(s, "attempts")), 1);
    assert_string_equal(json_string_value(json_object_get(s, "url_host")), "example.com");
    json_decref(s);
    json_decref(d);
    /* Without a job: as it was written. */
    d = json_pack("{s:s, s:s}", "method", "output_bucket", "status", "failed");
    s = transcribe_delivery_state(app, d);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "failed");
    json_decref(s);
    json_decref(d);
}

/* Submits rq with a staged input of size bytes; returns the refusal. */
static struct silo_refusal refused(struct fixture *fx, struct transcribe_request *rq, size_t size)
{
    struct silo_refusal refusal = {0};
    json_t *payload = NULL;
    int64_t job = 0;
    char *input = calloc(1, size + 1);
    memset(input, 'a', size);
    const char *key = arena_printf(fx->a, TRANSCRIBE_PREFIX "%ld/input", (long)time_now_ms());
    fixture_put(&fx->f, key, input, NULL);
    free(input);
    rq->owner = "carol";
    rq->input_key = key;
    rq->result_key = TRANSCRIBE_PREFIX "r/result.json";
    rq->size = size;
    rq->filename = "a.wav";
    rq->content_type = "audio/wav";
    assert_int_equal(transcribe_submit(&fx->f.app, rq, &payload, &job, &refusal), SILO_EINVAL);
    assert_null(payload);
    assert_false(fixture_exists(&fx->f, key)); /* a refused request leaves no upload */
    return refusal;
}

static void requests_are_checked_whole(void **state)
{
    struct fixture *fx = *state;
    struct transcribe_request rq = {0};
    struct silo_refusal r = refused(fx, &rq, 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.param, "file");

    rq = (struct transcribe_request){.response_format = "docx"};
    r = refused(fx, &rq, 10);
    assert_string_equal(r.param, "response_format");

    rq = (struct transcribe_request){
        .response_format = "json", .granularity_count = 1, .granularities = {"word"}};
    r = refused(fx, &rq, 10);
    assert_string_equal(r.param, "timestamp_granularities");

    rq = (struct transcribe_request){
        .response_format = "verbose_json", .granularity_count = 1, .granularities = {"syllable"}};
    r = refused(fx, &rq, 10);
    assert_string_equal(r.param, "timestamp_granularities");

    rq = (struct transcribe_request){.temperature = "1.5"};
    r = refused(fx, &rq, 10);
    assert_string_equal(r.param, "temperature");

    rq = (struct transcribe_request){.async = "maybe"};
    r = refused(fx, &rq, 10);
    assert_string_equal(r.param, "async");

    rq = (struct transcribe_request){.upload_url = "http://127.0.0.1:9/x"};
    r = refused(fx, &rq, 10);
    assert_string_equal(r.param, "upload_presigned_url");
    assert_string_equal(r.code, "url_not_allowed");

    rq = (struct transcribe_request){.callback_url = "file:///etc/passwd"};
    r = refused(fx, &rq, 10);
    assert_string_equal(r.code, "invalid_url");

    rq = (struct transcribe_request){.stored_output = "true"}; /* the r2 store: not configured */
    r = refused(fx, &rq, 10);
    assert_string_equal(r.code, "store_not_configured");

    rq = (struct transcribe_request){.output_bucket = "no-such-bucket"};
    r = refused(fx, &rq, 10);
    assert_string_equal(r.code, "bucket_not_found");

    /* No file at all. */
    struct silo_refusal refusal = {0};
    json_t *payload = NULL;
    int64_t job = 0;
    rq = (struct transcribe_request){.owner = "carol"};
    assert_int_equal(transcribe_submit(&fx->f.app, &rq, &payload, &job, &refusal), SILO_EINVAL);
    assert_string_equal(refusal.param, "file");

    /* Models without an engine: whisper-1 only. */
    assert_true(transcribe_model_known(&fx->f.app, "whisper-1"));
    assert_false(transcribe_model_known(&fx->f.app, "gpt-4o-transcribe"));
    json_t *models = transcribe_models(&fx->f.app);
    assert_int_equal(json_array_size(models), 1);
    json_decref(models);
}

/* ---- with the engine ---- */

static bool put_clip(struct fixture *fx, const char *key)
{
    FILE *fp = fopen(CLIP, "rb");
    if (!fp)
        return false;
    struct buf b;
    buf_init(&b, 64 << 20);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        assert_int_equal(buf_append(&b, chunk, n), 0);
    fclose(fp);
    assert_int_equal(
        store_put_bytes(fixture_store(&fx->f), fixture_bucket(&fx->f), key, b.data, b.len, NULL, NULL), 0);
    buf_free(&b);
    return true;
}

static int wait_for_kind(void *arg, const struct job *j)
{
    struct job *out = arg;
    if (strcmp(j->kind, RECORDINGS_TRANSCRIBE_JOB) == 0 && !out->kind) {
        out->kind = strdup(j->kind);
        out->state = j->state;
        out->result = j->result ? strdup(j->result) : NULL;
    }
    return 0;
}

static void a_whole_transcription(void **state)
{
    struct fixture *fx = *state;
    struct app *app = &fx->f.app;
    if (access(CLIP, R_OK) != 0)
        skip();
    assert_int_equal(transcribe_start(app), 0);
    assert_non_null(transcribe_engine());
    assert_true(jobs_registered(RECORDINGS_TRANSCRIBE_JOB));
    struct jobs_pool *pool = NULL;
    assert_int_equal(jobs_workers_start(app->db, 30000, 2, app, &pool), 0);

    /* A request delivered into the default bucket, waited for. */
    const char *input = TRANSCRIBE_PREFIX "clip/input";
    assert_true(put_clip(fx, input));
    struct store_object_info info = {0};
    assert_int_equal(store_head(fixture_store(&fx->f), fixture_bucket(&fx->f), input, &info), 0);
    struct transcribe_request rq = {.owner = "dana",
                                    .input_key = input,
                                    .result_key = TRANSCRIBE_PREFIX "clip/result.json",
                                    .size = info.size,
                                    .filename = "clip.wav",
                                    .content_type = "audio/wav",
                                    .response_format = "text",
                                    .output_bucket = "media",
                                    .language = "en"};
    store_object_info_clear(&info);
    struct silo_refusal refusal = {0};
    json_t *payload = NULL, *outcome = NULL;
    int64_t job_id = 0;
    int rc = transcribe_submit(app, &rq, &payload, &job_id, &refusal);
    if (rc)
        fail_msg("refused: %d %s", refusal.status, refusal.message);
    struct job j = {0};
    assert_int_equal(transcribe_wait(app, job_id, time_monotonic_ms() + 120000, &outcome, &j), 0);
    assert_string_equal(json_string_value(json_object_get(outcome, "status")), "completed");
    assert_false(fixture_exists(&fx->f, input)); /* the job took the upload */
    json_t *delivery = transcribe_delivery_state(app, json_object_get(outcome, "delivery"));
    assert_string_equal(json_string_value(json_object_get(delivery, "status")), "delivered");
    const char *key = json_string_value(json_object_get(delivery, "key"));
    char id[TRANSCRIBE_ID_MAX], expected[128];
    transcribe_id(job_id, json_string_value(json_object_get(payload, "token")), id);
    snprintf(expected, sizeof expected, TRANSCRIBE_OUTPUT_ROOT "dana/%s.txt", id);
    assert_string_equal(key, expected);
    assert_true(fixture_exists(&fx->f, expected));
    json_decref(delivery);
    /* The outcome is published to waiters before the worker records it:
     * the job reads done a moment later. */
    int64_t settle = time_monotonic_ms() + 30000;
    do {
        jobs_clear(&j);
        assert_int_equal(jobs_get(app->db, job_id, &j), 0);
        if (j.state == JOBS_DONE)
            break;
        usleep(10000);
    } while (time_monotonic_ms() < settle);
    json_t *doc = transcribe_describe(app, &j, true);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "completed");
    assert_true(strlen(json_string_value(json_object_get(doc, "result"))) > 5);
    json_decref(doc);
    jobs_clear(&j);
    json_decref(payload);
    json_decref(outcome);

    /* A recording saved without a transcript gets one, through recordings/. */
    const char *staged = OBJECTS_STAGING_PREFIX "clip";
    assert_true(put_clip(fx, staged));
    assert_int_equal(store_head(fixture_store(&fx->f), fixture_bucket(&fx->f), staged, &info), 0);
    struct recordings_draft d = {.session_id = "read",
                                 .audio = {staged, info.size},
                                 .audio_filename = "clip.wav",
                                 .audio_declared_type = "audio/wav",
                                 .audio_sniffed_type = "audio/x-wav"};
    store_object_info_clear(&info);
    struct recordings_saved saved;
    memset(&refusal, 0, sizeof refusal);
    rc = recordings_save(app, "dana", &d, fx->a, &saved, &refusal);
    if (rc)
        fail_msg("save refused: %d %s", refusal.status, refusal.message);
    recordings_saved_clear(&saved);
    int64_t deadline = time_monotonic_ms() + 120000;
    struct job seen = {0};
    while (time_monotonic_ms() < deadline) {
        jobs_clear(&seen);
        assert_int_equal(jobs_list(app->db, NULL, 0, 100, wait_for_kind, &seen), 0);
        if (seen.kind && seen.state == JOBS_DONE)
            break;
        usleep(50000);
    }
    assert_int_equal(seen.state, JOBS_DONE);
    assert_non_null(strstr(seen.result, "\"transcribed\""));
    jobs_clear(&seen);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(store_get_bytes(fixture_store(&fx->f), fixture_bucket(&fx->f),
                                     "user_recordings/dana/read/transcript.txt", 1 << 20, &text, &len),
                     0);
    assert_true(len > 5);
    free(text);
    struct db_recording row;
    assert_int_equal(db_recording_get(app->db, "dana", "read", &row), 0);
    assert_string_equal(row.transcript_key, "user_recordings/dana/read/transcript.txt");
    db_recording_clear(&row);
    assert_int_equal(jobs_workers_stop(pool, 30000), 0);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(ids),
        cmocka_unit_test(acceptable_files),
        cmocka_unit_test(payload_views),
    };
    const struct CMUnitTest queue[] = {
        cmocka_unit_test_setup_teardown(finding_and_describing, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(failures_are_described, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(delivery_state_follows_its_job, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(requests_are_checked_whole, fixture_setup, fixture_teardown),
    };
    const struct CMUnitTest engine[] = {
        cmocka_unit_test_setup_teardown(a_whole_transcription, fixture_setup, fixture_teardown),
    };
    int failed = cmocka_run_group_tests_name("transcribe ids and views", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("transcribe queue", queue, NULL, NULL);
    failed += cmocka_run_group_tests_name("transcribe engine", engine, NULL, NULL);
    return failed;
}
