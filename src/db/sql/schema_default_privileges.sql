-- Default privileges (ALTER DEFAULT PRIVILEGES) set up in the compared
-- schemas ($1), and the global ones (defaclnamespace 0, schema NULL), which
-- apply in every schema, the compared ones included. The ACL comes as text
-- (aclitem has no binary form) with the default it is set against: a global
-- entry replaces acldefault, so it can grant and revoke; a schema's entry
-- adds to it (NULL: it only grants).
SELECT pg_get_userbyid(d.defaclrole) AS role,
       n.nspname AS schema,
       d.defaclobjtype::text AS objtype,
       d.defaclacl::text[] AS acl,
       CASE WHEN d.defaclnamespace = 0
            THEN acldefault(CASE WHEN d.defaclobjtype = 'S' THEN 's' ELSE d.defaclobjtype END, d.defaclrole)::text[]
            END AS default_acl
FROM pg_default_acl d
LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
WHERE d.defaclnamespace = 0 OR n.nspname = ANY ($1)
