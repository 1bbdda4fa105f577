-- A verify script runs in a read-only transaction that is rolled back. The
-- session default is made read-only too, so that a script that ends the
-- transaction itself (COMMIT) still cannot write.
SET default_transaction_read_only = on;
BEGIN READ ONLY
