-- One look, from the watching session ($2), at a statement running outside a
-- transaction block in the measuring session ($1): whether it waits for the
-- watcher (CREATE INDEX CONCURRENTLY waits for every older snapshot, with all
-- its locks taken), and the relation locks it holds in this database.
SELECT b.blocked, l.relation::pg_catalog.int8 AS relation, l.mode::text AS mode
FROM (SELECT $2::pg_catalog.int4 = ANY (pg_catalog.pg_blocking_pids($1::pg_catalog.int4)) AS blocked) b
LEFT JOIN pg_catalog.pg_locks l
  ON l.pid = $1::pg_catalog.int4 AND l.locktype = 'relation' AND l.granted
 AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
