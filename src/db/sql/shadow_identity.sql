-- Which server and database a session is in, and the server's release: the
-- shadow must not be the target (however its URL is spelled), and should run
-- the target's major version, since lock levels change between releases.
SELECT (SELECT s.system_identifier FROM pg_catalog.pg_control_system() s)::pg_catalog.int8 AS system,
       d.oid::pg_catalog.int8 AS database,
       pg_catalog.current_setting('server_version_num')::pg_catalog.int4 AS version_num,
       pg_catalog.current_setting('server_version') AS version
FROM pg_catalog.pg_database d
WHERE d.datname = pg_catalog.current_database()
