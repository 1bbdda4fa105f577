-- Functions and procedures of the compared schemas ($1), minus extension
-- members and aggregates. The body is hashed on the server so that large
-- bodies do not travel: prosrc, or for a SQL-standard body (BEGIN ATOMIC,
-- where prosrc is empty) the whole definition. The ACL comes as text, with
-- its default when there is one, and the comment is looked up per row (both
-- as in schema_relations.sql).
SELECT n.nspname AS schema,
       p.proname AS name,
       oidvectortypes(p.proargtypes) AS argument_types,
       pg_get_function_arguments(p.oid) AS arguments,
       p.prokind::text AS prokind,
       pg_get_function_result(p.oid) AS result,
       l.lanname AS language,
       p.provolatile::text AS volatility,
       p.proisstrict AS strict,
       p.prosecdef AS security_definer,
       p.proparallel::text AS parallel,
       array_to_string(p.proconfig, ', ') AS config,
       encode(sha256(convert_to(CASE WHEN p.prosrc = '' THEN pg_get_functiondef(p.oid) ELSE p.prosrc END,
                                'UTF8')), 'hex') AS body_sha256,
       pg_get_userbyid(p.proowner) AS owner,
       (SELECT d.description FROM pg_description d
         WHERE d.objoid = p.oid AND d.classoid = 'pg_proc'::regclass AND d.objsubid = 0) AS comment,
       p.proacl::text[] AS acl,
       CASE WHEN p.proacl IS NOT NULL THEN acldefault('f', p.proowner)::text[] END AS default_acl
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE n.nspname = ANY ($1)
  AND p.prokind IN ('f', 'p', 'w')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                   WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
