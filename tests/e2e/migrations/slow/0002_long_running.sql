-- Stands in for a long data migration; the e2e test stops the container
-- while this sleeps and expects the whole transaction rolled back.
CREATE TABLE e2e_gadgets (id bigint PRIMARY KEY);
SELECT pg_sleep(300);
