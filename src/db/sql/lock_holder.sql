-- Who holds the migration lock: the session holding the advisory lock whose
-- bigint key is split into classid (high 32 bits) and objid (low 32 bits).
SELECT a.pid,
       coalesce(a.application_name, '') AS application_name,
       coalesce(host(a.client_addr), 'local socket') AS client,
       coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '') AS since
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory'
  AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = $1
  AND l.objid::bigint = $2
  AND l.objsubid = 1
LIMIT 1
