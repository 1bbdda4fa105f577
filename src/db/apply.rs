//! Applying one migration file (up, down or repeatable), with its history
//! row, under live traffic.
//!
//! A transactional file goes out as one pipeline: BEGIN, the transaction's
//! settings, the file, the history statement and COMMIT, one round trip.
//! Its DDL waits at most the DDL lock timeout for a table lock: the classic
//! migration outage is an `ALTER TABLE` queued behind an idle-in-transaction
//! session, with every application query on that table queued behind the
//! ALTER for as long as the blocker lives. On `lock_not_available` the whole
//! transaction has rolled back; it is tried again after a backoff, logging
//! who blocked it, until the lock budget (`SCHEMAGATE_LOCK_TIMEOUT`) runs out.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::sync::oneshot;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tracing::{info, warn};

use super::lock::Lock;
use super::{history::sql_for, interruptible, is_connection_loss, server_error, Param, Session, Unplaced};
use crate::config::TableName;
use crate::error::{Blocker, Error, MigrationFailure};
use crate::migration::{DownScript, MigrationFile, RepeatableFile, TransactionMode, Version};
use crate::signal::Interrupt;
use crate::sqltext::{split_statements, Statement};

const SETUP: &str = include_str!("sql/migration_setup.sql");
const AS_OURSELVES: &str = include_str!("sql/migration_as_ourselves.sql");

const RESET_SESSION: &str = include_str!("sql/reset_session.sql");
/// After the history statement, inside the transaction: what the file did to
/// its session is undone (RESET ALL commits with it), and the session's own
/// setting is set again.
const AFTER: &str = concat!("RESET ALL;\n", include_str!("sql/session_settings.sql"));
const INSERT_APPLIED: &str = include_str!("sql/insert_applied.sql");
const INSERT_STARTED: &str = include_str!("sql/insert_started.sql");
const FINISH: &str = include_str!("sql/finish_migration.sql");
const RECORD_REPEATABLE: &str = include_str!("sql/record_repeatable.sql");

/// Files larger than this are sent in pieces of about [`PIECE`], one after
/// the other inside the transaction, so a 50 MB data migration is not copied
/// whole into the send buffer.
const LARGE: usize = 8 << 20;
const PIECE: usize = 1 << 20;

/// What the caller needs besides the file.
pub struct Recorder<'a> {
    pub table: &'a TableName,
    pub applied_by: &'a str,
    pub history: HistoryState,
    pub ddl: DdlLocks,
    /// The migration lock, whose connection is asked who blocks a migration
    /// waiting for a table lock. `None` outside `run`.
    pub lock: Option<&'a Lock>,
    /// The restore point this run took before its first migration, written
    /// into every row it records: the point to recover to when a migration
    /// of this run turns out wrong. `None` outside `run`, or when none was taken.
    pub restore_point: Option<&'a str>,
}

/// How long DDL may wait for a table lock per attempt, and for all attempts
/// of one migration, counted from its first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DdlLocks {
    pub timeout: Duration,
    pub budget: Duration,
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

impl Outcome {
    /// From the rows the history statement wrote (none: the file ended our
    /// transaction itself).
    fn of(rows: usize) -> Outcome {
        if rows == 0 {
            Outcome::NotRecorded
        } else {
            Outcome::Recorded
        }
    }
}

/// The SQL being run and where it came from, for error reports.
struct Unit<'a> {
    file_name: &'a str,
    /// `None` for a repeatable migration.
    version: Option<&'a Version>,
    sql: &'a str,
    transaction: TransactionMode,
    lock_timeout: Duration,
}

/// The history statement that commits with the unit.
struct Record<'a> {
    sql: String,
    params: &'a [Param<'a>],
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
        lock_timeout: file.lock_timeout.unwrap_or(recorder.ddl.timeout),
    };
    let version = file.version.to_string();
    match file.transaction {
        TransactionMode::PerMigration => {
            let params: [Param; 5] = [
                (&version, Type::TEXT),
                (&file.name, Type::TEXT),
                (&file.checksum, Type::TEXT),
                (&recorder.applied_by, Type::TEXT),
                (&recorder.restore_point, Type::TEXT),
            ];
            let record = Record {
                sql: sql_for(INSERT_APPLIED, recorder.table),
                params: &params,
            };
            let rows = with_retries(session, &unit, &record, recorder, interrupt).await?;
            Ok(Outcome::of(rows))
        }
        TransactionMode::None => {
            let work = without_transaction(session, file, &unit, recorder);
            interruptible(session, interrupt, work).await
        }
    }
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
        lock_timeout: recorder.ddl.timeout,
    };
    let text = version.to_string();
    match down.transaction {
        TransactionMode::PerMigration => {
            let params: [Param; 1] = [(&text, Type::TEXT)];
            let record = Record {
                sql: sql_for(super::history::DELETE_VERSION, recorder.table),
                params: &params,
            };
            with_retries(session, &unit, &record, recorder, interrupt)
                .await
                .map(drop)
        }
        TransactionMode::None => {
            let work = async {
                run_statements(session, &unit, recorder).await?;
                super::history::delete_version(session, recorder.table, version).await
            };
            interruptible(session, interrupt, work).await
        }
    }
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
        lock_timeout: recorder.ddl.timeout,
    };
    let params: [Param; 4] = [
        (&file.name, Type::TEXT),
        (&file.checksum, Type::TEXT),
        (&recorder.applied_by, Type::TEXT),
        (&recorder.restore_point, Type::TEXT),
    ];
    let record = Record {
        sql: sql_for(RECORD_REPEATABLE, recorder.table),
        params: &params,
    };
    let rows = with_retries(session, &unit, &record, recorder, interrupt).await?;
    Ok(Outcome::of(rows))
}

