/* queries.c: every SQL statement silo runs, and the schema migrations.
 *
 * One row per named query (enum db_query in db.h). Parameters are numbered
 * ?1, ?2, ...; the PostgreSQL driver turns them into $1, $2, so a pg variant
 * is needed only where the dialects really differ. Keys compare
 * byte-wise: SQLite's BINARY collation does so by default, PostgreSQL needs
 * COLLATE "C" on the key columns. */
#include "db/db.h"

#define OBJECT_COLUMNS "bucket, key, owner, size, content_type, etag, metadata, created_at, updated_at"
#define RECORDING_COLUMNS                                                                                    \
    "user_id, session_id, created_ms, display_name, duration_us, audio_key, transcript_key, "                \
    "audio_content_type, size, tags, notes, metadata, indexed_ms"
#define RECORDING_PREFIX "('user_recordings/' || user_id || '/' || session_id || '/')"
#define JOB_COLUMNS                                                                                          \
    "id, kind, payload, idempotency_key, state, attempts, max_attempts, run_at_ms, lease_owner, "            \
    "lease_until_ms, last_error, result, created_at, updated_at"
/* The jobs a claim may take: queued and due, or running with an expired
 * lease (a running job's run_at_ms is its lease_until_ms), and not out of
 * attempts. SQLite is told to walk jobs_due in order: left alone, its
 * planner sorts every queued row instead. */
#define VIDEO_COLUMNS                                                                                        \
    "video_id, user_id, title, status, s3_key, poster_key, content_type, size, metadata, secret_key, "       \
    "source_url, source_hash, origin, error, bytes_received, bytes_total, created_ms, updated_ms"
#define JOB_CLAIMABLE                                                                                        \
    "state IN ('queued', 'running') AND run_at_ms <= ?2 AND (state = 'queued' OR attempts < max_attempts) "
#define JOB_KIND_IN_SQLITE(n)                                                                                \
    "(CAST(?" #n " AS TEXT) IS NULL OR instr(',' || ?" #n " || ',', ',' || kind || ',') > 0)"
#define JOB_KIND_IN_PG(n) "(CAST(?" #n " AS TEXT) IS NULL OR kind = ANY (string_to_array(?" #n ", ',')))"

