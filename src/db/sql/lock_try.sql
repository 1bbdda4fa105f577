-- One try for the migration lock ($1: its key), inside the lock's own
-- transaction, which stays open and idle while migrations run on the other
-- connection.
SELECT pg_catalog.pg_try_advisory_xact_lock($1)
