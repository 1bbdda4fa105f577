-- On PostgreSQL 14 and later, make the server check every few seconds that
-- the client is still there while a statement runs, so a runner killed with
-- SIGKILL mid-migration frees its advisory lock within seconds, not when the
-- statement ends (or, with keepalives alone, minutes later).
SELECT set_config('client_connection_check_interval', '2s', false)
WHERE current_setting('server_version_num')::int >= 140000