/* One row per entry, laid out by hand as a table. */
/* clang-format off */
const struct db_query_text db_queries[Q_COUNT] = {
    [Q_OBJECT_UPSERT] = {"INSERT INTO objects (" OBJECT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) "
                         "ON CONFLICT (bucket, key) DO UPDATE SET owner = excluded.owner, size = excluded.size, "
                         "content_type = excluded.content_type, etag = excluded.etag, "
                         "metadata = excluded.metadata, updated_at = excluded.updated_at"},
    [Q_OBJECT_GET] = {"SELECT " OBJECT_COLUMNS " FROM objects WHERE bucket = ?1 AND key = ?2"},
    [Q_OBJECT_DELETE] = {"DELETE FROM objects WHERE bucket = ?1 AND key = ?2"},
    [Q_OBJECT_LIST_OWNER] = {"SELECT " OBJECT_COLUMNS " FROM objects WHERE bucket = ?1 AND owner = ?2 "
                             "AND key >= ?3 AND (CAST(?4 AS TEXT) IS NULL OR key < ?4) AND key > ?5 "
                             "ORDER BY key LIMIT ?6"},
    [Q_OBJECT_LIST_ALL] = {"SELECT " OBJECT_COLUMNS " FROM objects WHERE bucket = ?1 "
                           "AND key >= ?2 AND (CAST(?3 AS TEXT) IS NULL OR key < ?3) AND key > ?4 "
                           "ORDER BY key LIMIT ?5"},
    [Q_USER_UPSERT] = {"INSERT INTO users (sub, email, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) "
                       "ON CONFLICT (sub) DO UPDATE SET email = COALESCE(excluded.email, users.email), "
                       "updated_at = excluded.updated_at"},
    [Q_USER_GET] = {"SELECT sub, email, created_at FROM users WHERE sub = ?1"},
    [Q_USER_BY_EMAIL] = {"SELECT sub, email, created_at FROM users WHERE lower(email) = lower(?1) "
                         "ORDER BY updated_at DESC LIMIT 1"},
    [Q_APIKEY_INSERT] = {"INSERT INTO api_keys (id, name, hash, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"},
    [Q_APIKEY_BY_HASH] = {"SELECT id, name, role, created_at FROM api_keys WHERE hash = ?1 AND revoked_at IS NULL"},
    [Q_APIKEY_REVOKE] = {"UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL"},
    [Q_APIKEY_LIST] = {"SELECT id, name, role, created_at, revoked_at FROM api_keys ORDER BY created_at, id"},
    [Q_RECORDING_UPSERT] = {"INSERT INTO recordings (" RECORDING_COLUMNS ") "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
                            "ON CONFLICT (user_id, session_id) DO UPDATE SET created_ms = excluded.created_ms, "
                            "display_name = excluded.display_name, duration_us = excluded.duration_us, "
                            "audio_key = excluded.audio_key, transcript_key = excluded.transcript_key, "
                            "audio_content_type = excluded.audio_content_type, size = excluded.size, "
                            "tags = excluded.tags, notes = excluded.notes, metadata = excluded.metadata, "
                            "indexed_ms = excluded.indexed_ms"},
    [Q_RECORDING_GET] = {"SELECT " RECORDING_COLUMNS " FROM recordings WHERE user_id = ?1 AND session_id = ?2"},
    [Q_RECORDING_DELETE] = {"DELETE FROM recordings WHERE user_id = ?1 AND session_id = ?2"},
    /* The row-value comparison walks recordings_newest from the keyset
     * position down to since_ms: no offset, no sort. */
    [Q_RECORDING_LIST] = {"SELECT " RECORDING_COLUMNS " FROM recordings WHERE user_id = ?1 AND created_ms >= ?2 "
                          "AND (created_ms, session_id) < (?3, ?4) "
                          "ORDER BY created_ms DESC, session_id DESC LIMIT ?5"},
    [Q_RECORDING_OLDER] = {"SELECT " RECORDING_COLUMNS " FROM recordings WHERE created_ms < ?1 "
                           "ORDER BY created_ms LIMIT ?2"},
    [Q_RECORDING_UNSEEN] = {"DELETE FROM recordings WHERE indexed_ms < ?2 "
                            "AND substr(" RECORDING_PREFIX ", 1, length(CAST(?1 AS TEXT))) = ?1"},
    [Q_PING] = {"SELECT 1"},
    [Q_JOB_INSERT] = {"INSERT INTO jobs (kind, payload, idempotency_key, max_attempts, run_at_ms, created_at, "
                      "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) "
                      "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"},
    [Q_JOB_BY_KEY] = {"SELECT id FROM jobs WHERE idempotency_key = ?1"},
    [Q_JOB_GET] = {"SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1"},
    [Q_JOB_REAP] = {"UPDATE jobs SET state = CASE WHEN state = 'cancelling' THEN 'cancelled' ELSE 'dead' END, "
                    "last_error = CASE WHEN state = 'cancelling' THEN last_error "
                    "ELSE 'lease of ' || COALESCE(lease_owner, 'a worker') || ' expired on the last attempt' END, "
                    "lease_until_ms = NULL, updated_at = ?2 "
                    "WHERE state IN ('running', 'cancelling') AND run_at_ms <= ?1 "
                    "AND (state = 'cancelling' OR attempts >= max_attempts)"},
    [Q_JOB_CLAIM] = {"UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?1, "
                     "lease_until_ms = ?3, run_at_ms = ?3, updated_at = ?5 "
                     "WHERE id = (SELECT id FROM jobs INDEXED BY jobs_due WHERE " JOB_CLAIMABLE
                     "AND " JOB_KIND_IN_SQLITE(4) " ORDER BY run_at_ms, id LIMIT 1) RETURNING " JOB_COLUMNS,
                     /* SKIP LOCKED: concurrent claimers each lock a different row instead of queueing
                      * on the first; the row is re-checked against the WHERE once locked. */
                     "WITH next AS (SELECT id FROM jobs WHERE " JOB_CLAIMABLE "AND " JOB_KIND_IN_PG(4)
                     " ORDER BY run_at_ms, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
                     "UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, lease_owner = ?1, "
                     "lease_until_ms = ?3, run_at_ms = ?3, updated_at = ?5 FROM next WHERE jobs.id = next.id "
                     "RETURNING jobs.id, jobs.kind, jobs.payload, jobs.idempotency_key, jobs.state, "
                     "jobs.attempts, jobs.max_attempts, jobs.run_at_ms, jobs.lease_owner, jobs.lease_until_ms, "
                     "jobs.last_error, jobs.result, jobs.created_at, jobs.updated_at"},
    [Q_JOB_NEXT_DUE] = {"SELECT run_at_ms FROM jobs INDEXED BY jobs_due WHERE state IN ('queued', 'running') "
                        "AND (state = 'queued' OR attempts < max_attempts) AND " JOB_KIND_IN_SQLITE(1)
                        " ORDER BY run_at_ms, id LIMIT 1",
                        "SELECT run_at_ms FROM jobs WHERE state IN ('queued', 'running') "
                        "AND (state = 'queued' OR attempts < max_attempts) AND " JOB_KIND_IN_PG(1)
                        " ORDER BY run_at_ms, id LIMIT 1"},
    [Q_JOB_RENEW] = {"UPDATE jobs SET lease_until_ms = ?3, run_at_ms = ?3, updated_at = ?4 "
                     "WHERE id = ?1 AND lease_owner = ?2 AND state = 'running'"},
    [Q_JOB_COMPLETE] = {"UPDATE jobs SET state = 'done', result = ?3, lease_until_ms = NULL, updated_at = ?4 "
                        "WHERE id = ?1 AND lease_owner = ?2 AND state = 'running'"},
    [Q_JOB_FAIL] = {"UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, "
                    "last_error = ?3, run_at_ms = ?4, lease_until_ms = NULL, updated_at = ?5 "
                    "WHERE id = ?1 AND lease_owner = ?2 AND state = 'running' RETURNING state"},
    [Q_JOB_RELEASE] = {"UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_at_ms = ?3, "
                       "lease_until_ms = NULL, updated_at = ?4 "
                       "WHERE id = ?1 AND lease_owner = ?2 AND state = 'running'"},
    [Q_JOB_ACK_CANCEL] = {"UPDATE jobs SET state = 'cancelled', result = COALESCE(?3, result), "
                          "last_error = COALESCE(?4, last_error), lease_until_ms = NULL, updated_at = ?5 "
                          "WHERE id = ?1 AND lease_owner = ?2 AND state = 'cancelling'"},
    /* A running job whose lease already expired has no live worker to
     * tell: it is cancelled at once. */
    [Q_JOB_CANCEL] = {"UPDATE jobs SET state = CASE WHEN state = 'queued' OR run_at_ms <= ?2 THEN 'cancelled' "
                      "ELSE 'cancelling' END, "
                      "lease_until_ms = CASE WHEN state = 'queued' OR run_at_ms <= ?2 THEN NULL "
                      "ELSE lease_until_ms END, updated_at = ?3 "
                      "WHERE id = ?1 AND state IN ('queued', 'running') RETURNING state"},
    [Q_JOB_RETRY] = {"UPDATE jobs SET state = 'queued', attempts = 0, run_at_ms = ?2, lease_until_ms = NULL, "
                     "updated_at = ?3 WHERE id = ?1 AND state IN ('dead', 'cancelled')"},
    [Q_JOB_LIST] = {"SELECT " JOB_COLUMNS " FROM jobs WHERE (CAST(?1 AS TEXT) IS NULL OR state = ?1) "
                    "AND id < ?2 ORDER BY id DESC LIMIT ?3"},
    [Q_VIDEO_INSERT] = {"INSERT INTO videos (video_id, user_id, title, status, secret_key, source_url, source_hash, "
                        "origin, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) "
                        "ON CONFLICT DO NOTHING"},
    [Q_VIDEO_GET] = {"SELECT " VIDEO_COLUMNS " FROM videos WHERE video_id = ?1"},
    [Q_VIDEO_BY_SOURCE] = {"SELECT " VIDEO_COLUMNS " FROM videos WHERE user_id = ?1 AND source_hash = ?2"},
    /* Walks videos_newest from the keyset position: no offset, no sort. */
    [Q_VIDEO_LIST] = {"SELECT " VIDEO_COLUMNS " FROM videos WHERE user_id = ?1 AND (created_ms, video_id) < (?2, ?3) "
                      "ORDER BY created_ms DESC, video_id DESC LIMIT ?4"},
    [Q_VIDEO_COUNTS] = {"SELECT status, COUNT(*) FROM videos WHERE user_id = ?1 GROUP BY status"},
    [Q_VIDEO_SET_STATUS] = {"UPDATE videos SET status = ?2, metadata = ?3, error = ?4, updated_ms = ?5 "
                            "WHERE video_id = ?1 AND status = ?6 AND metadata = ?7"},
    [Q_VIDEO_SET_READY] = {"UPDATE videos SET status = 'ready', s3_key = ?2, content_type = ?3, size = ?4, "
                           "metadata = ?5, error = NULL, bytes_received = ?4, bytes_total = ?4, updated_ms = ?6, "
                           "title = COALESCE(CAST(?7 AS TEXT), title) WHERE video_id = ?1"},
    [Q_VIDEO_SET_FAILED] = {"UPDATE videos SET status = 'failed', error = ?2, updated_ms = ?3 "
                            "WHERE video_id = ?1 AND status = 'processing'"},
    [Q_VIDEO_RETRY] = {"UPDATE videos SET status = 'processing', error = NULL, bytes_received = 0, "
                       "bytes_total = NULL, updated_ms = ?2 WHERE video_id = ?1 AND status = 'failed'"},
    [Q_VIDEO_SET_SOURCE] = {"UPDATE videos SET source_url = ?2, source_hash = ?3, updated_ms = ?4 WHERE video_id = ?1"},
    [Q_VIDEO_SET_POSTER] = {"UPDATE videos SET poster_key = ?2, updated_ms = ?3 WHERE video_id = ?1 AND s3_key = ?4"},
    [Q_VIDEO_SET_PROGRESS] = {"UPDATE videos SET bytes_received = ?2, bytes_total = ?3, updated_ms = ?4 "
                              "WHERE video_id = ?1 AND status = 'processing'"},
    [Q_VIDEO_SET_KEY] = {"UPDATE videos SET secret_key = ?2, updated_ms = ?3 WHERE video_id = ?1"},
    [Q_VIDEO_DELETE] = {"DELETE FROM videos WHERE video_id = ?1"},
    [Q_USER_LIST] = {"SELECT sub, email, created_at, updated_at FROM users WHERE sub > ?1 ORDER BY sub LIMIT ?2"},
    [Q_LOGIN_CODE_INSERT] = {"INSERT INTO login_codes (hash, sub, email, role, expires_at, created_at) "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    [Q_LOGIN_CODE_TAKE] = {"DELETE FROM login_codes WHERE hash = ?1 RETURNING sub, email, role, expires_at"},
    [Q_LOGIN_CODE_PURGE] = {"DELETE FROM login_codes WHERE expires_at < ?1"},
    /* Transcriptions keep their caller in the payload's "owner". */
    [Q_JOB_LIST_WHERE] = {"SELECT " JOB_COLUMNS " FROM jobs WHERE (CAST(?1 AS TEXT) IS NULL OR state = ?1) "
                          "AND (CAST(?2 AS TEXT) IS NULL OR kind = ?2) "
                          "AND (CAST(?3 AS TEXT) IS NULL OR json_extract(payload, '$.owner') = ?3) "
                          "AND id < ?4 ORDER BY id DESC LIMIT ?5",
                          "SELECT " JOB_COLUMNS " FROM jobs WHERE (CAST(?1 AS TEXT) IS NULL OR state = ?1) "
                          "AND (CAST(?2 AS TEXT) IS NULL OR kind = ?2) "
                          "AND (CAST(?3 AS TEXT) IS NULL OR (payload::json ->> 'owner') = ?3) "
                          "AND id < ?4 ORDER BY id DESC LIMIT ?5"},
};
/* clang-format on */

