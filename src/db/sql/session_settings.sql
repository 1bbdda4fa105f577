-- The writer's session setting, sent after connecting and again after each
-- migration's RESET ALL: on PostgreSQL 14 and later, the server checks every
-- 2 s that the client is still there while a statement runs, so a runner
-- killed mid-statement (SIGKILL, OOM) frees its locks within seconds, not
-- when the statement ends (a no-transaction file's long CREATE INDEX
-- CONCURRENTLY, say). Behind a transaction pooler the setting stays on the
-- server connection it landed on; it is harmless to any client.
SELECT CASE WHEN pg_catalog.current_setting('server_version_num')::int >= 140000
            THEN pg_catalog.set_config('client_connection_check_interval', '2s', false)
       END
