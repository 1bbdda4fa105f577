-- The first statement of a writer's session (and of a reader's that asks for
-- target_session_attrs): whether the server can take it. A standby in
-- recovery, or a read-only server, is "not ready yet" for `run`.
SELECT pg_catalog.pg_is_in_recovery(),
       pg_catalog.current_setting('transaction_read_only') = 'on'
