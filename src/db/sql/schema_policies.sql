-- Row-level security policies on the tables of the compared schemas ($1),
-- with the USING and WITH CHECK expressions deparsed as pg_policies shows
-- them. Role 0 is PUBLIC; the roles are sorted when assembling (byte order,
-- whatever the database's collation). The history table has no policies of
-- ours; any on it are dropped when assembling, with the table.
SELECT n.nspname AS schema,
       c.relname AS table_name,
       p.polname AS name,
       p.polcmd::text AS command,
       p.polpermissive AS permissive,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r)::text END
               FROM unnest(p.polroles) r) AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       pg_get_expr(p.polwithcheck, p.polrelid) AS with_check
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1)
