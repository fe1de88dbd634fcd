/* test_recordings.c: recordings/recordings.h, seed 001's session model,
 * on a real instance (fs store + SQLite in a temporary directory): the
 * values of session_metadata.json, saving (planning, claiming, replacing,
 * refusals that leave nothing), listing pages, deleting, attaching a
 * transcript from the document in hand, handing empty transcripts over,
 * reindexing, pruning, the retention job run by a real worker pool, and
 * the user settings. */
#include "app_fixture.h"

#include <math.h>
#include <unistd.h>

#include "db/db.h"
#include "jobs/jobs.h"
#include "recordings/recordings.h"
#include "util/arena.h"
#include "util/timeutil.h"

/* ---- values ---- */

static void dates_durations_tags(void **state)
{
    (void)state;
    int64_t ms = 0;
    json_t *v = json_string("2025-11-21T19:30:00.123Z");
    assert_int_equal(recordings_date_ms(v, &ms), 0);
    assert_int_equal(ms, 1763753400123LL);
    json_decref(v);
    v = json_string("2025-11-21 20:30:00+01:00");
    assert_int_equal(recordings_date_ms(v, &ms), 0);
    assert_int_equal(ms, 1763753400000LL);
    json_decref(v);
    v = json_string("2025-11-21T19:30:00.5-0030");
    assert_int_equal(recordings_date_ms(v, &ms), 0);
    assert_int_equal(ms, 1763753400500LL + 1800000LL);
    json_decref(v);
    v = json_integer(1763753400); /* seconds */
    assert_int_equal(recordings_date_ms(v, &ms), 0);
    assert_int_equal(ms, 1763753400000LL);
    json_decref(v);
    v = json_integer(1763753400123LL); /* milliseconds */
    assert_int_equal(recordings_date_ms(v, &ms), 0);
    assert_int_equal(ms, 1763753400123LL);
    json_decref(v);
    static const char *const bad_dates[] = {"yesterday", "2025-11-21", "2025-11-21T19:30:00.",
                                            "2025-11-21T19:30:00Zx"};
    for (size_t i = 0; i < sizeof bad_dates / sizeof *bad_dates; i++) {
        v = json_string(bad_dates[i]);
        assert_int_equal(recordings_date_ms(v, &ms), SILO_EINVAL);
        json_decref(v);
    }
    v = json_true();
    assert_int_equal(recordings_date_ms(v, &ms), SILO_EINVAL);
    json_decref(v);

    double d = 0;
    assert_int_equal(recordings_parse_duration("2.5", &d), 0);
    assert_true(fabs(d - 2.5) < 1e-9);
    assert_int_equal(recordings_parse_duration("-1", &d), SILO_EINVAL);
    assert_int_equal(recordings_parse_duration("nan", &d), SILO_EINVAL);
    assert_int_equal(recordings_parse_duration("1e8", &d), SILO_EINVAL);
    assert_int_equal(recordings_parse_duration("3s", &d), SILO_EINVAL);

    json_t *tags = recordings_parse_tags(" work , standup,,  ");
    assert_int_equal(json_array_size(tags), 2);
    assert_string_equal(json_string_value(json_array_get(tags, 1)), "standup");
    json_decref(tags);
    tags = recordings_parse_tags("[\"a\", \"b c\"]");
    assert_int_equal(json_array_size(tags), 2);
    json_decref(tags);
    assert_null(recordings_parse_tags("[not json"));
}

static void media_types_and_extensions(void **state)
{
    (void)state;
    char ext[12];
    assert_true(recordings_audio_type_valid("audio/x-wav"));
    assert_true(recordings_audio_type_valid("VIDEO/webm"));
    assert_false(recordings_audio_type_valid("text/plain"));
    recordings_audio_extension("audio/x-wav", "take.WAV", ext);
    assert_string_equal(ext, "wav");
    recordings_audio_extension("audio/webm", "voice.weba", ext); /* the client's name for the same type */
    assert_string_equal(ext, "weba");
    recordings_audio_extension("audio/mpeg", "voice.txt", ext); /* not a name of that type */
    assert_string_equal(ext, "mp3");
    recordings_audio_extension("audio/x-newcodec", "", ext); /* unlisted: its subtype */
    assert_string_equal(ext, "newcodec");
    recordings_audio_extension("audio/we+ird", "", ext);
    assert_string_equal(ext, "bin");
    assert_string_equal(recordings_type_for_extension("user_recordings/u/s/audio.m4a"), "audio/x-m4a");
    assert_null(recordings_type_for_extension("user_recordings/u/s/audio"));
}

