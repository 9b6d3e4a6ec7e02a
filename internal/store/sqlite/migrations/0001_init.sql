-- Tasks, workers, log lines and settings. Times are integer unix
-- microseconds, 0 for "not set"; maps and lists are JSON text.

-- seq is the rowid: insertion order, the final tie-break of the lease order
-- and the order of "newest first". id is the public key.
CREATE TABLE tasks (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    type             TEXT    NOT NULL,
    payload          BLOB,
    priority         INTEGER NOT NULL,
    queue            TEXT    NOT NULL,
    device_id        TEXT    NOT NULL DEFAULT '',
    req_cpu_cores    INTEGER NOT NULL DEFAULT 0,
    req_memory_gb    REAL    NOT NULL DEFAULT 0,
    req_platform     TEXT    NOT NULL DEFAULT '',
    req_role         TEXT    NOT NULL DEFAULT '',
    req_labels       TEXT,            -- JSON object, NULL when none
    timeout_seconds  INTEGER NOT NULL DEFAULT 0,
    max_retries      INTEGER NOT NULL DEFAULT 0,
    retry_backoff_us INTEGER NOT NULL DEFAULT 0,
    idempotency_key  TEXT,            -- NULL when none, so it escapes the unique index
    request_hash     TEXT    NOT NULL DEFAULT '',
    original_task_id TEXT    NOT NULL DEFAULT '',
    labels           TEXT,

    state            TEXT    NOT NULL,
    attempt          INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT    NOT NULL DEFAULT '',
    lease_epoch      INTEGER NOT NULL DEFAULT 0,
    lease_expires_at INTEGER NOT NULL DEFAULT 0,
    available_at     INTEGER NOT NULL DEFAULT 0,
    last_device_id   TEXT    NOT NULL DEFAULT '',

    created_at       INTEGER NOT NULL,
    started_at       INTEGER NOT NULL DEFAULT 0,
    completed_at     INTEGER NOT NULL DEFAULT 0,

    result           TEXT,
    resource_usage   TEXT,
    error            TEXT    NOT NULL DEFAULT ''
);

CREATE UNIQUE INDEX tasks_idempotency_key ON tasks (idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- The lease query reads pending tasks of one queue in lease order and stops
-- after Max matches. Partial, so it holds only the pending backlog.
CREATE INDEX tasks_pending_by_queue ON tasks (queue, priority DESC, available_at, seq)
    WHERE state = 'pending' AND device_id = '';

-- Pending tasks pinned to a worker, read regardless of queue.
CREATE INDEX tasks_pending_by_pin ON tasks (device_id, priority DESC, available_at, seq)
    WHERE state = 'pending' AND device_id <> '';

-- Running tasks by owner (heartbeats, release, active counts) and by
-- deadline (the reaper).
CREATE INDEX tasks_running_by_owner ON tasks (lease_owner) WHERE state = 'running';
CREATE INDEX tasks_running_by_expiry ON tasks (lease_expires_at) WHERE state = 'running';

CREATE TABLE workers (
    id              TEXT    PRIMARY KEY,
    name            TEXT    NOT NULL,
    hostname        TEXT    NOT NULL,
    role            TEXT    NOT NULL,
    platform        TEXT    NOT NULL,  -- JSON
    resources       TEXT    NOT NULL,  -- JSON
    info            TEXT    NOT NULL,  -- JSON
    queues          TEXT    NOT NULL,  -- JSON array
    labels          TEXT    NOT NULL,  -- JSON object
    task_types      TEXT    NOT NULL,  -- JSON array
    concurrency     INTEGER NOT NULL,
    pid             INTEGER NOT NULL,
    version         TEXT    NOT NULL,
    credential_hash TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    registered_at   INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    tasks_completed INTEGER NOT NULL DEFAULT 0,
    tasks_failed    INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX workers_credential ON workers (credential_hash) WHERE state <> 'removed';

-- One row per line; seq counts per task from 1.
CREATE TABLE task_logs (
    task_id TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    time    INTEGER NOT NULL,
    stream  TEXT    NOT NULL,
    level   TEXT    NOT NULL,
    message TEXT    NOT NULL,
    PRIMARY KEY (task_id, seq)
) WITHOUT ROWID;

CREATE TABLE kv (
    key        TEXT    PRIMARY KEY,
    value      BLOB    NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
