-- The owners of the compared schemas ($1), by role name.
SELECT n.nspname AS name,
       pg_get_userbyid(n.nspowner) AS owner
FROM pg_namespace n
WHERE n.nspname = ANY ($1)
