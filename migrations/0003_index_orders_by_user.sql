-- schemagate:no-transaction
-- Built CONCURRENTLY so that adding it to a busy table does not block writes;
-- that needs the statement outside a transaction, hence the directive above.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id_idx ON orders (user_id);