static void rows_from_foreign_documents(void **state)
{
    (void)state;
    json_t *doc = json_pack("{s:s, s:I, s:s, s:s, s:[s, i, s], s:s, s:s}", "name", "Standup", "createdAt",
                            (json_int_t)1763753400123LL, "audio_s3_key", "user_recordings/u/s/rec.ogg",
                            "notes", "first", "tags", "a", 5, "b", "duration", "2.25", "tool", "theirs");
    struct recordings_folder folder = {
        .items = {{"user_recordings/u/s/rec.ogg", 1234}, {"user_recordings/u/s/transcript.txt", 5}},
        .count = 2,
        .metadata_modified = 1000};
    struct db_recording row;
    assert_int_equal(recordings_row_from_metadata(doc, "u", "s", &folder, &row), 0);
    assert_string_equal(row.display_name, "Standup");
    assert_int_equal(row.created_ms, 1763753400123LL);
    assert_string_equal(row.audio_key, "user_recordings/u/s/rec.ogg");
    assert_int_equal(row.size, 1234);
    assert_string_equal(row.audio_content_type, "audio/ogg");
    assert_string_equal(row.transcript_key, "user_recordings/u/s/transcript.txt");
    assert_int_equal(row.duration_us, 2250000);
    assert_string_equal(row.tags, "[\"a\",\"b\"]");
    assert_string_equal(row.notes, "first");
    assert_non_null(strstr(row.metadata, "\"tool\":\"theirs\""));
    db_recording_clear(&row);
    json_decref(doc);
    /* No date at all: the metadata file's time; no name: the session id. */
    doc = json_object();
    assert_int_equal(recordings_row_from_metadata(doc, "u", "s2", &folder, &row), 0);
    assert_int_equal(row.created_ms, 1000000);
    assert_string_equal(row.display_name, "s2");
    assert_int_equal(row.duration_us, -1);
    db_recording_clear(&row);
    json_decref(doc);
}

/* ---- on an instance ---- */

static int setup_retention(void **state)
{
    static const char *const extra[] = {"--recordings-retention-days", "30", "--recordings-window-days", "0"};
    return fixture_setup_with(state, extra, 4);
}

/* One second of 16 kHz mono silence as a WAV file. */
static void wav(struct buf *out)
{
    const uint32_t rate = 16000, bytes = rate * 2;
    unsigned char h[44] = {'R', 'I', 'F', 'F', 0, 0, 0,  0, 'W', 'A', 'V', 'E', 'f', 'm',
                           't', ' ', 16,  0,   0, 0, 1,  0, 1,   0,   0,   0,   0,   0,
                           0,   0,   0,   0,   2, 0, 16, 0, 'd', 'a', 't', 'a'};
    uint32_t riff = 36 + bytes, byte_rate = rate * 2;
    memcpy(h + 4, &riff, 4);
    memcpy(h + 24, &rate, 4);
    memcpy(h + 28, &byte_rate, 4);
    memcpy(h + 40, &bytes, 4);
    buf_init(out, 1 << 20);
    assert_int_equal(buf_append(out, h, sizeof h), 0);
    char *zeros = calloc(1, bytes);
    assert_int_equal(buf_append(out, zeros, bytes), 0);
    free(zeros);
}

/* Stages bytes under a staging key, as the route's form does. */
static const char *stage(struct fixture *fx, const void *data, size_t len, const char *name)
{
    const char *key = arena_printf(fx->a, OBJECTS_STAGING_PREFIX "%s-%ld", name, (long)time_now_ms());
    assert_int_equal(
        store_put_bytes(fixture_store(&fx->f), fixture_bucket(&fx->f), key, data, len, NULL, NULL), 0);
    return key;
}

static void draft_with_audio(struct fixture *fx, struct recordings_draft *d, const char *session_id)
{
    struct buf audio;
    wav(&audio);
    memset(d, 0, sizeof *d);
    d->session_id = session_id;
    d->audio = (struct recordings_part){stage(fx, audio.data, audio.len, "audio"), audio.len};
    d->audio_filename = "take.wav";
    d->audio_declared_type = "audio/wav";
    d->audio_sniffed_type = "audio/x-wav";
    buf_free(&audio);
}

