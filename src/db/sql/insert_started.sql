-- A no-transaction migration is about to run: its row is committed first,
-- marked not finished (finished_at NULL) and not successful, so that a run
-- killed part-way leaves a trace the next run refuses to go past.
INSERT INTO {table} (migration_version, name, checksum, kind, applied_at, finished_at, execution_ms, success, applied_by)
VALUES ($1, $2, $3, 'sql', pg_catalog.clock_timestamp(), NULL, 0, false, $4)
