-- After a no-transaction file: what it did to its session (role,
-- search_path, settings) does not reach the next migration; then the
-- session's own setting again (session_settings.sql says why).
RESET SESSION AUTHORIZATION;
RESET ROLE;
RESET ALL;
SELECT CASE WHEN pg_catalog.current_setting('server_version_num')::int >= 140000
            THEN pg_catalog.set_config('client_connection_check_interval', '2s', false)
       END;
