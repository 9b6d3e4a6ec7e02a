-- 0005_observability: the cluster's event log (logs, the live stream and
-- its resumption) and the metric history (per-worker resource samples and
-- task outcome counts in minute and hour buckets; bucket is the start in
-- unix seconds).
--
-- Event ids come from a sequence, so they are never reused; appends take a
-- transaction-scoped advisory lock, so they commit in id order and a reader
-- resuming after id n never misses a later commit with a smaller id.
CREATE TABLE events (
    id        bigserial   PRIMARY KEY,
    time      timestamptz NOT NULL,
    type      text        NOT NULL,
    level     smallint    NOT NULL,
    component text        NOT NULL,
    device_id text        NOT NULL DEFAULT '',
    task_id   text        NOT NULL DEFAULT '',
    message   text        NOT NULL,
    data      jsonb,
    origin    text        NOT NULL DEFAULT ''
);

CREATE INDEX events_by_time ON events (time);
CREATE INDEX events_by_device ON events (device_id, id) WHERE device_id <> '';

CREATE TABLE metric_samples (
    width           integer          NOT NULL,
    bucket          bigint           NOT NULL,
    worker_id       text             NOT NULL,
    n               bigint           NOT NULL,
    cpu_sum         double precision NOT NULL,
    cpu_max         double precision NOT NULL,
    mem_sum         double precision NOT NULL,
    mem_max         double precision NOT NULL,
    disk_sum        double precision NOT NULL,
    disk_max        double precision NOT NULL,
    active_sum      double precision NOT NULL,
    up_seconds      double precision NOT NULL,
    cpu_cores       integer          NOT NULL,
    memory_total_gb double precision NOT NULL,
    PRIMARY KEY (width, bucket, worker_id)
);

CREATE INDEX metric_samples_by_worker ON metric_samples (worker_id, width, bucket);

CREATE TABLE task_stats (
    width        integer          NOT NULL,
    bucket       bigint           NOT NULL,
    device_id    text             NOT NULL,
    task_type    text             NOT NULL,
    completed    bigint           NOT NULL,
    failed       bigint           NOT NULL,
    cancelled    bigint           NOT NULL,
    duration_sum double precision NOT NULL,
    duration_n   bigint           NOT NULL,
    PRIMARY KEY (width, bucket, device_id, task_type)
);
