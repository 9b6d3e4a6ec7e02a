-- Lease order per queue and per pinned device (see leaseSQL): an equality on
-- the first column and the lease order after it, so each lease walks one
-- index in order and stops at its limit, whatever the planner's statistics
-- say about the size of the backlog. They replace the index over all
-- pending tasks, and serve TaskNextAvailable's per-queue lookups too.
CREATE INDEX tasks_pending_by_queue ON tasks (queue, priority DESC, available_at, id)
    WHERE state = 'pending' AND device_id = '';
CREATE INDEX tasks_pending_by_pin ON tasks (device_id, priority DESC, available_at, id)
    WHERE state = 'pending' AND device_id <> '';
DROP INDEX tasks_pending_lease_order;
DROP INDEX tasks_pending_queue_available;
