BEGIN;
-- Transaction-local: gone the moment the file ends our transaction itself,
-- which the history statements check (insert_applied.sql).
SET LOCAL schemagate.in_migration = 'on';
