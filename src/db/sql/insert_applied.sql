-- Records a transactional migration inside its own transaction. It is sent in
-- the same pipeline as BEGIN, the file and COMMIT. The WHERE clause inserts
-- nothing when the file ended our transaction itself (a COMMIT or ROLLBACK in
-- the file): the transaction-local setting is gone by then, so the row can
-- never be committed without the migration. Run then reports the version as
-- not recorded (exit 6) instead of looping (seed 000). Functions are
-- qualified with pg_catalog: the file may have changed search_path. $5 is
-- the restore point taken before this run (NULL when none was).
INSERT INTO {table} (migration_version, name, checksum, kind, applied_at, finished_at, execution_ms, success, applied_by, restore_point)
SELECT $1, $2, $3, 'sql', pg_catalog.now(), pg_catalog.clock_timestamp(),
       (extract(epoch FROM pg_catalog.clock_timestamp() - pg_catalog.now()) * 1000)::bigint,
       true, $4, $5
WHERE pg_catalog.current_setting('schemagate.in_migration', true) = 'on'
RETURNING migration_version
