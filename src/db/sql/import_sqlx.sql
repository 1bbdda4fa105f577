-- sqlx: one row per applied migration.
SELECT version::text, success FROM _sqlx_migrations ORDER BY version
