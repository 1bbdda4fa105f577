-- Tables, views and materialized views of the compared schemas ($1), minus
-- the history table ($2 schema, $3 name) and objects that belong to an
-- extension. Views carry their definition; partitions their parent and bound.
-- The owner is a role name (not an OID) so that clusters compare. The ACL
-- comes as text (aclitem has no binary form), with its default when there is
-- one to set it against (schema::acl reads both).
-- The comment is looked up per row through pg_description's index, not
-- joined: right after migrations the catalog's statistics are stale, and a
-- join planned on them can compare every column with every comment.
SELECT n.nspname AS schema,
       c.relname AS name,
       c.relkind::text AS relkind,
       c.relpersistence = 'u' AS unlogged,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS definition,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       (SELECT pn.nspname || '.' || pc.relname
          FROM pg_inherits i
          JOIN pg_class pc ON pc.oid = i.inhparent
          JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE c.relispartition AND i.inhrelid = c.oid) AS partition_of,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       pg_get_userbyid(c.relowner) AS owner,
       (SELECT d.description FROM pg_description d
         WHERE d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0) AS comment,
       c.relrowsecurity AS row_security,
       c.relforcerowsecurity AS force_row_security,
       c.relacl::text[] AS acl,
       CASE WHEN c.relacl IS NOT NULL THEN acldefault('r', c.relowner)::text[] END AS default_acl
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1)
  AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
  AND (n.nspname, c.relname) IS DISTINCT FROM ($2, $3)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
