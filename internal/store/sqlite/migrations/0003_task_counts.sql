-- Counting tasks by state (GET /api/v1/tasks, cluster status, dashboards) is
-- read far more often than it changes. With state first, GROUP BY state
-- walks this covering index in order instead of sorting the table; the
-- queue column serves the common per-queue count from the same index.
CREATE INDEX tasks_by_state_queue ON tasks (state, queue);
