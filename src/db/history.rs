//! Reading and creating the history table.

use super::{describe, Session};
use crate::config::{quote_ident, TableName};
use crate::error::Error;
use crate::history::HistoryRow;

const CREATE_SCHEMA: &str = include_str!("sql/create_schema.sql");
const CREATE_TABLE: &str = include_str!("sql/create_history.sql");
const READ: &str = include_str!("sql/read_history.sql");

/// SQL text for the history table, with the (quoted) table name in place.
/// Identifiers cannot be bound as parameters; values always are.
pub fn sql_for(template: &str, table: &TableName) -> String {
    template.replace("{table}", &table.quoted())
}

/// The rows, or `None` when the table does not exist yet (42P01).
pub async fn read(session: &Session, table: &TableName) -> Result<Option<Vec<HistoryRow>>, Error> {
    let rows = match session.client.query_typed(&sql_for(READ, table), &[]).await {
        Ok(rows) => rows,
        Err(e) if e.code().is_some_and(|c| c.code() == "42P01") => return Ok(None),
        Err(e) => {
            return Err(Error::Database {
                context: format!("reading the history table {}", table.quoted()),
                message: describe(&e),
            })
        }
    };
    Ok(Some(
        rows.iter()
            .map(|r| HistoryRow {
                version: r.get(0),
                name: r.get(1),
                checksum: r.get(2),
                kind: r.get(3),
                applied_at: r.get(4),
                execution_ms: r.get(5),
                success: r.get(6),
                applied_by: r.get(7),
            })
            .collect(),
    ))
}

/// Creates the schema (if one is named) and the table. Runs under the lock,
/// so concurrent runners never race on `CREATE TABLE IF NOT EXISTS`.
pub async fn create(session: &Session, table: &TableName) -> Result<(), Error> {
    let mut sql = String::new();
    if let Some(schema) = &table.schema {
        sql.push_str(&CREATE_SCHEMA.replace("{schema}", &quote_ident(schema)));
    }
    sql.push_str(&sql_for(CREATE_TABLE, table));
    session.client.batch_execute(&sql).await.map_err(|e| Error::Database {
        context: format!("creating the history table {}", table.quoted()),
        message: describe(&e),
    })
}

/// Reads the history, creating the table first if it is missing.
pub async fn read_or_create(session: &Session, table: &TableName) -> Result<Vec<HistoryRow>, Error> {
    match read(session, table).await? {
        Some(rows) => Ok(rows),
        None => {
            create(session, table).await?;
            Ok(Vec::new())
        }
    }
}