static void save_ok(struct fixture *fx, const char *caller, struct recordings_draft *d,
                    struct recordings_saved *out)
{
    struct silo_refusal refusal = {0};
    int rc = recordings_save(&fx->f.app, caller, d, fx->a, out, &refusal);
    if (rc)
        fail_msg("save refused (%d): %s", refusal.status, refusal.message);
}

static char *read_object(struct fixture *fx, const char *key)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(
        store_get_bytes(fixture_store(&fx->f), fixture_bucket(&fx->f), key, 1 << 20, &text, &len), 0);
    return text;
}

static void saving_a_session(void **state)
{
    struct fixture *fx = *state;
    struct recordings_draft d;
    struct recordings_saved saved;
    draft_with_audio(fx, &d, "s1");
    const char *transcript = "hello there";
    d.transcript =
        (struct recordings_part){stage(fx, transcript, strlen(transcript), "t"), strlen(transcript)};
    d.display_name = "Standup";
    d.tags = json_pack("[s]", "work");
    d.metadata = json_pack("{s:s, s:s}", "language", "en", "session_id", "ignored-when-the-form-says");
    save_ok(fx, "alice", &d, &saved);
    assert_false(saved.replaced);
    assert_int_equal(fixture_count(&fx->f, "user_recordings/alice/s1/"), 3);
    assert_int_equal(fixture_count(&fx->f, OBJECTS_STAGING_PREFIX), 0);
    json_t *doc = saved.doc;
    assert_string_equal(json_string_value(json_object_get(doc, "audio_key")),
                        "user_recordings/alice/s1/audio.wav");
    assert_string_equal(json_string_value(json_object_get(doc, "duration_source")), "measured");
    assert_true(fabs(json_number_value(json_object_get(doc, "duration")) - 1.0) < 0.01);
    assert_int_equal(json_integer_value(json_object_get(doc, "transcript_size")), 11);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "metadata"), "language")),
                        "en");
    assert_string_equal(saved.row.display_name, "Standup");
    char *text = read_object(fx, "user_recordings/alice/s1/transcript.txt");
    assert_string_equal(text, "hello there");
    free(text);
    struct db_recording row;
    assert_int_equal(db_recording_get(fx->f.app.db, "alice", "s1", &row), 0);
    assert_string_equal(row.audio_content_type, "audio/wav");
    assert_int_equal(row.duration_us, 1000000);
    db_recording_clear(&row);
    struct db_object obj;
    assert_int_equal(
        db_object_get(fx->f.app.db, fixture_bucket(&fx->f), "user_recordings/alice/s1/audio.wav", &obj), 0);
    assert_string_equal(obj.owner, "alice");
    db_object_clear(&obj);
    recordings_saved_clear(&saved);
    json_decref(d.tags);
    json_decref(d.metadata);

    /* The same id again: 409, and the staged audio is gone. */
    struct silo_refusal refusal = {0};
    draft_with_audio(fx, &d, "s1");
    assert_int_not_equal(recordings_save(&fx->f.app, "alice", &d, fx->a, &saved, &refusal), 0);
    assert_int_equal(refusal.status, 409);
    assert_int_equal(fixture_count(&fx->f, OBJECTS_STAGING_PREFIX), 0);

    /* replace: the session is rewritten and what it no longer has goes. */
    fixture_put(&fx->f, "user_recordings/alice/s1/audio.mp3", "an older take", NULL);
    draft_with_audio(fx, &d, "s1");
    d.replace = true;
    d.have_duration = true;
    d.duration = 7.5;
    save_ok(fx, "alice", &d, &saved);
    assert_true(saved.replaced);
    assert_int_equal(fixture_count(&fx->f, "user_recordings/alice/s1/"), 3);
    assert_false(fixture_exists(&fx->f, "user_recordings/alice/s1/audio.mp3"));
    assert_string_equal(json_string_value(json_object_get(saved.doc, "duration_source")), "client");
    assert_int_equal(json_integer_value(json_object_get(saved.doc, "transcript_size")), 0);
    recordings_saved_clear(&saved);

    /* No id: a generated one (unix milliseconds). */
    draft_with_audio(fx, &d, NULL);
    save_ok(fx, "alice", &d, &saved);
    assert_true(strtoll(saved.row.session_id, NULL, 10) > 1700000000000LL);
    recordings_saved_clear(&saved);
}

