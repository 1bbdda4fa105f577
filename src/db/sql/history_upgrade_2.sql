-- Format 1 (schemagate 0.1) to format 2: versions become canonical text
-- (Flyway's dotted versions do not fit a bigint), in a column of a new name
-- so that a 0.1 binary stops at its first query instead of misreading it;
-- `finished_at` marks no-transaction migrations that did not finish, and
-- `restore_point` names the point taken before the run that applied a row.
-- Runs under the migration lock, in one transaction with the new marker.
ALTER TABLE {table} RENAME COLUMN version TO migration_version;
ALTER TABLE {table} ALTER COLUMN migration_version TYPE text USING migration_version::text;
ALTER TABLE {table} ADD COLUMN finished_at timestamptz, ADD COLUMN restore_point text;
UPDATE {table} SET finished_at = applied_at;
