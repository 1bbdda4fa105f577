-- golang-migrate: a single row, the current version and its dirty flag.
SELECT version::text, NOT dirty FROM schema_migrations
