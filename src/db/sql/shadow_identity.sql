-- Which server and database a session is in, and the server's release: the
-- shadow must not be the target (however its URL is spelled), and should run
-- the target's major version, since lock levels change between releases.
-- (A service that revokes pg_control_system() leaves the system NULL, and
-- the check to the URLs' comparison.) track_counts: without it there are no
-- scan counters to measure with.
SELECT CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
            THEN (SELECT s.system_identifier FROM pg_catalog.pg_control_system() s)::pg_catalog.int8
       END AS system,
       d.oid::pg_catalog.int8 AS database,
       pg_catalog.current_setting('server_version_num')::pg_catalog.int4 AS version_num,
       pg_catalog.current_setting('server_version') AS version,
       pg_catalog.current_setting('track_counts')::bool AS track_counts
FROM pg_catalog.pg_database d
WHERE d.datname = pg_catalog.current_database()
