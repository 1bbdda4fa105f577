-- Default privileges (ALTER DEFAULT PRIVILEGES) set up in the compared
-- schemas ($1), and the global ones (defaclnamespace 0, schema NULL), which
-- apply in every schema, the compared ones included. Set against the
-- built-in default, as object privileges are (schema_privileges.sql): a
-- global entry replaces acldefault, so it can both grant and revoke; a
-- schema's entry adds to it, so it only grants (against NULL: nothing). Role 0
-- is PUBLIC.
WITH acls AS (
    SELECT pg_get_userbyid(d.defaclrole) AS role,
           n.nspname AS schema,
           d.defaclobjtype::text AS objtype,
           d.defaclacl AS acl,
           CASE WHEN d.defaclnamespace = 0
                THEN acldefault(CASE WHEN d.defaclobjtype = 'S' THEN 's' ELSE d.defaclobjtype END, d.defaclrole)
                END AS default_acl
    FROM pg_default_acl d
    LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
    WHERE d.defaclnamespace = 0 OR n.nspname = ANY ($1)
)
SELECT o.role,
       o.schema,
       o.objtype,
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