/* One row per entry, laid out by hand as a table. */
/* clang-format off */
const struct db_migration db_migrations[] = {
    {1,
     "CREATE TABLE objects ("
     "  bucket TEXT NOT NULL, key TEXT NOT NULL, owner TEXT, size INTEGER NOT NULL,"
     "  content_type TEXT, etag TEXT, metadata TEXT NOT NULL DEFAULT '{}',"
     "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (bucket, key));"
     "CREATE INDEX objects_owner ON objects (bucket, owner, key);"
     "CREATE TABLE users ("
     "  sub TEXT PRIMARY KEY, email TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
     "CREATE INDEX users_email ON users (lower(email));"
     "CREATE TABLE api_keys ("
     "  id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,"
     "  created_at INTEGER NOT NULL, revoked_at INTEGER);"
     "CREATE TABLE jobs ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, payload TEXT NOT NULL,"
     "  idempotency_key TEXT UNIQUE, state TEXT NOT NULL DEFAULT 'queued',"
     "  attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL DEFAULT 5,"
     "  run_at INTEGER NOT NULL, lease_owner TEXT, lease_until INTEGER, last_error TEXT, result TEXT,"
     "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
     "CREATE INDEX jobs_ready ON jobs (state, run_at);",
     "CREATE TABLE objects ("
     "  bucket TEXT NOT NULL, key TEXT COLLATE \"C\" NOT NULL, owner TEXT, size BIGINT NOT NULL,"
     "  content_type TEXT, etag TEXT, metadata TEXT NOT NULL DEFAULT '{}',"
     "  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (bucket, key));"
     "CREATE INDEX objects_owner ON objects (bucket, owner, key);"
     "CREATE TABLE users ("
     "  sub TEXT PRIMARY KEY, email TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
     "CREATE INDEX users_email ON users (lower(email));"
     "CREATE TABLE api_keys ("
     "  id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,"
     "  created_at BIGINT NOT NULL, revoked_at BIGINT);"
     "CREATE TABLE jobs ("
     "  id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL,"
     "  idempotency_key TEXT UNIQUE, state TEXT NOT NULL DEFAULT 'queued',"
     "  attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL DEFAULT 5,"
     "  run_at BIGINT NOT NULL, lease_owner TEXT, lease_until BIGINT, last_error TEXT, result TEXT,"
     "  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
     "CREATE INDEX jobs_ready ON jobs (state, run_at);"},
    /* Seed 001's recordings index (api/recordings.c). */
    {2,
     "CREATE TABLE recordings ("
     "  user_id TEXT NOT NULL, session_id TEXT NOT NULL, created_ms INTEGER NOT NULL,"
     "  display_name TEXT NOT NULL, duration_us INTEGER, audio_key TEXT, transcript_key TEXT,"
     "  audio_content_type TEXT, size INTEGER NOT NULL DEFAULT 0, tags TEXT NOT NULL DEFAULT '[]',"
     "  notes TEXT, metadata TEXT NOT NULL DEFAULT '{}', indexed_ms INTEGER NOT NULL,"
     "  PRIMARY KEY (user_id, session_id));"
     "CREATE INDEX recordings_newest ON recordings (user_id, created_ms DESC, session_id DESC);"
     "CREATE INDEX recordings_created ON recordings (created_ms);",
     "CREATE TABLE recordings ("
     "  user_id TEXT COLLATE \"C\" NOT NULL, session_id TEXT COLLATE \"C\" NOT NULL,"
     "  created_ms BIGINT NOT NULL, display_name TEXT NOT NULL, duration_us BIGINT, audio_key TEXT,"
     "  transcript_key TEXT, audio_content_type TEXT, size BIGINT NOT NULL DEFAULT 0,"
     "  tags TEXT NOT NULL DEFAULT '[]', notes TEXT, metadata TEXT NOT NULL DEFAULT '{}',"
     "  indexed_ms BIGINT NOT NULL, PRIMARY KEY (user_id, session_id));"
     "CREATE INDEX recordings_newest ON recordings (user_id, created_ms DESC, session_id DESC);"
     "CREATE INDEX recordings_created ON recordings (created_ms);"},
    /* The job queue (src/jobs/jobs.c): schedule and lease times in
     * milliseconds, an index per access path: jobs_due for claims (partial:
     * only rows a claim may take), jobs_state for listing and for settling
     * expired leases. */
    {3,
     "ALTER TABLE jobs RENAME COLUMN run_at TO run_at_ms;"
     "ALTER TABLE jobs RENAME COLUMN lease_until TO lease_until_ms;"
     "UPDATE jobs SET run_at_ms = run_at_ms * 1000, lease_until_ms = lease_until_ms * 1000;"
     "DROP INDEX jobs_ready;"
     "CREATE INDEX jobs_state ON jobs (state, id);"
     "CREATE INDEX jobs_due ON jobs (run_at_ms, id) WHERE state IN ('queued', 'running');",
     NULL},
    /* Seed 004's videos (api/videos.c): listing walks videos_newest, the
     * gallery's counts read videos_status alone (it covers them); a user
     * imports a URL once (videos_source; NULL hashes never clash). */
    {4,
     "CREATE TABLE videos ("
     "  video_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, title TEXT NOT NULL, status TEXT NOT NULL,"
     "  s3_key TEXT, poster_key TEXT, content_type TEXT, size INTEGER NOT NULL DEFAULT 0,"
     "  metadata TEXT NOT NULL DEFAULT '{}', secret_key TEXT NOT NULL, source_url TEXT, source_hash TEXT,"
     "  origin TEXT NOT NULL, error TEXT, bytes_received INTEGER NOT NULL DEFAULT 0, bytes_total INTEGER,"
     "  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
     "CREATE INDEX videos_newest ON videos (user_id, created_ms DESC, video_id DESC);"
     "CREATE INDEX videos_status ON videos (user_id, status);"
     "CREATE UNIQUE INDEX videos_source ON videos (user_id, source_hash);",
     "CREATE TABLE videos ("
     "  video_id TEXT COLLATE \"C\" PRIMARY KEY, user_id TEXT COLLATE \"C\" NOT NULL, title TEXT NOT NULL,"
     "  status TEXT NOT NULL, s3_key TEXT, poster_key TEXT, content_type TEXT, size BIGINT NOT NULL DEFAULT 0,"
     "  metadata TEXT NOT NULL DEFAULT '{}', secret_key TEXT NOT NULL, source_url TEXT, source_hash TEXT,"
     "  origin TEXT NOT NULL, error TEXT, bytes_received BIGINT NOT NULL DEFAULT 0, bytes_total BIGINT,"
     "  created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL);"
     "CREATE INDEX videos_newest ON videos (user_id, created_ms DESC, video_id DESC);"
     "CREATE INDEX videos_status ON videos (user_id, status);"
     "CREATE UNIQUE INDEX videos_source ON videos (user_id, source_hash);"},
    /* The console's one-time sign-in codes (auth/login.c): only the
     * code's SHA-256 is kept; expired codes are purged as new ones are made. */
    {5,
     "CREATE TABLE login_codes ("
     "  hash TEXT PRIMARY KEY, sub TEXT NOT NULL, email TEXT, role TEXT NOT NULL,"
     "  expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL);"
     "CREATE INDEX login_codes_expiry ON login_codes (expires_at);",
     "CREATE TABLE login_codes ("
     "  hash TEXT PRIMARY KEY, sub TEXT NOT NULL, email TEXT, role TEXT NOT NULL,"
     "  expires_at BIGINT NOT NULL, created_at BIGINT NOT NULL);"
     "CREATE INDEX login_codes_expiry ON login_codes (expires_at);"},
#ifdef SILO_TEST_NEXT_MIGRATION
    /* Test builds only (`make next-schema`, tests/blackbox/test_install.py):
     * one migration past this release, as a newer release would add, so
     * the test can check that this release refuses the newer schema. */
    {SILO_TEST_NEXT_MIGRATION, "CREATE TABLE next_release_probe (id INTEGER PRIMARY KEY)", NULL},
#endif
};
/* clang-format on */

const size_t db_migration_count = sizeof db_migrations / sizeof db_migrations[0];
