-- Settings that change how the server prints definitions and defaults, fixed
-- for this transaction so that a schema always prints the same way, whatever
-- the role's or database's settings: an empty search_path schema-qualifies
-- every name (as pg_dump does), and dates and times print in ISO form, in UTC.
SELECT set_config('search_path', '', true),
       set_config('DateStyle', 'ISO, YMD', true),
       set_config('IntervalStyle', 'postgres', true),
       set_config('TimeZone', 'UTC', true),
       set_config('extra_float_digits', '1', true),
       set_config('quote_all_identifiers', 'off', true)
