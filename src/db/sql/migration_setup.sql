-- The start of each migration's transaction ($1: the DDL lock timeout, such
-- as '2000ms', or '0ms' for none). Every setting is transaction-local, so
-- nothing reaches the next migration or, behind a transaction pooler,
-- another client's server connection:
-- - the marker insert_applied.sql checks: gone if the file ends our
--   transaction itself (a COMMIT in the file, seed 000);
-- - lock_timeout: DDL queued behind a long transaction fails fast and is
--   retried, instead of stalling every query on that table behind it;
-- - client_connection_check_interval (PostgreSQL 14 and later): a runner
--   killed mid-statement frees its locks within seconds (set for the
--   session too, by session_start.sql, but a transaction pooler may have
--   put this transaction on another server connection).
-- It returns the backend's pid, to ask who blocks it while it waits.
SELECT pg_catalog.pg_backend_pid(),
       pg_catalog.set_config('schemagate.in_migration', 'on', true),
       pg_catalog.set_config('lock_timeout', $1, true),
       CASE WHEN pg_catalog.current_setting('server_version_num')::int >= 140000
            THEN pg_catalog.set_config('client_connection_check_interval', '2s', true)
       END
