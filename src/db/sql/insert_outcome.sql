-- Records a migration that ran without a transaction, after the fact.
-- success = false marks one that failed part-way and blocks further runs.
INSERT INTO {table} (migration_version, name, checksum, kind, applied_at, finished_at, execution_ms, success, applied_by)
VALUES ($1, $2, $3, 'sql', pg_catalog.clock_timestamp(), pg_catalog.clock_timestamp(), $4, $5, $6)
