-- Every relation of the shadow that may hold data, as measuring a statement
-- compares it before and after: its file node (a new one is a rewrite), its
-- sequential scans ($1: the flushed cumulative counter, for a statement run
-- outside a transaction block; else the transaction's own), the catalog
-- entries that tell what kind of change it was, and the lock modes backend
-- $2 holds on it.
WITH held AS (
    SELECT l.relation, pg_catalog.array_agg(l.mode::text) AS modes
    FROM pg_catalog.pg_locks l
    WHERE l.locktype = 'relation' AND l.granted AND l.pid = $2::pg_catalog.int4
    GROUP BY l.relation
)
SELECT c.oid::pg_catalog.int8 AS oid,
       n.nspname || '.' || c.relname AS name,
       COALESCE(pg_catalog.pg_relation_filenode(c.oid), 0)::pg_catalog.int8 AS filenode,
       CASE WHEN $1::bool THEN pg_catalog.pg_stat_get_numscans(c.oid)
            ELSE pg_catalog.pg_stat_get_xact_numscans(c.oid) END AS scans,
       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid) AS indexes,
       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_constraint k
         WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.convalidated) AS foreign_keys,
       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_constraint k
         WHERE k.conrelid = c.oid AND k.contype = 'c' AND k.convalidated) AS checks,
       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull) AS not_nulls,
       COALESCE(h.modes, '{}') AS modes
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN held h ON h.relation = c.oid
WHERE c.relkind IN ('r', 'p', 'm', 'v', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%'
  AND n.nspname NOT LIKE 'pg\_temp\_%'
ORDER BY c.oid
