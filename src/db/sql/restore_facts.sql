-- What decides whether a restore point is worth taking, read before it is
-- taken (none of it needs a privilege: pg_stat_archiver and these settings
-- are readable by every role):
-- - archive_mode and wal_level: with archiving off the point never reaches
--   an archive; with wal_level = minimal the server refuses to create one;
-- - the archiver's last failure, when newer than its last success (or with
--   no success at all): archiving is broken right now;
-- - whether this role may execute pg_create_restore_point (superuser, or an
--   explicit GRANT EXECUTE);
-- - the server's UTC time, for the point's name (the client has no clock
--   library, and the server's clock is the one the WAL records).
SELECT pg_catalog.current_setting('archive_mode') AS archive_mode,
       pg_catalog.current_setting('wal_level') AS wal_level,
       CASE WHEN a.last_failed_time IS NOT NULL
                 AND (a.last_archived_time IS NULL OR a.last_failed_time > a.last_archived_time)
            THEN pg_catalog.to_char(a.last_failed_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
       END AS archiver_failing_since,
       pg_catalog.has_function_privilege('pg_catalog.pg_create_restore_point(text)', 'EXECUTE') AS may_create,
       pg_catalog.to_char(pg_catalog.clock_timestamp() AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"') AS stamp
FROM pg_catalog.pg_stat_archiver AS a
