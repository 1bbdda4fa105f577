-- A no-transaction migration ended: success, or a failure part-way, which
-- blocks further runs until the database is repaired.
UPDATE {table}
SET finished_at = pg_catalog.clock_timestamp(), execution_ms = $2, success = $3
WHERE migration_version = $1
