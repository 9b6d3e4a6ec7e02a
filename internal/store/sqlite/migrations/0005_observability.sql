-- The cluster's event log (GET /api/v1/logs, the live stream and its
-- resumption) and the metric history (per-worker resource samples and task
-- outcome counts, in minute and hour buckets). Times are unix microseconds.

-- AUTOINCREMENT: ids are never reused after pruning, so Last-Event-ID
-- resumption can never skip a newer event that took an old id.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    time      INTEGER NOT NULL,
    type      TEXT    NOT NULL,
    level     INTEGER NOT NULL,
    component TEXT    NOT NULL,
    device_id TEXT    NOT NULL DEFAULT '',
    task_id   TEXT    NOT NULL DEFAULT '',
    message   TEXT    NOT NULL,
    data      TEXT,
    origin    TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX events_by_time ON events (time);
CREATE INDEX events_by_device ON events (device_id, id) WHERE device_id <> '';

-- One row per worker, bucket width (60 or 3600 seconds) and bucket start
-- (unix seconds). Recording merges: sums add, maxima keep the larger.
CREATE TABLE metric_samples (
    width           INTEGER NOT NULL,
    bucket          INTEGER NOT NULL,
    worker_id       TEXT    NOT NULL,
    n               INTEGER NOT NULL,
    cpu_sum         REAL    NOT NULL,
    cpu_max         REAL    NOT NULL,
    mem_sum         REAL    NOT NULL,
    mem_max         REAL    NOT NULL,
    disk_sum        REAL    NOT NULL,
    disk_max        REAL    NOT NULL,
    active_sum      REAL    NOT NULL,
    up_seconds      REAL    NOT NULL,
    cpu_cores       INTEGER NOT NULL,
    memory_total_gb REAL    NOT NULL,
    PRIMARY KEY (width, bucket, worker_id)
) WITHOUT ROWID;

CREATE INDEX metric_samples_by_worker ON metric_samples (worker_id, width, bucket);

CREATE TABLE task_stats (
    width        INTEGER NOT NULL,
    bucket       INTEGER NOT NULL,
    device_id    TEXT    NOT NULL,
    task_type    TEXT    NOT NULL,
    completed    INTEGER NOT NULL,
    failed       INTEGER NOT NULL,
    cancelled    INTEGER NOT NULL,
    duration_sum REAL    NOT NULL,
    duration_n   INTEGER NOT NULL,
    PRIMARY KEY (width, bucket, device_id, task_type)
) WITHOUT ROWID;
