-- Every history row (format 2), in the order they were written; the client
-- sorts versions part by part. Times are formatted by the server (RFC 3339,
-- UTC) so the client needs no date library.
SELECT migration_version,
       name,
       checksum,
       kind,
       pg_catalog.to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS applied_at,
       execution_ms,
       success,
       applied_by,
       finished_at IS NOT NULL AS finished,
       restore_point
FROM {table}
ORDER BY id
