-- 0200_workflows: workflows, runs, actions, cron fire records and the named
-- objects steps use (issue 9). Times are timestamptz, NULL for unset.

CREATE TABLE workflows (
    id           bigserial   PRIMARY KEY,
    name         text        NOT NULL UNIQUE,
    schedule     text        NOT NULL DEFAULT '',
    timezone     text        NOT NULL DEFAULT '',
    depends_on   jsonb       NOT NULL DEFAULT '[]',
    overlap      text        NOT NULL DEFAULT 'skip',
    steps        jsonb       NOT NULL,
    next_fire_at timestamptz,
    created_at   timestamptz NOT NULL
);
CREATE INDEX workflows_due ON workflows (next_fire_at) WHERE next_fire_at IS NOT NULL;

CREATE TABLE workflow_runs (
    id          bigserial   PRIMARY KEY,
    workflow_id bigint      NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    state       text        NOT NULL,
    trigger     text        NOT NULL,
    tick        timestamptz,
    creator     bigint      NOT NULL DEFAULT 0,
    delay_us    bigint      NOT NULL DEFAULT 0,
    ignore_deps boolean     NOT NULL DEFAULT false,
    restart_of  bigint      NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    finished_at timestamptz
);
CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow_id, tick, id);
CREATE INDEX workflow_runs_active ON workflow_runs (id) WHERE state IN ('waiting', 'running');

CREATE TABLE workflow_actions (
    id         bigserial   PRIMARY KEY,
    run_id     bigint      NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    step       text        NOT NULL,
    state      text        NOT NULL,
    task_id    text        NOT NULL DEFAULT '',
    generation integer     NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL,
    UNIQUE (run_id, step)
);

-- One row per fired tick: the primary key is what makes a tick fire once
-- however many servers try. run_id is 0 for a tick skipped by the overlap policy.
CREATE TABLE workflow_cron_fires (
    workflow_id bigint      NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    tick        timestamptz NOT NULL,
    run_id      bigint      NOT NULL DEFAULT 0,
    fired_at    timestamptz NOT NULL,
    PRIMARY KEY (workflow_id, tick)
);

CREATE TABLE workflow_objects (
    id         bigserial   PRIMARY KEY,
    kind       text        NOT NULL,
    name       text        NOT NULL,
    value      bytea,
    updated_at timestamptz NOT NULL,
    UNIQUE (kind, name)
);
