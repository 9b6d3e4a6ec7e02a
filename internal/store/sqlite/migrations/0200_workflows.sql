-- 0200_workflows: workflows, runs, actions, cron fire records and the named
-- objects steps use (issue 9). Times are unix microseconds, 0 for unset.

CREATE TABLE workflows (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    schedule     TEXT    NOT NULL DEFAULT '',
    timezone     TEXT    NOT NULL DEFAULT '',
    depends_on   TEXT    NOT NULL DEFAULT '[]',
    overlap      TEXT    NOT NULL DEFAULT 'skip',
    steps        TEXT    NOT NULL,
    next_fire_at INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
CREATE INDEX workflows_due ON workflows (next_fire_at) WHERE next_fire_at > 0;

CREATE TABLE workflow_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    state       TEXT    NOT NULL,
    trigger     TEXT    NOT NULL,
    tick        INTEGER NOT NULL DEFAULT 0,
    creator     INTEGER NOT NULL DEFAULT 0,
    delay_us    INTEGER NOT NULL DEFAULT 0,
    ignore_deps INTEGER NOT NULL DEFAULT 0,
    restart_of  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow_id, tick, id);
CREATE INDEX workflow_runs_active ON workflow_runs (id) WHERE state IN ('waiting', 'running');

CREATE TABLE workflow_actions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     INTEGER NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    step       TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    task_id    TEXT    NOT NULL DEFAULT '',
    generation INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    UNIQUE (run_id, step)
);

-- One row per fired tick: the primary key is what makes a tick fire once
-- however many servers try. run_id is 0 for a tick skipped by the overlap policy.
CREATE TABLE workflow_cron_fires (
    workflow_id INTEGER NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    tick        INTEGER NOT NULL,
    run_id      INTEGER NOT NULL DEFAULT 0,
    fired_at    INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, tick)
);

CREATE TABLE workflow_objects (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    value      BLOB,
    updated_at INTEGER NOT NULL,
    UNIQUE (kind, name)
);
