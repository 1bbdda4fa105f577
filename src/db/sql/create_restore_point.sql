-- A named restore point ($1), written to the WAL outside any transaction
-- of ours; it returns the point's LSN, logged with the name.
SELECT pg_catalog.pg_create_restore_point($1)::text AS lsn
