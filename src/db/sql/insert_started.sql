-- A no-transaction migration is about to run: its row is committed first,
-- marked not finished (finished_at NULL) and not successful, so that a run
-- killed part-way leaves a trace the next run refuses to go past. $5 is the
-- restore point taken before this run (NULL when none was).
INSERT INTO {table} (migration_version, name, checksum, kind, applied_at, finished_at, execution_ms, success, applied_by, restore_point)
VALUES ($1, $2, $3, 'sql', pg_catalog.clock_timestamp(), NULL, 0, false, $4, $5)
