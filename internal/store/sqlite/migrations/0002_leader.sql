-- Leaderships for the singleton duties (RELIABILITY rule 10): one row per
-- duty, renewed by its holder before expires_at, taken by anyone after it.
-- term grows each time the row is taken rather than renewed; holder is ''
-- after a resignation. Times are unix microseconds.
CREATE TABLE leader (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    term       INTEGER NOT NULL,
    elected_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
