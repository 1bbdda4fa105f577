//! Running migrations in the shadow database: the files the target already
//! has, to prepare it, and each pending file statement by statement, reading
//! after each statement what the server says it locked, rewrote and scanned.
//! What the readings mean is decided in `crate::locks`.
//!
//! Inside a transaction, the backend's own `pg_locks` entries and the
//! transaction's scan counters (`pg_stat_get_xact_numscans`) say it exactly,
//! even on the shadow's empty tables: a build or validation scan counts once,
//! a rewrite twice, a catalog-only change not at all. A statement that cannot
//! run in a transaction block (CREATE INDEX CONCURRENTLY) is watched from a
//! second session instead; see [`watched`].

use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

use super::shadow::Shadow;
use super::{db_error, server_error, Param, Session, Unplaced};
use crate::error::{Error, MigrationFailure};
use crate::locks::{LockMode, Measured, Observation, RelationState, ScanSignal, Shape, Subject};
use crate::migration::TransactionMode;
use crate::signal::Interrupt;
use crate::sqltext::{split_statements, statement_head, Statement};

const RELATIONS: &str = include_str!("sql/measure_relations.sql");
const WATCH: &str = include_str!("sql/measure_watch.sql");

/// How often the watcher looks at a statement outside a transaction block.
const WATCH_EVERY: Duration = Duration::from_millis(5);

/// `pg_stat_force_next_flush()` arrived in PostgreSQL 15.
const FLUSH_FROM: i32 = 150_000;

/// Applies a file the target already has, as `run` did: in one transaction,
/// or statement by statement for a no-transaction file.
pub async fn apply(shadow: &Shadow, file: &Subject<'_>) -> Result<(), Error> {
    let c = &shadow.session.client;
    let failed = |e: &tokio_postgres::Error, offset, unplaced| failure(shadow, file, e, offset, unplaced);
    match file.transaction {
        TransactionMode::PerMigration => {
            let (begin, body, commit) = tokio::join!(
                biased;
                c.batch_execute("BEGIN"),
                c.batch_execute(file.sql),
                c.batch_execute("COMMIT")
            );
            for result in [begin, body, commit] {
                result.map_err(|e| failed(&e, 0, Unplaced::Nowhere))?;
            }
        }
        TransactionMode::None => {
            for stmt in split_statements(file.sql) {
                c.batch_execute(stmt.sql)
                    .await
                    .map_err(|e| failed(&e, stmt.char_offset, Unplaced::StatementStart))?;
            }
        }
    }
    Ok(())
}

/// The oids of the relations the shadow holds now: after preparing it,
/// those the target has.
pub async fn existing(shadow: &Shadow) -> Result<std::collections::BTreeSet<i64>, Error> {
    let now = relations(shadow, Counters::Transaction).await?;
    Ok(now.into_iter().map(|r| r.oid).collect())
}

/// Runs a pending file in the shadow, statement by statement, and returns
/// each statement's observation. The file is committed, as `run` would.
pub async fn measure(shadow: &Shadow, file: &Subject<'_>, interrupt: &Interrupt) -> Result<Vec<Observation>, Error> {
    match file.transaction {
        TransactionMode::PerMigration => in_one_transaction(shadow, file).await,
        TransactionMode::None => {
            let mut out = Vec::new();
            for stmt in split_statements(file.sql) {
                out.push(on_its_own(shadow, file, &stmt, interrupt).await?);
            }
            Ok(out)
        }
    }
}

async fn in_one_transaction(shadow: &Shadow, file: &Subject<'_>) -> Result<Vec<Observation>, Error> {
    let c = &shadow.session.client;
    control(shadow, "BEGIN").await?;
    let mut before = relations(shadow, Counters::Transaction).await?;
    let mut out = Vec::new();
    for stmt in split_statements(file.sql) {
        if let Err(e) = c.batch_execute(stmt.sql).await {
            let _ = c.batch_execute("ROLLBACK").await;
            return Err(failure(shadow, file, &e, stmt.char_offset, Unplaced::StatementStart));
        }
        let after = relations(shadow, Counters::Transaction).await?;
        out.push(observation(file, &stmt, before, after.clone(), Measured::InTransaction));
        before = after;
    }
    c.batch_execute("COMMIT")
        .await
        .map_err(|e| failure(shadow, file, &e, 0, Unplaced::Nowhere))?;
    Ok(out)
}

