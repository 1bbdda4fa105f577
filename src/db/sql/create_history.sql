-- The history table. {table} is a quoted, possibly schema-qualified identifier.
-- One row per versioned migration (`version` is unique, so a second runner that
-- somehow got past the lock cannot record a version twice), and one row per
-- repeatable migration (`version` NULL, `kind` 'repeatable', keyed by name).
CREATE TABLE IF NOT EXISTS {table} (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version      bigint      UNIQUE,
    name         text        NOT NULL,
    checksum     text        NOT NULL,
    kind         text        NOT NULL DEFAULT 'sql',
    applied_at   timestamptz NOT NULL DEFAULT now(),
    execution_ms bigint      NOT NULL DEFAULT 0,
    success      boolean     NOT NULL,
    applied_by   text        NOT NULL DEFAULT ''
);
