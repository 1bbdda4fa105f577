-- The privileges of the relations, their columns, the functions and
-- procedures of the compared schemas ($1), and of those schemas, set against
-- the server's default for each object (acldefault: the owner holds every
-- privilege; PUBLIC may execute functions): the entries granted beyond the
-- default, and those revoked from it. A NULL ACL is the default and gives no
-- row, and so does an explicit ACL equal to it: both grant the same. The
-- grantor is left out, and role 0 is PUBLIC. Only objects with an ACL are
-- read; rows for objects the snapshot leaves out (the history table,
-- extension members, identity sequences) are dropped when assembling.
WITH acls AS (
    SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                ELSE 'table' END AS object_type,
           n.nspname AS schema,
           c.relname::text AS name,
           NULL::name AS column_name,
           c.relacl AS acl,
           acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner) AS default_acl
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY ($1)
      AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
      AND c.relacl IS NOT NULL
    UNION ALL
    SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'table' END,
           n.nspname, c.relname::text, a.attname, a.attacl, acldefault('c', c.relowner)
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY ($1)
      AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
      AND a.attnum > 0
      AND NOT a.attisdropped
      AND a.attacl IS NOT NULL
    UNION ALL
    SELECT 'function', n.nspname, p.proname || '(' || oidvectortypes(p.proargtypes) || ')', NULL,
           p.proacl, acldefault('f', p.proowner)
    FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = ANY ($1)
      AND p.proacl IS NOT NULL
    UNION ALL
    SELECT 'schema', n.nspname, n.nspname::text, NULL, n.nspacl, acldefault('n', n.nspowner)
    FROM pg_namespace n
    WHERE n.nspname = ANY ($1)
      AND n.nspacl IS NOT NULL
)
SELECT o.object_type,
       o.schema,
       o.name,
       o.column_name,
       e.granted,
       CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(e.grantee)::text END AS grantee,
       e.privilege,
       e.grantable
FROM acls o
CROSS JOIN LATERAL (
    (SELECT true AS granted, a.grantee, a.privilege_type AS privilege, a.is_grantable AS grantable
       FROM aclexplode(o.acl) a
     EXCEPT
     SELECT true, d.grantee, d.privilege_type, d.is_grantable FROM aclexplode(o.default_acl) d)
    UNION ALL
    (SELECT false, d.grantee, d.privilege_type, d.is_grantable FROM aclexplode(o.default_acl) d
     EXCEPT
     SELECT false, a.grantee, a.privilege_type, a.is_grantable FROM aclexplode(o.acl) a)
) e
