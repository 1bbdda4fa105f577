-- Shadow databases (SCHEMAGATE_SHADOW_URL=auto) that no session is connected
-- to: left by a run that was killed before it could drop its own. The
-- caller keeps those created in the last minutes, whose run may not have
-- connected yet; their creation time is in their name.
SELECT d.datname
FROM pg_catalog.pg_database d
WHERE d.datname LIKE 'schemagate\_shadow\_%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.datname = d.datname
  )
ORDER BY 1
