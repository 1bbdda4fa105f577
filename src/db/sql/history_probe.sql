-- What the catalog says about the history table ($1: its quoted, qualified
-- name) and its schema ($2: the quoted schema name), with no error when
-- either is missing: a healthy first run leaves no ERROR in the server log,
-- where DBAs look for them. The comment holds the format marker.
SELECT pg_catalog.to_regnamespace($2) IS NOT NULL AS schema_exists,
       c.oid IS NOT NULL AS table_exists,
       pg_catalog.obj_description(c.oid, 'pg_class') AS comment,
       ARRAY(SELECT a.attname::text
               FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum) AS columns
FROM (SELECT pg_catalog.to_regclass($1) AS oid) c
