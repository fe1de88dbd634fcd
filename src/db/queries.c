/* queries.c: every SQL statement silo runs, and the schema migrations.
 *
 * One row per named query (enum db_query in db.h). Parameters are numbered
 * ?1, ?2, ...; the PostgreSQL driver turns them into $1, $2, so a pg variant
 * is needed only where the dialects really differ. Keys compare
 * byte-wise: SQLite's BINARY collation does so by default, PostgreSQL needs
 * COLLATE "C" on the key columns. */
#include "db/db.h"

#define OBJECT_COLUMNS "bucket, key, owner, size, content_type, etag, metadata, created_at, updated_at"
#define RECORDING_COLUMNS                                                                                       \
    "user_id, session_id, created_ms, display_name, duration_us, audio_key, transcript_key, "                   \
    "audio_content_type, size, tags, notes, metadata, indexed_ms"
#define RECORDING_PREFIX "('user_recordings/' || user_id || '/' || session_id || '/')"

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
};

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
};

const size_t db_migration_count = sizeof db_migrations / sizeof db_migrations[0];
