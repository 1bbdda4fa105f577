-- `baseline` and `import`: record versions as present without running them,
-- in one set-based statement. $1 versions, $2 names, $3 checksums (parallel arrays).
INSERT INTO {table} (migration_version, name, checksum, kind, applied_at, finished_at, execution_ms, success, applied_by)
SELECT v, n, c, 'baseline', pg_catalog.clock_timestamp(), pg_catalog.clock_timestamp(), 0, true, $4
FROM unnest($1::text[], $2::text[], $3::text[]) AS u(v, n, c)
