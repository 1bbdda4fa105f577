-- Tables that belong to the application: not PostgreSQL's, not created by an
-- extension (PostGIS' spatial_ref_sys, say), and not the history table ($1,
-- its quoted name). `run` refuses to migrate over them on an empty history.
SELECT n.nspname || '.' || c.relname AS name
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%'
  AND n.nspname NOT LIKE 'pg\_temp\_%'
  AND c.oid IS DISTINCT FROM to_regclass($1)
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY 1
