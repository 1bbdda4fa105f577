-- Every history row of a format-1 table (schemagate 0.1), for read-only
-- commands that meet one before a writer has upgraded it, in the shape of
-- read_history.sql.
SELECT version::text AS migration_version,
       name,
       checksum,
       kind,
       pg_catalog.to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS applied_at,
       execution_ms,
       success,
       applied_by,
       true AS finished,
       NULL::text AS restore_point
FROM {table}
ORDER BY id
