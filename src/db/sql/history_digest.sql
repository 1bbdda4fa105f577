-- The history in one row, for the run that finds nothing to do (every pod
-- restart): the number of rows, how many are not settled (failed, or left
-- unfinished by a no-transaction migration), and a SHA-256 over one line
-- per row, each ending in a newline, in byte order: `V <version> <checksum>`
-- for a versioned migration, `R <checksum> <name>` for a repeatable one.
-- The client computes the same over its files (reconcile::head_digest); when
-- they agree the database is at head, and the rows are not sent at all.
SELECT pg_catalog.count(*) AS rows,
       pg_catalog.count(*) FILTER (WHERE NOT success OR finished_at IS NULL) AS unsettled,
       pg_catalog.encode(
           pg_catalog.sha256(pg_catalog.convert_to(
               pg_catalog.string_agg(line, E'\n' ORDER BY line COLLATE "C") || E'\n', 'UTF8')),
           'hex') AS sha256
FROM (SELECT success,
             finished_at,
             CASE WHEN migration_version IS NULL THEN 'R ' || checksum || ' ' || name
                  ELSE 'V ' || migration_version || ' ' || checksum
             END AS line
      FROM {table}) h
