-- `repair`: accept an applied file that was edited on purpose.
UPDATE {table} SET checksum = $2 WHERE migration_version = $1
