//! Applying one migration file.

use std::time::Instant;

use tokio_postgres::error::ErrorPosition;
use tokio_postgres::types::{ToSql, Type};

use super::{describe, history::sql_for, Session};
use crate::config::TableName;
use crate::error::{Error, MigrationFailure};
use crate::migration::{MigrationFile, TransactionMode};
use crate::signal::Interrupt;
use crate::sqltext::{line_col, split_statements};

const BEGIN: &str = include_str!("sql/begin_migration.sql");
const INSERT_APPLIED: &str = include_str!("sql/insert_applied.sql");
const INSERT_OUTCOME: &str = include_str!("sql/insert_outcome.sql");

/// What the caller needs besides the file.
pub struct Target<'a> {
    pub table: &'a TableName,
    pub applied_by: &'a str,
    pub history: HistoryState,
}

/// Whether the history was empty before this run: a 42P07 on the first file
/// then means the schema was created by something else (seed 002).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryState {
    Empty,
    NonEmpty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Recorded,
    /// The file ran without error but its row was not written: the file ended
    /// our transaction itself. The post-run check reports it (exit 6).
    NotRecorded,
}

/// Applies `file`. On SIGTERM/SIGINT the running statement is cancelled on
/// the server, the transaction rolls back, and only then do we return.
pub async fn apply(
    session: &Session,
    file: &MigrationFile,
    target: &Target<'_>,
    interrupt: &Interrupt,
) -> Result<Outcome, Error> {
    let work = async {
        match file.transaction {
            TransactionMode::PerMigration => transactional(session, file, target).await,
            TransactionMode::None => statement_by_statement(session, file, target).await,
        }
    };
    tokio::pin!(work);
    tokio::select! {
        r = &mut work => r,
        sig = interrupt.recv() => {
            session.cancel().await;
            let _ = work.await;
            Err(Error::Interrupted(sig))
        }
    }
}

/// BEGIN, the file, its history row and COMMIT go out as one pipeline: one
/// round trip per migration, and the row commits with the migration or not at
/// all. If the file fails, the server rejects the rest of the transaction and
/// COMMIT becomes a rollback.
async fn transactional(session: &Session, file: &MigrationFile, target: &Target<'_>) -> Result<Outcome, Error> {
    let c = &session.client;
    let insert = sql_for(INSERT_APPLIED, target.table);
    let params: [(&(dyn ToSql + Sync), Type); 4] = [
        (&file.version, Type::INT8),
        (&file.name, Type::TEXT),
        (&file.checksum, Type::TEXT),
        (&target.applied_by, Type::TEXT),
    ];
    let (begin, body, row, commit) = tokio::join!(
        biased;
        c.batch_execute(BEGIN),
        c.batch_execute(&file.sql),
        c.query_typed(&insert, &params),
        c.batch_execute("COMMIT")
    );
    begin.map_err(|e| failure(file, &e, 0, target))?;
    body.map_err(|e| failure(file, &e, 0, target))?;
    let rows = row.map_err(|e| failure(file, &e, 0, target))?;
    commit.map_err(|e| failure(file, &e, 0, target))?;
    Ok(if rows.is_empty() {
        Outcome::NotRecorded
    } else {
        Outcome::Recorded
    })
}

/// `-- schemagate:no-transaction`: each statement on its own (a multi-statement
/// query string would be an implicit transaction, which CREATE INDEX
/// CONCURRENTLY refuses). A failure is recorded as `success=false`, because
/// the statements before it stay applied.
async fn statement_by_statement(
    session: &Session,
    file: &MigrationFile,
    target: &Target<'_>,
) -> Result<Outcome, Error> {
    let start = Instant::now();
    let mut result = Ok(());
    for stmt in split_statements(&file.sql) {
        if let Err(e) = session.client.batch_execute(stmt.sql).await {
            result = Err(failure(file, &e, stmt.char_offset, target));
            break;
        }
    }
    let ms = start.elapsed().as_millis() as i64;
    let success = result.is_ok();
    let insert = sql_for(INSERT_OUTCOME, target.table);
    let recorded = session
        .client
        .query_typed(
            &insert,
            &[
                (&file.version, Type::INT8),
                (&file.name, Type::TEXT),
                (&file.checksum, Type::TEXT),
                (&ms, Type::INT8),
                (&success, Type::BOOL),
                (&target.applied_by, Type::TEXT),
            ],
        )
        .await;
    result?;
    recorded.map_err(|e| failure(file, &e, 0, target))?;
    Ok(Outcome::Recorded)
}

/// Line and column of the first non-blank character at or after `offset`.
fn statement_start(sql: &str, offset: usize) -> Option<(usize, usize)> {
    let blanks = sql.chars().skip(offset).take_while(|c| c.is_whitespace()).count();
    line_col(sql, offset + blanks + 1)
}

/// Everything the server said, with the position turned into line:column of
/// the file (`offset` is where the failing statement starts in the file).
fn failure(file: &MigrationFile, e: &tokio_postgres::Error, offset: usize, target: &Target<'_>) -> Error {
    let non_transactional = file.transaction == TransactionMode::None;
    let mut f = MigrationFailure {
        file: file.file_name.clone(),
        version: file.version,
        non_transactional,
        ..Default::default()
    };
    match e.as_db_error() {
        Some(db) => {
            f.sqlstate = db.code().code().to_string();
            f.message = db.message().to_string();
            f.detail = db.detail().map(str::to_string);
            f.hint = db.hint().map(str::to_string);
            f.context = db.where_().map(str::to_string);
            match db.position() {
                Some(ErrorPosition::Original(p)) => f.location = line_col(&file.sql, offset + *p as usize),
                Some(ErrorPosition::Internal { query, .. }) => f.internal_query = Some(query.clone()),
                // Statement-level errors (a missing column in CREATE INDEX, say)
                // carry no position; in a statement-by-statement file, point
                // at the statement that failed.
                None if non_transactional => f.location = statement_start(&file.sql, offset),
                None => {}
            }
        }
        None => f.message = describe(e),
    }
    if f.sqlstate == "42P07" && target.history == HistoryState::Empty {
        f.advice = Some(
            "the object already exists but the history is empty: this database was set up before schemagate \
             (by hand or by another tool); adopt it with a baseline that records the versions already present \
             instead of running them"
                .into(),
        );
    }
    Error::MigrationFailed(Box::new(f))
}
