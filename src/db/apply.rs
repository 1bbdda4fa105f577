//! Applying one migration file (up, down or repeatable).

use std::time::Instant;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Statement;

use super::{db_error, history::sql_for, interruptible, server_error, Param, Session, Unplaced};
use crate::config::TableName;
use crate::error::{Error, MigrationFailure};
use crate::migration::{DownScript, MigrationFile, RepeatableFile, TransactionMode, Version};
use crate::signal::Interrupt;
use crate::sqltext::split_statements;

const BEGIN: &str = include_str!("sql/begin_migration.sql");
const INSERT_APPLIED: &str = include_str!("sql/insert_applied.sql");
const INSERT_OUTCOME: &str = include_str!("sql/insert_outcome.sql");
const RECORD_REPEATABLE: &str = include_str!("sql/record_repeatable.sql");

/// What the caller needs besides the file.
pub struct Recorder<'a> {
    pub table: &'a TableName,
    pub applied_by: &'a str,
    pub history: HistoryState,
    /// The history INSERT, prepared once per run (see [`prepare_insert`]).
    pub insert: Option<Statement>,
}

/// Prepares the history INSERT once, so each migration's pipeline binds and
/// executes it instead of parsing and planning it again (bench case a).
pub async fn prepare_insert(session: &Session, table: &TableName) -> Result<Statement, Error> {
    prepare(
        session,
        &sql_for(INSERT_APPLIED, table),
        &[Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT],
    )
    .await
}

async fn prepare(session: &Session, sql: &str, types: &[Type]) -> Result<Statement, Error> {
    session
        .client
        .prepare_typed(sql, types)
        .await
        .map_err(db_error("preparing a history statement"))
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

/// The SQL being run and where it came from, for error reports.
struct Unit<'a> {
    file_name: &'a str,
    /// `None` for a repeatable migration.
    version: Option<&'a Version>,
    sql: &'a str,
    transaction: TransactionMode,
}

pub async fn apply(
    session: &Session,
    file: &MigrationFile,
    recorder: &Recorder<'_>,
    interrupt: &Interrupt,
) -> Result<Outcome, Error> {
    let unit = Unit {
        file_name: &file.file_name,
        version: Some(&file.version),
        sql: &file.sql,
        transaction: file.transaction,
    };
    let work = async {
        match file.transaction {
            TransactionMode::PerMigration => {
                let insert = match &recorder.insert {
                    Some(stmt) => stmt.clone(),
                    None => prepare_insert(session, recorder.table).await?,
                };
                let version = file.version.to_string();
                let params: [&(dyn ToSql + Sync); 4] = [&version, &file.name, &file.checksum, &recorder.applied_by];
                let rows = pipelined(session, &unit, &insert, &params, recorder).await?;
                Ok(if rows == 0 {
                    Outcome::NotRecorded
                } else {
                    Outcome::Recorded
                })
            }
            TransactionMode::None => statement_by_statement(session, file, &unit, recorder).await,
        }
    };
    interruptible(session, interrupt, work).await
}

/// `down`: the down script and the deletion of the history row, together.
pub async fn apply_down(
    session: &Session,
    version: &Version,
    down: &DownScript,
    recorder: &Recorder<'_>,
    interrupt: &Interrupt,
) -> Result<(), Error> {
    let unit = Unit {
        file_name: &down.file_name,
        version: Some(version),
        sql: &down.sql,
        transaction: down.transaction,
    };
    let work = async {
        match down.transaction {
            TransactionMode::PerMigration => {
                let delete = prepare(
                    session,
                    &sql_for(super::history::DELETE_VERSION, recorder.table),
                    &[Type::TEXT],
                )
                .await?;
                let text = version.to_string();
                pipelined(session, &unit, &delete, &[&text], recorder).await.map(drop)
            }
            TransactionMode::None => {
                run_statements(session, &unit, recorder).await?;
                super::history::delete_version(session, recorder.table, version).await
            }
        }
    };
    interruptible(session, interrupt, work).await
}

/// A repeatable migration and its (replaced) history row, together.
pub async fn apply_repeatable(
    session: &Session,
    file: &RepeatableFile,
    recorder: &Recorder<'_>,
    interrupt: &Interrupt,
) -> Result<Outcome, Error> {
    let unit = Unit {
        file_name: &file.file_name,
        version: None,
        sql: &file.sql,
        transaction: TransactionMode::PerMigration,
    };
    let params: [&(dyn ToSql + Sync); 3] = [&file.name, &file.checksum, &recorder.applied_by];
    let work = async {
        let sql = sql_for(RECORD_REPEATABLE, recorder.table);
        let record = prepare(session, &sql, &[Type::TEXT, Type::TEXT, Type::TEXT]).await?;
        let rows = pipelined(session, &unit, &record, &params, recorder).await?;
        Ok(if rows == 0 {
            Outcome::NotRecorded
        } else {
            Outcome::Recorded
        })
    };
    interruptible(session, interrupt, work).await
}

