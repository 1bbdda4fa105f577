-- Primary key, unique, check, foreign key and exclusion constraints of the
-- tables of the compared schemas ($1), minus the history table ($2 schema,
-- $3 name). Not-null is a column property; constraint triggers are triggers.
SELECT n.nspname AS schema,
       c.relname AS table_name,
       co.conname AS name,
       co.contype::text AS contype,
       pg_get_constraintdef(co.oid) AS definition
FROM pg_constraint co
JOIN pg_class c ON c.oid = co.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1)
  AND co.contype IN ('p', 'u', 'c', 'f', 'x')
  AND (n.nspname, c.relname) IS DISTINCT FROM ($2, $3)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
