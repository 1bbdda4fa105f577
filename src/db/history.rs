//! Reading and writing the history table.

use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

use super::{db_error, Param, Session};
use crate::config::{quote_ident, TableName};
use crate::error::Error;
use crate::reconcile::{History, HistoryRow, RepeatableRow};

const CREATE_SCHEMA: &str = include_str!("sql/create_schema.sql");
const CREATE_TABLE: &str = include_str!("sql/create_history.sql");
const READ: &str = include_str!("sql/read_history.sql");
const INSERT_BASELINE: &str = include_str!("sql/insert_baseline.sql");
const UPDATE_CHECKSUM: &str = include_str!("sql/update_checksum.sql");
pub const DELETE_VERSION: &str = include_str!("sql/delete_version.sql");

/// SQL text for the history table, with the (quoted) table name in place.
/// Identifiers cannot be bound as parameters; values always are.
pub fn sql_for(template: &str, table: &TableName) -> String {
    template.replace("{table}", &table.quoted())
}

fn table_error(what: &str, table: &TableName) -> impl FnOnce(tokio_postgres::Error) -> Error {
    db_error(format!("{what} the history table {}", table.quoted()))
}

/// The history, or `None` when the table does not exist yet (42P01).
pub async fn read(session: &Session, table: &TableName) -> Result<Option<History>, Error> {
    let rows = match session.client.query_typed(&sql_for(READ, table), &[]).await {
        Ok(rows) => rows,
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(None),
        Err(e) => return Err(table_error("reading", table)(e)),
    };
    let mut history = History::default();
    for r in &rows {
        match r.get::<_, Option<i64>>(0) {
            Some(version) => history.rows.push(HistoryRow {
                version,
                name: r.get(1),
                checksum: r.get(2),
                kind: r.get(3),
                applied_at: r.get(4),
                execution_ms: r.get(5),
                success: r.get(6),
                applied_by: r.get(7),
            }),
            None => history.repeatables.push(RepeatableRow {
                name: r.get(1),
                checksum: r.get(2),
                applied_at: r.get(4),
            }),
        }
    }
    Ok(Some(history))
}

/// Creates the schema (if one is named) and the table. Runs under the lock,
/// so concurrent runners never race on `CREATE TABLE IF NOT EXISTS`.
pub async fn create(session: &Session, table: &TableName) -> Result<(), Error> {
    let mut sql = String::new();
    if let Some(schema) = &table.schema {
        sql.push_str(&CREATE_SCHEMA.replace("{schema}", &quote_ident(schema)));
    }
    sql.push_str(&sql_for(CREATE_TABLE, table));
    session
        .client
        .batch_execute(&sql)
        .await
        .map_err(table_error("creating", table))
}

/// Reads the history, creating the table first if it is missing.
pub async fn read_or_create(session: &Session, table: &TableName) -> Result<History, Error> {
    match read(session, table).await? {
        Some(history) => Ok(history),
        None => {
            create(session, table).await?;
            Ok(History::default())
        }
    }
}

/// Records versions as `kind=baseline` in one statement.
pub async fn insert_baseline(
    session: &Session,
    table: &TableName,
    entries: &[(i64, String, String)],
    applied_by: &str,
) -> Result<(), Error> {
    let versions: Vec<i64> = entries.iter().map(|e| e.0).collect();
    let names: Vec<&str> = entries.iter().map(|e| e.1.as_str()).collect();
    let checksums: Vec<&str> = entries.iter().map(|e| e.2.as_str()).collect();
    let params: [Param; 4] = [
        (&versions, Type::INT8_ARRAY),
        (&names, Type::TEXT_ARRAY),
        (&checksums, Type::TEXT_ARRAY),
        (&applied_by, Type::TEXT),
    ];
    session
        .client
        .query_typed(&sql_for(INSERT_BASELINE, table), &params)
        .await
        .map(drop)
        .map_err(table_error("writing baseline rows to", table))
}

pub async fn update_checksum(session: &Session, table: &TableName, version: i64, checksum: &str) -> Result<(), Error> {
    let params: [Param; 2] = [(&version, Type::INT8), (&checksum, Type::TEXT)];
    session
        .client
        .query_typed(&sql_for(UPDATE_CHECKSUM, table), &params)
        .await
        .map(drop)
        .map_err(table_error("updating", table))
}

pub async fn delete_version(session: &Session, table: &TableName, version: i64) -> Result<(), Error> {
    session
        .client
        .query_typed(&sql_for(DELETE_VERSION, table), &[(&version, Type::INT8)])
        .await
        .map(drop)
        .map_err(table_error("deleting from", table))
}
