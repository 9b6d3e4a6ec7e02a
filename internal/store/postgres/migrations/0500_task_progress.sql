-- 0500_task_progress: the last progress report of each task's attempt (a
-- fraction done and a short message), kept apart from the tasks table so a
-- report rewrites one small row and never locks the task's. epoch is the
-- lease it was reported under.
CREATE TABLE task_progress (
    task_id  text             PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    epoch    bigint           NOT NULL,
    fraction double precision NOT NULL,
    message  text             NOT NULL,
    time     timestamptz      NOT NULL
);
