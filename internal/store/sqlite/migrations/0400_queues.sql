-- 0400_queues: paused queues, suspended workers, and newest-first listing by
-- queue (document 003's GET /job?queue=…).
--
-- A paused queue is a row here; resuming deletes it. TaskLease reads both
-- tables in the statement that leases, so a pause or a suspension holds on
-- every server at once and across restarts.
CREATE TABLE queue_pauses (
    queue     TEXT    PRIMARY KEY,
    paused_at INTEGER NOT NULL
);

-- 0 when the worker is not suspended; kept across re-registration.
ALTER TABLE workers ADD COLUMN suspended_at INTEGER NOT NULL DEFAULT 0;

-- A queue's tasks, newest first: an index walk that stops at the page's end
-- however many tasks the queue holds. The queue never changes, so this
-- costs an insert only, not a write per state change.
CREATE INDEX tasks_by_queue_seq ON tasks (queue, seq);
