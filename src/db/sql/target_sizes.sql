-- Live sizes on the target of the relations pending migrations touch ($1:
-- `schema.name` each). Read only: the estimate PostgreSQL keeps, and the
-- on-disk size, heap alone (0 bytes is an empty table, analysed or not) and
-- with indexes and TOAST. The filter comes first, so that only these
-- relations are opened for their size.
SELECT n.nspname || '.' || c.relname AS name,
       c.reltuples::pg_catalog.float8 AS reltuples,
       pg_catalog.pg_relation_size(c.oid) AS heap_bytes,
       pg_catalog.pg_total_relation_size(c.oid) AS total_bytes
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname || '.' || c.relname = ANY ($1::pg_catalog.text[])
