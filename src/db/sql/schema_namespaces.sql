-- Every schema that is not the server's own, and where the history table is
-- ($1: its quoted, possibly qualified name), when it exists. This runs before
-- search_path is emptied, so an unqualified name resolves as it does for `run`.
SELECT ARRAY(SELECT nspname::text FROM pg_namespace
              WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
              ORDER BY 1) AS schemas,
       n.nspname::text AS history_schema,
       c.relname::text AS history_table
FROM (SELECT to_regclass($1) AS oid) h
LEFT JOIN pg_class c ON c.oid = h.oid
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
