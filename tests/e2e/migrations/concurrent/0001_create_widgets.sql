-- Slow enough that every other runner is already waiting for the lock when
-- the next file runs.
CREATE TABLE e2e_widgets (id bigint PRIMARY KEY, name text NOT NULL);
SELECT pg_sleep(3);
