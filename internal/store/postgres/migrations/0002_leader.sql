-- 0002_leader: leaderships for the singleton duties (RELIABILITY rule 10).
--
-- One row per duty. The holder renews expires_at before it passes; anyone
-- may take the row once it has passed. term grows each time the row is taken
-- rather than renewed. holder is '' after a resignation.
CREATE TABLE leader (
    name       text        PRIMARY KEY,
    holder     text        NOT NULL,
    term       bigint      NOT NULL,
    elected_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