static void refusals_leave_nothing(void **state)
{
    struct fixture *fx = *state;
    struct recordings_draft d;
    struct recordings_saved saved;
    static const struct {
        const char *metadata;
        const char *user_id;
        int status;
    } cases[] = {
        {"{\"user_id\": \"mallory\"}", NULL, 400},
        {"{\"tags\": [1, 2]}", NULL, 400},
        {"{\"display_name\": 5}", NULL, 400},
        {"{\"notes\": {}}", NULL, 400},
        {"{\"duration\": -3}", NULL, 400},
        {"{\"session_id\": \"a/b\"}", NULL, 400},
        {"{}", "bad user", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct silo_refusal refusal = {0};
        draft_with_audio(fx, &d, NULL);
        d.metadata = json_loads(cases[i].metadata, 0, NULL);
        d.user_id = cases[i].user_id;
        assert_int_not_equal(recordings_save(&fx->f.app, "bob", &d, fx->a, &saved, &refusal), 0);
        if (refusal.status != cases[i].status)
            fail_msg("%s: %d %s", cases[i].metadata, refusal.status, refusal.message);
        json_decref(d.metadata);
    }
    assert_int_equal(fixture_count(&fx->f, ""), 0);
}

static void listing_and_deleting(void **state)
{
    struct fixture *fx = *state;
    struct recordings_draft d;
    struct recordings_saved saved;
    const char *ids[] = {"one", "two", "three"};
    for (size_t i = 0; i < 3; i++) {
        draft_with_audio(fx, &d, ids[i]);
        save_ok(fx, "carol", &d, &saved);
        recordings_saved_clear(&saved);
        usleep(2000); /* distinct creation times, newest last */
    }
    json_t *items = NULL;
    char *next = NULL;
    assert_int_equal(recordings_list(&fx->f.app, "carol", 2, NULL, &items, &next), 0);
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "session_id")), "three");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(items, 0), "audio_url")),
                           "X-Amz-Signature="));
    assert_non_null(next);
    json_decref(items);
    char *cursor = next;
    assert_int_equal(recordings_list(&fx->f.app, "carol", 2, cursor, &items, &next), 0);
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "session_id")), "one");
    assert_null(next);
    json_decref(items);
    free(cursor);
    assert_int_equal(recordings_list(&fx->f.app, "carol", 2, "garbage", &items, &next), SILO_EINVAL);

    uint64_t deleted = 0;
    bool found = false;
    assert_int_equal(recordings_delete(&fx->f.app, "carol", "two", &deleted, &found), 0);
    assert_true(found);
    assert_int_equal(deleted, 3);
    assert_int_equal(fixture_count(&fx->f, "user_recordings/carol/two/"), 0);
    struct db_recording row;
    assert_int_equal(db_recording_get(fx->f.app.db, "carol", "two", &row), SILO_ENOTFOUND);
    assert_int_equal(recordings_delete(&fx->f.app, "carol", "two", &deleted, &found), 0);
    assert_false(found);
}

static int no_op(struct jobs_task *task)
{
    (void)task;
    return 0;
}

static int count_kind(void *arg, const struct job *j)
{
    if (strcmp(j->kind, ((const char **)arg)[0]) == 0)
        ((const char **)arg)[1]++;
    return 0;
}

static int jobs_of(struct fixture *fx, const char *kind)
{
    const char *arg[2] = {kind, NULL};
    assert_int_equal(jobs_list(fx->f.app.db, NULL, 0, 1000, count_kind, arg), 0);
    return (int)(intptr_t)arg[1];
}

