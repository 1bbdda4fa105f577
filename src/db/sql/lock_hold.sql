-- Sent right after the try, in the same pipeline, with the simple protocol.
-- It keeps the server's idle-in-transaction and statement timeouts from
-- ending the transaction (and with it, the lock) while migrations run on
-- the other connection. Being a simple query, it also drops the extended
-- protocol's unnamed portal of the try, which would otherwise keep a
-- snapshot (backend_xmin) for as long as the transaction lasts; a `CREATE
-- INDEX CONCURRENTLY` in a no-transaction migration waits for every
-- transaction with a snapshot, so it would wait for the lock's transaction,
-- which waits for it: a deadlock.
SET LOCAL idle_in_transaction_session_timeout = 0;
SET LOCAL statement_timeout = 0;
