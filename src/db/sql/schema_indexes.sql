-- Indexes on relations of the compared schemas ($1), minus those of the
-- history table ($2 schema, $3 name) and those that implement a primary key,
-- unique or exclusion constraint (the constraint describes them).
SELECT n.nspname AS schema,
       i.relname AS name,
       c.relname AS table_name,
       pg_get_indexdef(x.indexrelid) AS definition,
       x.indisunique AS is_unique,
       pg_get_expr(x.indpred, x.indrelid) AS predicate,
       x.indisvalid AS valid
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1)
  AND (n.nspname, c.relname) IS DISTINCT FROM ($2, $3)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint co
                   WHERE co.conindid = x.indexrelid AND co.conrelid = x.indrelid AND co.contype IN ('p', 'u', 'x'))
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
