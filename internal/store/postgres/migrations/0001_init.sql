-- 0001_init: tasks, workers, task logs and the key-value table.
--
-- Times are timestamptz (microsecond precision). Text columns are NOT NULL
-- with '' for "unset", as the domain types use, except idempotency_key, which
-- is NULL when unset so the unique index ignores it. JSON the store never
-- looks into (payloads, results) is json, kept byte for byte; JSON it queries
-- (labels) is jsonb.

CREATE TABLE tasks (
    id               text             PRIMARY KEY,
    type             text             NOT NULL,
    payload          json,
    priority         integer          NOT NULL DEFAULT 1,
    queue            text             NOT NULL,
    device_id        text             NOT NULL DEFAULT '', -- pin: only this worker may run it
    -- requirements, one column each so placement runs in SQL
    min_cpu_cores    integer          NOT NULL DEFAULT 0,
    min_memory_gb    double precision NOT NULL DEFAULT 0,
    platform         text             NOT NULL DEFAULT '',
    role             text             NOT NULL DEFAULT '',
    req_labels       jsonb,                                -- NULL: none; else every pair must be among the worker's
    timeout_seconds  integer          NOT NULL DEFAULT 0,
    max_retries      integer          NOT NULL DEFAULT 0,
    retry_backoff    interval         NOT NULL DEFAULT '0',
    idempotency_key  text,
    request_hash     text             NOT NULL DEFAULT '',
    original_task_id text             NOT NULL DEFAULT '',
    labels           jsonb,

    state            text             NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    attempt          integer          NOT NULL DEFAULT 0,
    lease_owner      text             NOT NULL DEFAULT '',
    lease_epoch      bigint           NOT NULL DEFAULT 0,
    lease_expires_at timestamptz,
    available_at     timestamptz      NOT NULL,
    last_device_id   text             NOT NULL DEFAULT '',

    created_at       timestamptz      NOT NULL,
    started_at       timestamptz,
    completed_at     timestamptz,

    result           json,
    resource_usage   json,
    error            text             NOT NULL DEFAULT '',

    -- The domain invariant, held by the database too: running exactly when leased.
    CONSTRAINT tasks_lease_owner_iff_running CHECK ((state = 'running') = (lease_owner <> ''))
);

-- Leasing walks pending tasks in lease order and stops at LIMIT; the index
-- holds only pending tasks, so it stays small however many tasks have ended.
CREATE INDEX tasks_pending_lease_order ON tasks (priority DESC, available_at, id)
    WHERE state = 'pending';
-- TaskNextAvailable: the earliest future task of some queues.
CREATE INDEX tasks_pending_queue_available ON tasks (queue, available_at)
    WHERE state = 'pending';
-- Heartbeats, releases and active-task counts look up a worker's leases;
-- the reaper looks up expired ones.
CREATE INDEX tasks_running_owner ON tasks (lease_owner) WHERE state = 'running';
CREATE INDEX tasks_running_expiry ON tasks (lease_expires_at) WHERE state = 'running';
-- A second submit with the same key finds the first task.
CREATE UNIQUE INDEX tasks_idempotency_key ON tasks (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Listing is newest first.
CREATE INDEX tasks_created ON tasks (created_at DESC, id DESC);

CREATE TABLE workers (
    id              text        PRIMARY KEY,
    name            text        NOT NULL DEFAULT '',
    hostname        text        NOT NULL DEFAULT '',
    role            text        NOT NULL DEFAULT '',
    platform        jsonb       NOT NULL,
    resources       jsonb       NOT NULL,
    info            jsonb       NOT NULL,
    queues          text[],
    labels          jsonb,
    task_types      text[],
    concurrency     integer     NOT NULL DEFAULT 0,
    pid             integer     NOT NULL DEFAULT 0,
    version         text        NOT NULL DEFAULT '',
    credential_hash text        NOT NULL DEFAULT '',
    state           text        NOT NULL
                    CHECK (state IN ('online', 'draining', 'offline', 'removed')),
    registered_at   timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    tasks_completed bigint      NOT NULL DEFAULT 0,
    tasks_failed    bigint      NOT NULL DEFAULT 0
);

CREATE INDEX workers_credential ON workers (credential_hash) WHERE state <> 'removed';

-- Log lines get a per-task sequence from task_log_seqs, a counter row per
-- task kept apart from tasks so appending logs does not rewrite or lock task
-- rows: only a task's first append checks (by the foreign key) that the task
-- exists; the lines then hang off the counter row.
CREATE TABLE task_log_seqs (
    task_id  text   PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    last_seq bigint NOT NULL
);

CREATE TABLE task_logs (
    task_id text        NOT NULL REFERENCES task_log_seqs (task_id) ON DELETE CASCADE,
    seq     bigint      NOT NULL,
    time    timestamptz NOT NULL,
    stream  text        NOT NULL DEFAULT '',
    level   text        NOT NULL DEFAULT '',
    message text        NOT NULL,
    PRIMARY KEY (task_id, seq)
);

CREATE TABLE kv (
    key        text        PRIMARY KEY,
    value      json        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
