-- 0100_event_batches: the event log as one row per append (a batch of
-- events, see store/eventbatch.go) instead of one row per event: a task's
-- three events cost a share of one compressed row rather than three rows
-- and their index entries.
--
-- Ids still come from events_id_seq, drawn under the append's advisory
-- lock, so they keep growing in commit order and are never reused. The
-- existing events move over as batches of one.
CREATE TABLE event_batches (
    first_id bigint      PRIMARY KEY,
    last_id  bigint      NOT NULL,
    n        integer     NOT NULL,
    min_time timestamptz NOT NULL,
    max_time timestamptz NOT NULL,
    events   bytea       NOT NULL
);

ALTER SEQUENCE events_id_seq OWNED BY NONE;

INSERT INTO event_batches (first_id, last_id, n, min_time, max_time, events)
SELECT id, id, 1, time, time, convert_to(jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
        't', (extract(epoch FROM time) * 1000000)::bigint, 'y', type, 'l', level, 'c', component,
        'd', device_id, 'k', task_id, 'm', message, 'x', data, 'o', origin)))::text, 'UTF8')
FROM events;

DROP TABLE events;
