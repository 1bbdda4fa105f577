//! Reading what is already in a database schemagate did not create: the
//! application's tables, and other tools' history tables.

use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

use super::{db_error, Session};
use crate::adoption::{ForeignRow, Tool};
use crate::config::TableName;
use crate::error::Error;

const USER_TABLES: &str = include_str!("sql/user_tables.sql");

/// `schema.table` of every application table.
pub async fn user_tables(session: &Session, history: &TableName) -> Result<Vec<String>, Error> {
    let name = history.quoted();
    let rows = session
        .client
        .query_typed(USER_TABLES, &[(&name, Type::TEXT)])
        .await
        .map_err(db_error("listing tables"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

fn query_for(tool: Tool) -> &'static str {
    match tool {
        Tool::Alembic => include_str!("sql/import_alembic.sql"),
        Tool::Flyway => include_str!("sql/import_flyway.sql"),
        Tool::GolangMigrate => include_str!("sql/import_golang_migrate.sql"),
        Tool::Dbmate => include_str!("sql/import_dbmate.sql"),
        Tool::Sqlx => include_str!("sql/import_sqlx.sql"),
    }
}

/// The other tool's history, or `None` when its table does not exist.
pub async fn read(session: &Session, tool: Tool) -> Result<Option<Vec<ForeignRow>>, Error> {
    match session.client.query_typed(query_for(tool), &[]).await {
        Ok(rows) => Ok(Some(
            rows.iter()
                .map(|r| ForeignRow {
                    id: r.get(0),
                    success: r.get(1),
                })
                .collect(),
        )),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(None),
        Err(e) => Err(db_error(format!("reading {}", tool.table()))(e)),
    }
}