/// Runs the unit's transaction until it commits, retrying while its DDL
/// times out waiting for a table lock and the lock budget lasts. Each
/// attempt rolled back completely, so nothing is ever half-applied.
async fn with_retries(
    session: &Session,
    unit: &Unit<'_>,
    record: &Record<'_>,
    recorder: &Recorder<'_>,
    interrupt: &Interrupt,
) -> Result<usize, Error> {
    let first = Instant::now();
    let mut delays = retry_delays();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let seen = RefCell::new(Vec::new());
        let attempt = watched(session, unit, record, recorder, &seen);
        let error = match interruptible(session, interrupt, attempt).await {
            Err(e) if waited_for_a_lock(&e) && !unit.lock_timeout.is_zero() => e,
            other => return other,
        };
        let blockers = seen.take();
        let delay = delays.next().unwrap_or(Duration::from_secs(5));
        let waited = first.elapsed();
        if waited + delay >= recorder.ddl.budget {
            return Err(out_of_budget(error, unit, &blockers, attempts, waited));
        }
        warn!(
            file = unit.file_name,
            attempt = attempts,
            "{}: waited {:?} for a table lock; {}; rolled back, retrying in {:.1}s ({:.1}s of the lock budget left)",
            unit.file_name,
            unit.lock_timeout,
            describe_blockers(&blockers),
            delay.as_secs_f64(),
            (recorder.ddl.budget - waited).as_secs_f64()
        );
        interrupt.sleep(delay).await.map_err(Error::Interrupted)?;
    }
}

/// 500 ms growing to 5 s, with jitter, so that several runners (or a runner
/// and the blocker's own retries) do not fall into step.
fn retry_delays() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(5))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}

fn waited_for_a_lock(e: &Error) -> bool {
    matches!(e, Error::MigrationFailed(f) if f.error.sqlstate == SqlState::LOCK_NOT_AVAILABLE.code())
}

fn describe_blockers(blockers: &[Blocker]) -> String {
    match blockers {
        [] => "no blocker was seen (it ended, or its details were hidden from this role)".into(),
        list => {
            let each: Vec<String> = list.iter().map(ToString::to_string).collect();
            format!("blocked by {}", each.join("; and by "))
        }
    }
}

fn out_of_budget(error: Error, unit: &Unit<'_>, blockers: &[Blocker], attempts: u32, waited: Duration) -> Error {
    let Error::MigrationFailed(mut failure) = error else {
        return error;
    };
    failure.advice = Some(format!(
        "gave up after {attempts} attempt(s) over {:.1}s (SCHEMAGATE_LOCK_TIMEOUT), each waiting {:?} for a table \
         lock (SCHEMAGATE_DDL_LOCK_TIMEOUT); {}. Nothing of {} was applied: end that session, or run when it is idle",
        waited.as_secs_f64(),
        unit.lock_timeout,
        describe_blockers(blockers),
        unit.file_name
    ));
    Error::MigrationFailed(failure)
}

/// One attempt, with a watcher that asks (on the lock's connection) who
/// blocks it while it waits, and keeps the last answer in `seen`.
async fn watched(
    session: &Session,
    unit: &Unit<'_>,
    record: &Record<'_>,
    recorder: &Recorder<'_>,
    seen: &RefCell<Vec<Blocker>>,
) -> Result<usize, Error> {
    let (pid_tx, pid_rx) = oneshot::channel();
    let attempt = in_transaction(session, unit, record, recorder, pid_tx);
    let Some(lock) = recorder.lock else {
        return attempt.await;
    };
    tokio::pin!(attempt);
    tokio::select! {
        biased;
        result = &mut attempt => result,
        () = watch(lock, pid_rx, unit.lock_timeout, seen) => attempt.await,
    }
}