/// A statement of a no-transaction file: measured in a transaction block of
/// its own, committed; or, when it refuses one (25001, checked before it does
/// anything), watched while it runs outside.
async fn on_its_own(
    shadow: &Shadow,
    file: &Subject<'_>,
    stmt: &Statement<'_>,
    interrupt: &Interrupt,
) -> Result<Observation, Error> {
    let c = &shadow.session.client;
    control(shadow, "BEGIN").await?;
    let before = relations(shadow, Counters::Transaction).await?;
    match c.batch_execute(stmt.sql).await {
        Ok(()) => {
            let after = relations(shadow, Counters::Transaction).await?;
            c.batch_execute("COMMIT")
                .await
                .map_err(|e| failure(shadow, file, &e, stmt.char_offset, Unplaced::StatementStart))?;
            Ok(observation(file, stmt, before, after, Measured::InTransaction))
        }
        Err(e) if e.code() == Some(&SqlState::ACTIVE_SQL_TRANSACTION) => {
            control(shadow, "ROLLBACK").await?;
            watched(shadow, file, stmt, interrupt).await
        }
        Err(e) => {
            let _ = c.batch_execute("ROLLBACK").await;
            Err(failure(shadow, file, &e, stmt.char_offset, Unplaced::StatementStart))
        }
    }
}

/// A statement outside any transaction block. Its locks are gone when it
/// ends, so a second session, the watcher, holds a snapshot open while it
/// runs: CREATE INDEX CONCURRENTLY (and REINDEX CONCURRENTLY) wait for every
/// older snapshot before they finish, with all their locks taken, and that is
/// when the watcher reads them from `pg_locks`, then lets the statement go.
/// A statement that never waits (VACUUM) is sampled while it runs, and its
/// locks are reported as not observed. Scans come from the cumulative
/// counters, flushed before and after (PostgreSQL 15+; earlier releases flush
/// them late, and scans are then reported as not measured).
async fn watched(
    shadow: &Shadow,
    file: &Subject<'_>,
    stmt: &Statement<'_>,
    interrupt: &Interrupt,
) -> Result<Observation, Error> {
    let scans = if shadow.server.version_num >= FLUSH_FROM {
        ScanSignal::Counted
    } else {
        ScanSignal::NotMeasured
    };
    flush_counters(shadow, scans).await?;
    let before = relations(shadow, Counters::Cumulative).await?;
    let (watcher, watcher_pid) = shadow.watcher(interrupt).await?;
    watcher
        .client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1")
        .await
        .map_err(db_error("opening the watcher's snapshot"))?;
    let run = run_watched(shadow, watcher, *watcher_pid, stmt.sql).await;
    // The watcher's snapshot must end on every path, or the statement waits forever.
    let release = watcher.client.batch_execute("COMMIT").await;
    let (result, locks, waited) = run?;
    result.map_err(|e| failure(shadow, file, &e, stmt.char_offset, Unplaced::StatementStart))?;
    release.map_err(db_error("ending the watcher's snapshot"))?;
    flush_counters(shadow, scans).await?;
    let after = relations(shadow, Counters::Cumulative).await?;
    let measured = Measured::Watched { locks, waited, scans };
    Ok(observation(file, stmt, before, after, measured))
}

type WatchedRun = (Result<(), tokio_postgres::Error>, Vec<(i64, LockMode)>, bool);

