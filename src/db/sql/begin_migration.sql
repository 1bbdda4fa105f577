BEGIN;
SELECT set_config('schemagate.in_migration', 'on', true);
