-- Who blocks backend $1 (a migration waiting for a table lock), for the log
-- line of each DDL lock-timeout retry: pid, application, client, state, how
-- long its transaction has been open, and the start of its query.
SELECT a.pid,
       coalesce(a.application_name, '') AS application_name,
       coalesce(pg_catalog.host(a.client_addr), 'local socket') AS client,
       coalesce(a.state, '') AS state,
       coalesce(extract(epoch FROM pg_catalog.clock_timestamp() - a.xact_start), 0)::float8 AS transaction_age,
       pg_catalog.left(coalesce(a.query, ''), 200) AS query
FROM pg_catalog.pg_stat_activity a
WHERE a.pid = ANY (pg_catalog.pg_blocking_pids($1))
ORDER BY a.xact_start NULLS LAST
