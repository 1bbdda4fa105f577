-- Alembic: one row per head revision.
SELECT version_num::text, true FROM alembic_version ORDER BY 1
