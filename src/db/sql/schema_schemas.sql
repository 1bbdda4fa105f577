-- The owners and privileges of the compared schemas ($1), by role name. The
-- ACL comes as text (aclitem has no binary form), with its default when
-- there is one to set it against.
SELECT n.nspname AS name,
       pg_get_userbyid(n.nspowner) AS owner,
       n.nspacl::text[] AS acl,
       CASE WHEN n.nspacl IS NOT NULL THEN acldefault('n', n.nspowner)::text[] END AS default_acl
FROM pg_namespace n
WHERE n.nspname = ANY ($1)
