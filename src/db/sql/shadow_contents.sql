-- What makes a given shadow database not empty: the migrations are applied
-- to it from the first file, so anything already there would make them fail
-- or measure something else. The first few objects, for the message.
SELECT what FROM (
    SELECT 'schema ' || n.nspname AS what
    FROM pg_catalog.pg_namespace n
    WHERE n.nspname NOT IN ('public', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_%'
    UNION ALL
    SELECT 'relation ' || n.nspname || '.' || c.relname
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_toast%'
      AND n.nspname NOT LIKE 'pg\_temp\_%'
    UNION ALL
    SELECT 'function ' || n.nspname || '.' || p.proname
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
    UNION ALL
    SELECT 'extension ' || e.extname
    FROM pg_catalog.pg_extension e
    WHERE e.extname <> 'plpgsql'
) objects
ORDER BY what
LIMIT 10
