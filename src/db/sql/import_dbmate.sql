-- dbmate: one row per applied migration (its timestamp version).
SELECT version::text, true FROM schema_migrations ORDER BY version
