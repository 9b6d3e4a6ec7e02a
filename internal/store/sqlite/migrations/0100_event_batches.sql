-- 0100_event_batches: the event log as one row per append (a batch of
-- events, see store/eventbatch.go) instead of one row per event: a task's
-- three events cost a share of one row rather than three rows and their
-- index entries.
--
-- event_seq.last is the largest id ever given (AUTOINCREMENT's counter
-- before): pruning never lowers it. The existing events move over as
-- batches of one.
CREATE TABLE event_seq (last INTEGER NOT NULL);
INSERT INTO event_seq SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0);

CREATE TABLE event_batches (
    first_id INTEGER PRIMARY KEY,
    last_id  INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    min_time INTEGER NOT NULL,
    max_time INTEGER NOT NULL,
    events   BLOB    NOT NULL
);

INSERT INTO event_batches (first_id, last_id, n, min_time, max_time, events)
SELECT id, id, 1, time, time, json_array(CASE WHEN data IS NULL OR data = ''
    THEN json_object('t', time, 'y', type, 'l', level, 'c', component, 'd', device_id, 'k', task_id, 'm', message, 'o', origin)
    ELSE json_object('t', time, 'y', type, 'l', level, 'c', component, 'd', device_id, 'k', task_id, 'm', message, 'o', origin, 'x', json(data))
    END)
FROM events;

DROP TABLE events;
