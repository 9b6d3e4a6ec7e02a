-- Pools (issue 10): a group of workers with a desired size, its scaling
-- history, the pool a worker was started for, and drains in progress.

CREATE TABLE pools (
    id               INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    points           INTEGER NOT NULL,
    min_points       INTEGER NOT NULL,
    max_points       INTEGER NOT NULL,
    worker           TEXT    NOT NULL,  -- JSON WorkerTemplate
    provider         TEXT    NOT NULL,
    provider_config  TEXT    NOT NULL,  -- JSON, the provider's own
    autoscale        TEXT    NOT NULL,  -- JSON Autoscale
    drain_timeout_us INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    scaled_at        INTEGER NOT NULL
);

CREATE TABLE pool_events (
    id          INTEGER PRIMARY KEY,
    pool_id     INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    from_points INTEGER NOT NULL,
    to_points   INTEGER NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX pool_events_by_pool ON pool_events (pool_id, id);

ALTER TABLE workers ADD COLUMN pool_id INTEGER NOT NULL DEFAULT 0;
CREATE INDEX workers_by_pool ON workers (pool_id) WHERE pool_id <> 0;

CREATE TABLE pool_drains (
    worker_id  TEXT    PRIMARY KEY,
    pool_id    INTEGER NOT NULL,
    deadline   INTEGER NOT NULL,
    started_at INTEGER NOT NULL
);
