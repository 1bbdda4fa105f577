-- Records a repeatable migration inside its own transaction, replacing the
-- row of its previous application. Guarded like insert_applied.sql: nothing
-- happens if the file ended our transaction itself.
WITH previous AS (
    DELETE FROM {table}
    WHERE version IS NULL AND name = $1
      AND current_setting('schemagate.in_migration', true) = 'on'
)
INSERT INTO {table} (version, name, checksum, kind, applied_at, execution_ms, success, applied_by)
SELECT NULL, $1, $2, 'repeatable', clock_timestamp(),
       (extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint, true, $3
WHERE current_setting('schemagate.in_migration', true) = 'on'
RETURNING name
