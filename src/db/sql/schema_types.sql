-- Enum, domain, composite and range types of the compared schemas ($1),
-- minus extension members and the row types that every table has.
SELECT n.nspname AS schema,
       t.typname AS name,
       t.typtype::text AS typtype,
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
       t.typnotnull AS not_null,
       t.typdefault AS default_expr,
       ARRAY(SELECT co.conname::text FROM pg_constraint co
              WHERE co.contypid = t.oid AND co.contype = 'c' ORDER BY co.conname) AS constraint_names,
       ARRAY(SELECT pg_get_constraintdef(co.oid) FROM pg_constraint co
              WHERE co.contypid = t.oid AND co.contype = 'c' ORDER BY co.conname) AS constraint_definitions,
       ARRAY(SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
              WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS attributes,
       (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid) AS subtype,
       pg_get_userbyid(t.typowner) AS owner
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_class rc ON rc.oid = t.typrelid
WHERE n.nspname = ANY ($1)
  AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND rc.relkind = 'c'))
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                   WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
