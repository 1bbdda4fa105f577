-- Every history row: versioned ones by version, then repeatables by name.
-- Times are formatted by the server (RFC 3339, UTC) so the client needs no
-- date library.
SELECT version,
       name,
       checksum,
       kind,
       to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS applied_at,
       execution_ms,
       success,
       applied_by
FROM {table}
ORDER BY version NULLS LAST, name
