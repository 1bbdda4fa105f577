-- The history table's schema, when SCHEMAGATE_HISTORY_TABLE names one. {schema} is a quoted identifier.
CREATE SCHEMA IF NOT EXISTS {schema};