/// Runs the statement while the watcher samples it, until it finishes or is
/// seen waiting for the watcher. Returns its result, the locks seen, and
/// whether it waited.
async fn run_watched(shadow: &Shadow, watcher: &Session, watcher_pid: i32, sql: &str) -> Result<WatchedRun, Error> {
    let statement = shadow.session.client.batch_execute(sql);
    tokio::pin!(statement);
    let mut seen = Vec::new();
    loop {
        tokio::select! {
            biased;
            result = &mut statement => return Ok((result, seen, false)),
            looked = sample(watcher, shadow.pid, watcher_pid) => {
                let (blocked, locks) = looked?;
                merge(&mut seen, locks);
                if blocked {
                    // Still waiting, so every lock it takes is held: one more
                    // look makes sure none was taken between the two reads.
                    merge(&mut seen, sample(watcher, shadow.pid, watcher_pid).await?.1);
                    watcher.client.batch_execute("COMMIT").await.map_err(db_error("ending the watcher's snapshot"))?;
                    return Ok((statement.await, seen, true));
                }
            }
        }
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

fn merge(seen: &mut Vec<(i64, LockMode)>, locks: Vec<(i64, LockMode)>) {
    for lock in locks {
        if !seen.contains(&lock) {
            seen.push(lock);
        }
    }
}

async fn sample(watcher: &Session, pid: i32, watcher_pid: i32) -> Result<(bool, Vec<(i64, LockMode)>), Error> {
    let params: [Param; 2] = [(&pid, Type::INT4), (&watcher_pid, Type::INT4)];
    let rows = watcher
        .client
        .query_typed(WATCH, &params)
        .await
        .map_err(db_error("watching a statement run outside a transaction"))?;
    let blocked = rows.first().is_some_and(|r| r.get("blocked"));
    let locks = rows
        .iter()
        .filter_map(|r| {
            let relation: Option<i64> = r.get("relation");
            let mode: Option<String> = r.get("mode");
            Some((relation?, LockMode::from_pg(&mode?)?))
        })
        .collect();
    Ok((blocked, locks))
}

/// Makes the session's pending statistics reach the shared counters when it
/// next goes idle, which is before the query after this one.
async fn flush_counters(shadow: &Shadow, scans: ScanSignal) -> Result<(), Error> {
    if scans == ScanSignal::NotMeasured {
        return Ok(());
    }
    shadow
        .session
        .client
        .batch_execute("SELECT pg_catalog.pg_stat_force_next_flush()")
        .await
        .map_err(db_error("flushing the shadow session's statistics"))
}

/// BEGIN or ROLLBACK on the measuring session.
async fn control(shadow: &Shadow, command: &str) -> Result<(), Error> {
    shadow
        .session
        .client
        .batch_execute(command)
        .await
        .map_err(db_error(format!("{command} in the shadow database")))
}

/// Which scan counters to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counters {
    Transaction,
    Cumulative,
}

/// The shadow's relations now, with the locks the measuring session holds.
async fn relations(shadow: &Shadow, counters: Counters) -> Result<Vec<RelationState>, Error> {
    let cumulative = counters == Counters::Cumulative;
    let params: [Param; 2] = [(&cumulative, Type::BOOL), (&shadow.pid, Type::INT4)];
    let rows = shadow
        .session
        .client
        .query_typed(RELATIONS, &params)
        .await
        .map_err(db_error("reading the shadow's relations"))?;
    Ok(rows
        .iter()
        .map(|r| RelationState {
            oid: r.get("oid"),
            name: r.get("name"),
            filenode: r.get("filenode"),
            scans: r.get("scans"),
            shape: Shape {
                indexes: r.get("indexes"),
                foreign_keys: r.get("foreign_keys"),
                checks: r.get("checks"),
                not_nulls: r.get("not_nulls"),
            },
            modes: r
                .get::<_, Vec<String>>("modes")
                .iter()
                .filter_map(|m| LockMode::from_pg(m))
                .collect(),
        })
        .collect())
}

fn observation(
    file: &Subject<'_>,
    stmt: &Statement<'_>,
    before: Vec<RelationState>,
    after: Vec<RelationState>,
    measured: Measured,
) -> Observation {
    let (line, sql) = statement_head(file.sql, stmt);
    Observation {
        line,
        sql: sql.to_string(),
        before,
        after,
        measured,
    }
}

fn failure(shadow: &Shadow, file: &Subject<'_>, e: &tokio_postgres::Error, offset: usize, unplaced: Unplaced) -> Error {
    Error::ShadowMigrationFailed {
        database: shadow.database.clone(),
        failure: Box::new(MigrationFailure {
            file: file.file_name.to_string(),
            version: file.version.cloned(),
            error: server_error(e, file.sql, offset, unplaced),
            non_transactional: file.transaction == TransactionMode::None,
            advice: None,
        }),
    }
}