static void transcripts_attach_to_the_session_in_hand(void **state)
{
    struct fixture *fx = *state;
    struct recordings_draft d;
    struct recordings_saved saved;
    /* Nobody transcribes in this process: nothing is handed over. */
    draft_with_audio(fx, &d, "quiet");
    save_ok(fx, "dave", &d, &saved);
    recordings_saved_clear(&saved);
    assert_int_equal(jobs_of(fx, RECORDINGS_TRANSCRIBE_JOB), 0);
    /* A transcriber registered: a save with an empty transcript is handed over, once. */
    assert_int_equal(jobs_register(RECORDINGS_TRANSCRIBE_JOB, no_op, NULL), 0);
    draft_with_audio(fx, &d, "talk");
    save_ok(fx, "dave", &d, &saved);
    assert_int_equal(jobs_unregister(RECORDINGS_TRANSCRIBE_JOB), 0);
    assert_int_equal(jobs_of(fx, RECORDINGS_TRANSCRIBE_JOB), 1);

    /* The job's payload names the session as saved. */
    char payload[512];
    snprintf(payload, sizeof payload,
             "{\"user_id\":\"dave\",\"session_id\":\"talk\",\"audio_key\":\"%s\",\"creation_date\":\"%s\"}",
             saved.row.audio_key, json_string_value(json_object_get(saved.doc, "creation_date")));
    struct recordings_target t;
    json_t *holder = NULL;
    assert_int_equal(recordings_target_parse(payload, &t, &holder), 0);
    assert_int_equal(recordings_transcript_wanted(&fx->f.app, &t), 0);
    uint64_t size = 0;
    assert_int_equal(recordings_attach_transcript(&fx->f.app, &t, "good morning", &size), 0);
    assert_int_equal(size, 12);
    char *text = read_object(fx, "user_recordings/dave/talk/transcript.txt");
    assert_string_equal(text, "good morning");
    free(text);
    text = read_object(fx, "user_recordings/dave/talk/session_metadata.json");
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    assert_int_equal(json_integer_value(json_object_get(doc, "transcript_size")), 12);
    assert_string_equal(json_string_value(json_object_get(doc, "display_name")), "talk");
    json_decref(doc);
    struct db_recording row;
    assert_int_equal(db_recording_get(fx->f.app.db, "dave", "talk", &row), 0);
    assert_string_equal(row.transcript_key, "user_recordings/dave/talk/transcript.txt");
    assert_string_equal(row.audio_key, saved.row.audio_key);
    assert_int_equal(row.size, saved.row.size);
    db_recording_clear(&row);
    /* It has one now: no second transcript. */
    assert_int_equal(recordings_transcript_wanted(&fx->f.app, &t), SILO_ECONFLICT);
    assert_int_equal(recordings_attach_transcript(&fx->f.app, &t, "again", NULL), SILO_ECONFLICT);
    json_decref(holder);
    /* A session saved again meanwhile (another creation date) is not this one. */
    t = (struct recordings_target){"dave", "quiet", "user_recordings/dave/quiet/audio.wav",
                                   "1999-01-01T00:00:00.000Z"};
    assert_int_equal(recordings_attach_transcript(&fx->f.app, &t, "late", NULL), SILO_ECONFLICT);
    t.session_id = "gone";
    assert_int_equal(recordings_transcript_wanted(&fx->f.app, &t), SILO_ECONFLICT);
    assert_int_equal(recordings_target_parse("{\"user_id\":\"a/b\"}", &t, &holder), SILO_EINVAL);
    recordings_saved_clear(&saved);
}

/* A session another tool wrote straight into the bucket, created days ago. */
static void foreign_session(struct fixture *fx, const char *user, const char *session, int days_ago)
{
    char key[256], doc[256];
    snprintf(key, sizeof key, "user_recordings/%s/%s/audio.wav", user, session);
    fixture_put(&fx->f, key, "RIFF", NULL);
    snprintf(key, sizeof key, "user_recordings/%s/%s/session_metadata.json", user, session);
    snprintf(doc, sizeof doc, "{\"created_at\": %lld, \"title\": \"theirs\"}",
             (long long)(time_now_ms() - (int64_t)days_ago * 86400000LL));
    fixture_put(&fx->f, key, doc, "application/json");
}

