-- The ACLs of the relations, their columns, the functions and procedures of
-- the compared schemas ($1), and of those schemas, with the server's default
-- for each object (acldefault: the owner holds every privilege; PUBLIC may
-- execute functions). schema_acl_entries.sql, appended, turns them into
-- entries. Only objects with an ACL are read; rows for objects the snapshot
-- leaves out (the history table, extension members, identity sequences) are
-- dropped when assembling.
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
