-- schemagate:no-transaction
-- CREATE INDEX CONCURRENTLY waits for every transaction that might still see
-- the table, including those of runners waiting for the migration lock.
CREATE INDEX CONCURRENTLY IF NOT EXISTS e2e_widgets_name_idx ON e2e_widgets (name);
