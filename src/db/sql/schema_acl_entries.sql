-- The entries of each object of the `acls` CTE this text is appended to
-- (schema_privileges.sql, schema_default_privileges.sql), set against its
-- default: those the ACL holds beyond the default (granted), and those of
-- the default it lacks (revoked). A NULL ACL holds exactly the default; so
-- does an explicit ACL equal to it: neither gives a row. The grantor is left
-- out, and role 0 is PUBLIC.
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
