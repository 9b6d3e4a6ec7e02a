-- 0500_task_progress: the last progress report of each task's attempt (a
-- fraction done and a short message), kept apart from the tasks table so a
-- report rewrites one small row, not the task's. epoch is the lease it was
-- reported under. Times are unix microseconds.
CREATE TABLE task_progress (
    task_id  TEXT    PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    epoch    INTEGER NOT NULL,
    fraction REAL    NOT NULL,
    message  TEXT    NOT NULL,
    time     INTEGER NOT NULL
) WITHOUT ROWID;
