-- Extensions installed in the compared schemas ($1).
SELECT e.extname AS name, n.nspname AS schema, e.extversion AS version,
       pg_get_userbyid(e.extowner) AS owner
FROM pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE n.nspname = ANY ($1)
