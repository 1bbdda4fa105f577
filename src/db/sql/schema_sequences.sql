-- Sequences of the compared schemas ($1) with their parameters and the column
-- that owns them (serial). Identity sequences are described by their column,
-- extension members by their extension. The ACL comes as text, with its
-- default when there is one (as in schema_relations.sql).
SELECT n.nspname AS schema,
       c.relname AS name,
       format_type(s.seqtypid, NULL) AS data_type,
       s.seqstart AS start_value,
       s.seqincrement AS increment,
       s.seqmin AS min_value,
       s.seqmax AS max_value,
       s.seqcache AS cache,
       s.seqcycle AS cycle,
       pg_get_userbyid(c.relowner) AS owner,
       c.relacl::text[] AS acl,
       CASE WHEN c.relacl IS NOT NULL THEN acldefault('s', c.relowner)::text[] END AS default_acl,
       (SELECT on_.nspname || '.' || oc.relname || '.' || a.attname
          FROM pg_depend d
          JOIN pg_class oc ON oc.oid = d.refobjid
          JOIN pg_namespace on_ ON on_.oid = oc.relnamespace
          JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
           AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype = 'a') AS owned_by
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('e', 'i'))
