-- Records a repeatable migration inside its own transaction, replacing the
-- row of its previous application. Guarded like insert_applied.sql: nothing
-- happens if the file ended our transaction itself. $4 is the restore point
-- taken before this run (NULL when none was).
WITH previous AS (
    DELETE FROM {table}
    WHERE migration_version IS NULL AND name = $1
      AND pg_catalog.current_setting('schemagate.in_migration', true) = 'on'
)
INSERT INTO {table} (migration_version, name, checksum, kind, applied_at, finished_at, execution_ms, success, applied_by, restore_point)
SELECT NULL, $1, $2, 'repeatable', pg_catalog.now(), pg_catalog.clock_timestamp(),
       (extract(epoch FROM pg_catalog.clock_timestamp() - pg_catalog.now()) * 1000)::bigint,
       true, $3, $4
WHERE pg_catalog.current_setting('schemagate.in_migration', true) = 'on'
RETURNING name
