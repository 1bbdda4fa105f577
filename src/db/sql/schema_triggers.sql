-- User triggers (not the internal ones behind foreign keys) on relations of
-- the compared schemas ($1), minus the history table ($2 schema, $3 name).
SELECT n.nspname AS schema,
       c.relname AS table_name,
       t.tgname AS name,
       pg_get_triggerdef(t.oid) AS definition,
       t.tgenabled::text AS enabled
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1)
  AND NOT t.tgisinternal
  AND (n.nspname, c.relname) IS DISTINCT FROM ($2, $3)