static void reindex_and_prune(void **state)
{
    struct fixture *fx = *state;
    foreign_session(fx, "erin", "old", 40);
    foreign_session(fx, "erin", "new", 1);
    fixture_put(&fx->f, "user_recordings/erin/nometa/audio.wav", "RIFF", NULL);
    struct recordings_reindex_report report;
    assert_int_equal(recordings_reindex(&fx->f.app, NULL, &report), 0);
    assert_int_equal(report.sessions, 2);
    assert_int_equal(report.skipped, 1);
    assert_int_equal(report.objects, 5);
    struct db_recording row;
    assert_int_equal(db_recording_get(fx->f.app.db, "erin", "new", &row), 0);
    assert_string_equal(row.display_name, "theirs");
    db_recording_clear(&row);
    assert_int_equal(recordings_reindex(&fx->f.app, "elsewhere/", &report), SILO_EINVAL);

    /* Gone from the store: the row goes at the next reindex. */
    uint64_t n = 0;
    assert_int_equal(objects_delete_prefix(&fx->f.app, "user_recordings/erin/new/", &n), 0);
    assert_int_equal(recordings_reindex(&fx->f.app, "user_recordings/erin/", &report), 0);
    assert_int_equal(report.removed, 1);
    assert_int_equal(db_recording_get(fx->f.app.db, "erin", "new", &row), SILO_ENOTFOUND);

    /* Pruning takes what is older than asked, objects and row. */
    foreign_session(fx, "erin", "new", 1);
    assert_int_equal(recordings_reindex(&fx->f.app, NULL, &report), 0);
    uint64_t deleted = 0;
    assert_int_equal(recordings_prune(&fx->f.app, 30 * 86400000LL, NULL, NULL, &deleted), 0);
    assert_int_equal(deleted, 1);
    assert_int_equal(fixture_count(&fx->f, "user_recordings/erin/old/"), 0);
    assert_int_equal(db_recording_get(fx->f.app.db, "erin", "old", &row), SILO_ENOTFOUND);
    assert_int_equal(fixture_count(&fx->f, "user_recordings/erin/new/"), 2);
}

static bool always(void *arg)
{
    (void)arg;
    return true;
}

static void prune_stops_when_asked(void **state)
{
    struct fixture *fx = *state;
    foreign_session(fx, "fay", "old", 40);
    struct recordings_reindex_report report;
    assert_int_equal(recordings_reindex(&fx->f.app, NULL, &report), 0);
    uint64_t deleted = 9;
    assert_int_equal(recordings_prune(&fx->f.app, 30 * 86400000LL, always, NULL, &deleted), 0);
    assert_int_equal(deleted, 0);
    assert_int_equal(fixture_count(&fx->f, "user_recordings/fay/old/"), 2);
}

struct period_job {
    int64_t period, run_at_ms;
    int count;
    bool done;
};

static int find_retention(void *arg, const struct job *j)
{
    struct period_job *p = arg;
    if (strcmp(j->kind, RECORDINGS_RETENTION_JOB) != 0)
        return 0;
    json_t *doc = json_loads(j->payload, 0, NULL);
    int64_t period = json_integer_value(json_object_get(doc, "period"));
    json_decref(doc);
    p->count++;
    if (period > p->period) {
        p->period = period;
        p->run_at_ms = j->run_at_ms;
    }
    p->done |= j->state == JOBS_DONE;
    return 0;
}

/* The retention job, run by a real worker pool: once per period however
 * often it is started, it prunes, and it schedules the next period. */
static void retention_is_a_job_of_the_queue(void **state)
{
    struct fixture *fx = *state;
    struct app *app = &fx->f.app;
    foreign_session(fx, "gil", "ancient", 40);
    foreign_session(fx, "gil", "fresh", 2);
    struct recordings_reindex_report report;
    assert_int_equal(recordings_reindex(app, NULL, &report), 0);
    assert_int_equal(recordings_retention_start(app), 0);
    assert_int_equal(recordings_retention_start(app), 0); /* a second instance, or a restart */
    assert_int_equal(jobs_of(fx, RECORDINGS_RETENTION_JOB), 1);
    assert_true(jobs_registered(RECORDINGS_RETENTION_JOB));

    struct jobs_pool *pool = NULL;
    assert_int_equal(jobs_workers_start(app->db, 5000, 1, app, &pool), 0);
    int64_t deadline = time_monotonic_ms() + 30000;
    struct period_job p = {0};
    while (time_monotonic_ms() < deadline) {
        p = (struct period_job){0};
        assert_int_equal(jobs_list(app->db, NULL, 0, 1000, find_retention, &p), 0);
        if (p.done && p.count == 2)
            break;
        usleep(20000);
    }
    assert_int_equal(jobs_workers_stop(pool, 10000), 0);
    assert_true(p.done);
    assert_int_equal(p.count, 2); /* this period's, done, and the next one's */
    int64_t now_period = time_now() / RECORDINGS_RETENTION_PERIOD;
    assert_int_equal(p.period, now_period + 1);
    assert_int_equal(p.run_at_ms, (now_period + 1) * RECORDINGS_RETENTION_PERIOD * 1000LL);
    assert_int_equal(fixture_count(&fx->f, "user_recordings/gil/ancient/"), 0);
    assert_int_equal(fixture_count(&fx->f, "user_recordings/gil/fresh/"), 2);
    assert_int_equal(recordings_retention_start(app), 0); /* this period ran: nothing more */
    assert_int_equal(jobs_of(fx, RECORDINGS_RETENTION_JOB), 2);
    jobs_unregister(RECORDINGS_RETENTION_JOB);
}