/// From half the lock timeout on, every 100 ms: who blocks the backend.
/// The watcher's connection is opened first, while the attempt starts.
async fn watch(lock: &Lock, pid: oneshot::Receiver<i32>, timeout: Duration, seen: &RefCell<Vec<Blocker>>) {
    let start = tokio::time::Instant::now();
    lock.watcher_ready().await;
    let Ok(pid) = pid.await else {
        return std::future::pending().await;
    };
    let first = (timeout / 2).clamp(Duration::from_millis(50), Duration::from_secs(1));
    tokio::time::sleep_until(start + first).await;
    loop {
        let found = lock.blockers_of(pid).await;
        if !found.is_empty() {
            *seen.borrow_mut() = found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// BEGIN, the settings (sending back the backend's pid), the file, the
/// switch back to our own role, the history statement, and RESET ALL with
/// COMMIT: one pipeline, one round trip, and the history change commits
/// with the migration or not at all. If the file fails, the server rejects
/// the rest and COMMIT becomes a rollback. RESET ALL and the role reset
/// keep what the file did to its session (role, search_path, settings) from
/// reaching the history INSERT or the next migration.
async fn in_transaction(
    session: &Session,
    unit: &Unit<'_>,
    record: &Record<'_>,
    recorder: &Recorder<'_>,
    pid: oneshot::Sender<i32>,
) -> Result<usize, Error> {
    let _notices = super::notices::applying(unit.file_name, unit.sql);
    let c = &session.client;
    let timeout = format!("{}ms", unit.lock_timeout.as_millis());
    let setup = async {
        let row = c.query_typed_one(SETUP, &[(&timeout, Type::TEXT)]).await?;
        let _ = pid.send(row.get(0));
        Ok::<_, tokio_postgres::Error>(())
    };
    let fail = |e: tokio_postgres::Error, offset| failure(unit, &e, offset, recorder);
    if unit.sql.len() > LARGE {
        return in_pieces(session, unit, record, recorder, setup).await;
    }
    // RESET ALL and COMMIT go as messages of their own: in one simple query,
    // a RESET refused by an aborted transaction would skip the COMMIT, and
    // the connection would stay in the failed transaction.
    let (begin, setup, body, ours, rows, reset, commit) = tokio::join!(
        biased;
        c.batch_execute("BEGIN"),
        setup,
        c.batch_execute(unit.sql),
        c.batch_execute(AS_OURSELVES),
        c.query_typed(&record.sql, record.params),
        c.batch_execute(AFTER),
        c.batch_execute("COMMIT")
    );
    begin.map_err(|e| fail(e, 0))?;
    setup.map_err(|e| fail(e, 0))?;
    body.map_err(|e| fail(e, 0))?;
    ours.map_err(|e| fail(e, 0))?;
    let rows = rows.map_err(|e| fail(e, 0))?;
    reset.and(commit).map_err(|e| fail(e, 0))?;
    Ok(rows.len())
}

/// A large file: the same transaction, with the file sent a piece at a time.
async fn in_pieces(
    session: &Session,
    unit: &Unit<'_>,
    record: &Record<'_>,
    recorder: &Recorder<'_>,
    setup: impl std::future::Future<Output = Result<(), tokio_postgres::Error>>,
) -> Result<usize, Error> {
    let c = &session.client;
    let fail = |e: tokio_postgres::Error, offset| failure(unit, &e, offset, recorder);
    let (begin, setup) = tokio::join!(biased; c.batch_execute("BEGIN"), setup);
    begin.and(setup).map_err(|e| fail(e, 0))?;
    for (text, offset) in pieces(unit.sql) {
        if let Err(e) = c.batch_execute(text).await {
            let _ = c.batch_execute("ROLLBACK").await;
            return Err(fail(e, offset));
        }
    }
    let (ours, rows, reset, commit) = tokio::join!(
        biased;
        c.batch_execute(AS_OURSELVES),
        c.query_typed(&record.sql, record.params),
        c.batch_execute(AFTER),
        c.batch_execute("COMMIT")
    );
    ours.map_err(|e| fail(e, 0))?;
    let rows = rows.map_err(|e| fail(e, 0))?;
    reset.and(commit).map_err(|e| fail(e, 0))?;
    Ok(rows.len())
}

/// Whole statements, grouped into pieces of about [`PIECE`] bytes, each
/// with the character offset where it starts in the file.
fn pieces(sql: &str) -> Vec<(&str, usize)> {
    let mut out = Vec::new();
    let (mut start, mut start_chars) = (0, 0);
    for stmt in split_statements(sql) {
        let at = byte_offset(sql, &stmt);
        if at - start >= PIECE {
            out.push((&sql[start..at], start_chars));
            start = at;
            start_chars = stmt.char_offset;
        }
    }
    if start < sql.len() {
        out.push((&sql[start..], start_chars));
    }
    out
}

fn byte_offset(sql: &str, stmt: &Statement<'_>) -> usize {
    stmt.sql.as_ptr() as usize - sql.as_ptr() as usize
}

/// Each statement on its own (a multi-statement query string would be an
/// implicit transaction, which CREATE INDEX CONCURRENTLY refuses), then the
/// session's state reset, so a `SET` in the file does not reach the next one.
async fn run_statements(session: &Session, unit: &Unit<'_>, recorder: &Recorder<'_>) -> Result<(), Error> {
    let notices = super::notices::applying(unit.file_name, unit.sql);
    for stmt in split_statements(unit.sql) {
        notices.at(stmt.char_offset);
        if let Err(e) = session.client.batch_execute(stmt.sql).await {
            return Err(failure(unit, &e, stmt.char_offset, recorder));
        }
    }
    session
        .client
        .batch_execute(RESET_SESSION)
        .await
        .map_err(|e| failure(unit, &e, 0, recorder))
}

/// `-- schemagate:no-transaction`: a row marked started is committed before
/// the file runs and finished after it. A runner killed in between leaves
/// the started row, and the next run refuses (exit 6) instead of running
/// the file again from the top: its first statements are already applied.
/// A failure is recorded as `success=false`, for the same reason.
async fn without_transaction(
    session: &Session,
    file: &MigrationFile,
    unit: &Unit<'_>,
    recorder: &Recorder<'_>,
) -> Result<Outcome, Error> {
    let version = file.version.to_string();
    let started: [Param; 5] = [
        (&version, Type::TEXT),
        (&file.name, Type::TEXT),
        (&file.checksum, Type::TEXT),
        (&recorder.applied_by, Type::TEXT),
        (&recorder.restore_point, Type::TEXT),
    ];
    session
        .client
        .query_typed(&sql_for(INSERT_STARTED, recorder.table), &started)
        .await
        .map_err(|e| failure(unit, &e, 0, recorder))?;
    let start = Instant::now();
    let result = run_statements(session, unit, recorder).await;
    if matches!(result, Err(Error::ConnectionLost { .. })) {
        return result.map(|()| Outcome::Recorded);
    }
    let ms = start.elapsed().as_millis() as i64;
    let success = result.is_ok();
    let finish: [Param; 3] = [(&version, Type::TEXT), (&ms, Type::INT8), (&success, Type::BOOL)];
    let recorded = session
        .client
        .query_typed(&sql_for(FINISH, recorder.table), &finish)
        .await;
    result?;
    recorded.map_err(|e| failure(unit, &e, 0, recorder))?;
    info!(file = unit.file_name, "no-transaction migration finished");
    Ok(Outcome::Recorded)
}

/// Everything the server said, with the position turned into line:column of
/// the file (`offset` is where the failing statement starts in the file).
/// A lost connection is not the migration's failure: the server rolled its
/// transaction back, and `run` reconnects and applies it again.
fn failure(unit: &Unit<'_>, e: &tokio_postgres::Error, offset: usize, recorder: &Recorder<'_>) -> Error {
    if is_connection_loss(e) {
        return Error::ConnectionLost {
            context: format!("applying {}", unit.file_name),
            message: super::describe(e),
        };
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_whole_statements_with_their_offsets() {
        let stmt = format!("INSERT INTO t VALUES ('{}');\n", "é".repeat(300_000));
        let sql = stmt.repeat(5);
        let parts = pieces(&sql);
        assert!(parts.len() >= 2, "{}", parts.len());
        assert_eq!(parts.iter().map(|(t, _)| t.len()).sum::<usize>(), sql.len());
        for (text, offset) in &parts {
            assert!(text.starts_with("INSERT") || text.starts_with('\n'), "{}", &text[..20]);
            assert_eq!(
                sql.chars().skip(*offset).take(6).collect::<String>(),
                text.chars().take(6).collect::<String>()
            );
        }
    }

    #[test]
    fn only_a_lock_timeout_is_retried() {
        let failed = |code: &str| {
            Error::MigrationFailed(Box::new(MigrationFailure {
                error: crate::error::ServerError {
                    sqlstate: code.into(),
                    ..Default::default()
                },
                ..Default::default()
            }))
        };
        assert!(waited_for_a_lock(&failed("55P03")));
        assert!(!waited_for_a_lock(&failed("42601")));
        assert!(!waited_for_a_lock(&Error::Internal("x".into())));
    }
}
