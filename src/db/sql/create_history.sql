-- The history table, format 2 (see src/history_format.rs). {table} is a
-- quoted, schema-qualified identifier, {marker} the format marker as a
-- literal (COMMENT takes no parameters; the text is our own constant).
-- One row per versioned migration: `migration_version` is the canonical
-- version text (1, 1.1, 20240101120000) and unique, so a runner that somehow
-- got past the lock cannot record a version twice. One row per repeatable
-- migration (`migration_version` NULL, `kind` 'repeatable', keyed by name).
-- `finished_at` is NULL only while a no-transaction migration runs (or after
-- it was killed): the next run refuses until it is repaired.
CREATE TABLE {table} (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    migration_version text        UNIQUE,
    name              text        NOT NULL,
    checksum          text        NOT NULL,
    kind              text        NOT NULL DEFAULT 'sql',
    applied_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    finished_at       timestamptz,
    execution_ms      bigint      NOT NULL DEFAULT 0,
    success           boolean     NOT NULL,
    applied_by        text        NOT NULL DEFAULT '',
    restore_point     text
);
COMMENT ON TABLE {table} IS {marker};