static void retention_off_registers_nothing(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(recordings_retention_start(&fx->f.app), 0);
    assert_false(jobs_registered(RECORDINGS_RETENTION_JOB));
    assert_int_equal(jobs_of(fx, RECORDINGS_RETENTION_JOB), 0);
}

static void user_settings(void **state)
{
    struct fixture *fx = *state;
    json_t *settings = NULL;
    bool stored = true;
    assert_int_equal(recordings_settings_get(&fx->f.app, "hal", &settings, &stored), 0);
    assert_false(stored);
    assert_true(json_is_array(json_object_get(settings, "transcription_profiles")));
    json_decref(settings);

    struct silo_refusal refusal = {0};
    json_t *saved = NULL;
    json_t *body = json_pack("{s:[i]}", "custom_vocabulary", 5);
    assert_int_equal(recordings_settings_put(&fx->f.app, "hal", body, &saved, &refusal), 0);
    assert_int_equal(refusal.status, 400);
    assert_string_equal(refusal.param, "custom_vocabulary");
    assert_null(saved);
    json_decref(body);

    memset(&refusal, 0, sizeof refusal);
    body = json_pack("{s:s, s:{s:[s], s:s}}", "user_id", "hal", "settings", "macro_phrases", "brb", "theme",
                     "dark");
    assert_int_equal(recordings_settings_put(&fx->f.app, "hal", body, &saved, &refusal), 0);
    assert_int_equal(refusal.status, 0);
    assert_null(json_object_get(saved, "user_id"));
    json_decref(saved);
    json_decref(body);
    assert_int_equal(recordings_settings_get(&fx->f.app, "hal", &settings, &stored), 0);
    assert_true(stored);
    assert_string_equal(json_string_value(json_object_get(settings, "theme")), "dark");
    assert_true(json_is_array(json_object_get(settings, "custom_vocabulary"))); /* filled from the defaults */
    json_decref(settings);
    struct db_object obj;
    assert_int_equal(
        db_object_get(fx->f.app.db, fixture_bucket(&fx->f), "user_settings/hal/settings.json", &obj), 0);
    db_object_clear(&obj);

    /* Larger than allowed: 413, nothing written. */
    json_t *big = json_object();
    char *filler = calloc(1, API_SETTINGS_MAX + 1);
    memset(filler, 'x', API_SETTINGS_MAX);
    json_object_set_new(big, "notes", json_string(filler));
    free(filler);
    memset(&refusal, 0, sizeof refusal);
    assert_int_equal(recordings_settings_put(&fx->f.app, "ivy", big, &saved, &refusal), 0);
    assert_int_equal(refusal.status, 413);
    assert_false(fixture_exists(&fx->f, "user_settings/ivy/settings.json"));
    json_decref(big);
}

int main(void)
{
    const struct CMUnitTest values[] = {
        cmocka_unit_test(dates_durations_tags),
        cmocka_unit_test(media_types_and_extensions),
        cmocka_unit_test(rows_from_foreign_documents),
    };
    const struct CMUnitTest sessions[] = {
        cmocka_unit_test_setup_teardown(saving_a_session, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(refusals_leave_nothing, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(listing_and_deleting, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(transcripts_attach_to_the_session_in_hand, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(reindex_and_prune, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(prune_stops_when_asked, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(retention_off_registers_nothing, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(retention_is_a_job_of_the_queue, setup_retention, fixture_teardown),
        cmocka_unit_test_setup_teardown(user_settings, fixture_setup, fixture_teardown),
    };
    int failed = cmocka_run_group_tests_name("recordings values", values, NULL, NULL);
    failed += cmocka_run_group_tests_name("recordings sessions", sessions, NULL, NULL);
    return failed;
}