/// BEGIN, the file, the history statement and COMMIT go out as one pipeline:
/// one round trip per migration, and the history change commits with the
/// migration or not at all. If the file fails, the server rejects the rest of
/// the transaction and COMMIT becomes a rollback. Returns the rows the
/// history statement returned.
async fn pipelined(
    session: &Session,
    unit: &Unit<'_>,
    record: &Statement,
    params: &[&(dyn ToSql + Sync)],
    recorder: &Recorder<'_>,
) -> Result<usize, Error> {
    let _notices = super::notices::applying(unit.file_name, unit.sql);
    let c = &session.client;
    let (begin, body, row, commit) = tokio::join!(
        biased;
        c.batch_execute(BEGIN),
        c.batch_execute(unit.sql),
        c.query(record, params),
        c.batch_execute("COMMIT")
    );
    begin.map_err(|e| failure(unit, &e, 0, recorder))?;
    body.map_err(|e| failure(unit, &e, 0, recorder))?;
    let rows = row.map_err(|e| failure(unit, &e, 0, recorder))?;
    commit.map_err(|e| failure(unit, &e, 0, recorder))?;
    Ok(rows.len())
}

/// Each statement on its own (a multi-statement query string would be an
/// implicit transaction, which CREATE INDEX CONCURRENTLY refuses).
async fn run_statements(session: &Session, unit: &Unit<'_>, recorder: &Recorder<'_>) -> Result<(), Error> {
    let notices = super::notices::applying(unit.file_name, unit.sql);
    for stmt in split_statements(unit.sql) {
        notices.at(stmt.char_offset);
        if let Err(e) = session.client.batch_execute(stmt.sql).await {
            return Err(failure(unit, &e, stmt.char_offset, recorder));
        }
    }
    Ok(())
}

/// `-- schemagate:no-transaction`: a failure is recorded as `success=false`,
/// because the statements before it stay applied.
async fn statement_by_statement(
    session: &Session,
    file: &MigrationFile,
    unit: &Unit<'_>,
    recorder: &Recorder<'_>,
) -> Result<Outcome, Error> {
    let start = Instant::now();
    let result = run_statements(session, unit, recorder).await;
    let ms = start.elapsed().as_millis() as i64;
    let success = result.is_ok();
    let version = file.version.to_string();
    let params: [Param; 6] = [
        (&version, Type::TEXT),
        (&file.name, Type::TEXT),
        (&file.checksum, Type::TEXT),
        (&ms, Type::INT8),
        (&success, Type::BOOL),
        (&recorder.applied_by, Type::TEXT),
    ];
    let recorded = session
        .client
        .query_typed(&sql_for(INSERT_OUTCOME, recorder.table), &params)
        .await;
    result?;
    recorded.map_err(|e| failure(unit, &e, 0, recorder))?;
    Ok(Outcome::Recorded)
}

/// Everything the server said, with the position turned into line:column of
/// the file (`offset` is where the failing statement starts in the file).
fn failure(unit: &Unit<'_>, e: &tokio_postgres::Error, offset: usize, recorder: &Recorder<'_>) -> Error {
    let non_transactional = unit.transaction == TransactionMode::None;
    // Statement-level errors (a missing column in CREATE INDEX, say) carry no
    // position; in a statement-by-statement file, point at the statement.
    let unplaced = if non_transactional {
        Unplaced::StatementStart
    } else {
        Unplaced::Nowhere
    };
    let error = server_error(e, unit.sql, offset, unplaced);
    let advice =
        (error.sqlstate == SqlState::DUPLICATE_TABLE.code() && recorder.history == HistoryState::Empty).then(|| {
            "the object already exists but the history is empty: this database was set up before schemagate \
             (by hand or by another tool); adopt it with `schemagate baseline --version <the last version already \
             present>` instead of running those files"
                .to_string()
        });
    let advice = advice.or_else(|| no_transaction_advice(unit, &error));
    Error::MigrationFailed(Box::new(MigrationFailure {
        file: unit.file_name.to_string(),
        version: unit.version.cloned(),
        error,
        non_transactional,
        advice,
    }))
}

/// SQLSTATE 25001: the statement cannot run inside a transaction block;
/// say which directive lets it run.
fn no_transaction_advice(unit: &Unit<'_>, error: &crate::error::ServerError) -> Option<String> {
    (error.sqlstate == SqlState::ACTIVE_SQL_TRANSACTION.code())
        .then(|| crate::migration::directives::no_transaction_advice(unit.file_name, unit.transaction))
}
