-- A queue table churns: every task is inserted, updated twice (leased,
-- finished) and its index entries in the partial pending and running indexes
-- die with each change. Until vacuum removes them, lease and heartbeat scans
-- walk those dead entries, and a backlog burns down ever slower. Vacuum this
-- table after a fixed number of dead rows, not PostgreSQL's default of 20 %
-- of the table, which a table of millions of finished tasks never reaches.
ALTER TABLE tasks SET (
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0.0,
    autovacuum_vacuum_insert_threshold = 20000,
    autovacuum_analyze_scale_factor = 0.02
);
