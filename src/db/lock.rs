//! The migration lock: a session advisory lock keyed on the history table.
//! It lives and dies with the session, so a runner that is killed cannot leave
//! it stuck (the "stuck lock" that Liquibase's DATABASECHANGELOGLOCK table and
//! golang-migrate's dirty flag leave behind). Keepalives and
//! `client_connection_check_interval` make the server notice a dead runner.

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio_postgres::types::Type;
use tracing::{debug, info};

use super::{db_error, describe, Param, Session};
use crate::error::{Error, LockHolder};
use crate::signal::Interrupt;

const SESSION_SETUP: &str = include_str!("sql/session_setup.sql");
const LOCK_HOLDER: &str = include_str!("sql/lock_holder.sql");

/// How often a waiting runner logs who holds the lock.
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// Prepares the session and tries the lock once, in one pipelined round trip.
/// Returns whether the lock was taken.
pub async fn setup_and_try(session: &Session, key: i64) -> Result<bool, Error> {
    let c = &session.client;
    // `biased` keeps the send order: both go out in one round trip.
    let params: [Param; 1] = [(&key, Type::INT8)];
    let (setup, locked) = tokio::join!(
        biased;
        c.batch_execute(SESSION_SETUP),
        c.query_typed_one("SELECT pg_try_advisory_lock($1)", &params)
    );
    setup.map_err(|e| db_error("preparing the session")(e))?;
    let row = locked.map_err(|e| db_error("taking the migration lock")(e))?;
    Ok(row.get(0))
}

/// Takes the lock, polling with `pg_try_advisory_lock` until `timeout`, and
/// logging the holder every few seconds.
///
/// Why not block in `pg_advisory_lock`: a waiter blocked in a statement holds
/// a snapshot, and `CREATE INDEX CONCURRENTLY` in the holder's
/// no-transaction migration waits for every such snapshot, while the waiter
/// waits for the holder's lock. PostgreSQL breaks that deadlock (40P01) by
/// cancelling one side: the index build (leaving a failed row) or the waiter.
/// Found by the `--scale migrate=3` scenario of tests/e2e. Short polls hold no
/// snapshot between attempts.
pub async fn acquire(session: &Session, key: i64, timeout: Duration, interrupt: &Interrupt) -> Result<(), Error> {
    if setup_and_try(session, key).await? {
        debug!("migration lock taken");
        return Ok(());
    }
    let start = Instant::now();
    let mut delays = poll_delays();
    let mut last_report: Option<Instant> = None;
    loop {
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(Error::LockTimeout {
                waited,
                holder: holder(session, key).await?,
            });
        }
        if last_report.is_none_or(|t| t.elapsed() >= REPORT_EVERY) {
            report(holder(session, key).await?, waited, timeout);
            last_report = Some(Instant::now());
        }
        let delay = delays
            .next()
            .unwrap_or(Duration::from_millis(250))
            .min(timeout - waited);
        interrupt.sleep(delay).await.map_err(Error::Interrupted)?;
        if try_lock(session, key).await? {
            info!("migration lock taken after {:.1}s", start.elapsed().as_secs_f64());
            return Ok(());
        }
    }
}

/// 50 ms growing to 125-250 ms with jitter: a waiter notices a released lock
/// within a quarter second, and eight waiters cost the server a few trivial
/// statements a second.
fn poll_delays() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_millis(125))
        .with_factor(1.5)
        .with_jitter()
        .without_max_times()
        .build()
}

fn report(holder: Option<LockHolder>, waited: Duration, timeout: Duration) {
    let (spent, left) = (waited.as_secs_f64(), (timeout - waited).as_secs_f64());
    match holder {
        Some(h) => info!("waiting for the migration lock held by {h} ({spent:.1}s spent, {left:.1}s left)"),
        None => info!("waiting for the migration lock ({spent:.1}s spent, {left:.1}s left)"),
    }
}

async fn try_lock(session: &Session, key: i64) -> Result<bool, Error> {
    let row = session
        .client
        .query_typed_one("SELECT pg_try_advisory_lock($1)", &[(&key, Type::INT8)])
        .await
        .map_err(|e| db_error("taking the migration lock")(e))?;
    Ok(row.get(0))
}

async fn holder(session: &Session, key: i64) -> Result<Option<LockHolder>, Error> {
    let bits = key as u64;
    let (high, low) = ((bits >> 32) as i64, (bits & 0xffff_ffff) as i64);
    let rows = session
        .client
        .query_typed(LOCK_HOLDER, &[(&high, Type::INT8), (&low, Type::INT8)])
        .await
        .map_err(|e| db_error("reading who holds the migration lock")(e))?;
    Ok(rows.first().map(|r| LockHolder {
        pid: r.get(0),
        application_name: r.get(1),
        client: r.get(2),
        since: r.get(3),
    }))
}

/// Releases the lock. Closing the session would release it too; doing it
/// explicitly keeps the order obvious in the server log.
pub async fn release(session: &Session, key: i64) {
    let r = session
        .client
        .query_typed("SELECT pg_advisory_unlock($1)", &[(&key, Type::INT8)])
        .await;
    if let Err(e) = r {
        debug!("releasing the migration lock: {}", describe(&e));
    }
}
