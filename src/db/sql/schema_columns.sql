-- Columns of the tables (plain, partitioned, foreign) of the compared schemas
-- ($1), minus the history table ($2 schema, $3 name) and extension members,
-- and the columns of views and materialized views that have privileges of
-- their own. A generated column's expression is in pg_attrdef like a
-- default. The ACL comes as text (aclitem has no binary form); a column's
-- default is no privileges.
-- The comment is looked up per row through pg_description's index, not
-- joined: right after migrations the catalog's statistics are stale, and a
-- join planned on them can compare every column with every comment.
SELECT n.nspname AS schema,
       c.relname AS table_name,
       a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null,
       pg_get_expr(ad.adbin, ad.adrelid) AS default_expr,
       a.attidentity::text AS identity,
       a.attgenerated::text AS generated,
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END AS collation,
       (SELECT d.description FROM pg_description d
         WHERE d.objoid = a.attrelid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum) AS comment,
       a.attacl::text[] AS acl
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE n.nspname = ANY ($1)
  AND (c.relkind IN ('r', 'p', 'f') OR (c.relkind IN ('v', 'm') AND a.attacl IS NOT NULL))
  AND a.attnum > 0
  AND NOT a.attisdropped
  AND (n.nspname, c.relname) IS DISTINCT FROM ($2, $3)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
