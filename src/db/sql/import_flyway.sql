-- Flyway: one row per applied versioned migration (repeatables have no version).
SELECT version::text, success FROM flyway_schema_history WHERE version IS NOT NULL ORDER BY installed_rank
