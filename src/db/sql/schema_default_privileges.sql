-- Default privileges (ALTER DEFAULT PRIVILEGES) set up in the compared
-- schemas ($1), and the global ones (defaclnamespace 0, schema NULL), which
-- apply in every schema, the compared ones included, with the default each
-- is set against: a global entry replaces acldefault, so it can both grant
-- and revoke; a schema's entry adds to it, so it only grants (its default is
-- NULL: nothing). schema_acl_entries.sql, appended, turns them into entries;
-- in its columns, `object_type` is defaclobjtype (r, S, f, T, n) and `name`
-- the role.
WITH acls AS (
    SELECT d.defaclobjtype::text AS object_type,
           n.nspname AS schema,
           pg_get_userbyid(d.defaclrole)::text AS name,
           NULL::name AS column_name,
           d.defaclacl AS acl,
           CASE WHEN d.defaclnamespace = 0
                THEN acldefault(CASE WHEN d.defaclobjtype = 'S' THEN 's' ELSE d.defaclobjtype END, d.defaclrole)
                END AS default_acl
    FROM pg_default_acl d
    LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
    WHERE d.defaclnamespace = 0 OR n.nspname = ANY ($1)
)
