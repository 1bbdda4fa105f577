-- One consistent, read-only view of the catalog for every snapshot query.
-- It is rolled back at the end: nothing is written.
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY
