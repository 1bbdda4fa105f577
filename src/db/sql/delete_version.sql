-- `repair` (failed or forgotten rows) and `down` (inside the down transaction).
DELETE FROM {table} WHERE migration_version = $1
