-- The history table. {table} is a quoted, possibly schema-qualified identifier.
-- `version` is the primary key: one row per migration, and a second runner
-- that somehow got past the lock cannot record the same version twice.
CREATE TABLE IF NOT EXISTS {table} (
    version      bigint      PRIMARY KEY,
    name         text        NOT NULL,
    checksum     text        NOT NULL,
    kind         text        NOT NULL DEFAULT 'sql',
    applied_at   timestamptz NOT NULL DEFAULT now(),
    execution_ms bigint      NOT NULL DEFAULT 0,
    success      boolean     NOT NULL,
    applied_by   text        NOT NULL DEFAULT ''
);
