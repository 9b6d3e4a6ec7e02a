-- 0400_queues: paused queues, suspended workers, and newest-first listing by
-- queue (document 003's GET /job?queue=…).
--
-- A paused queue is a row here; resuming deletes it. TaskLease reads both
-- in the statement that leases, so a pause or a suspension holds on every
-- server sharing the database at once, and across restarts.
CREATE TABLE queue_pauses (
    queue     text        PRIMARY KEY,
    paused_at timestamptz NOT NULL
);

-- NULL when the worker is not suspended; kept across re-registration.
ALTER TABLE workers ADD COLUMN suspended_at timestamptz;

-- A queue's tasks, newest first: an index walk that stops at the page's
-- end. The queue never changes, so this costs an insert only.
CREATE INDEX tasks_by_queue_created ON tasks (queue, created_at DESC, id DESC);
