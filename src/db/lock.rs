//! The migration lock: a session advisory lock keyed on the history table.
//! It lives and dies with the session, so a runner that is killed cannot leave
//! it stuck (the "stuck lock" that Liquibase's DATABASECHANGELOGLOCK table and
//! golang-migrate's dirty flag leave behind). Keepalives and
//! `client_connection_check_interval` make the server notice a dead runner.

use std::time::{Duration, Instant};

use tokio_postgres::types::{ToSql, Type};
use tracing::{debug, info};

use super::{describe, Session};
use crate::error::{Error, LockHolder};
use crate::signal::Interrupt;

type Param<'a> = (&'a (dyn ToSql + Sync), Type);

const SESSION_SETUP: &str = include_str!("sql/session_setup.sql");
const LOCK_HOLDER: &str = include_str!("sql/lock_holder.sql");

/// How long one blocking attempt waits before we log who holds the lock.
const REPORT_EVERY: Duration = Duration::from_secs(5);

fn db_error(context: &str, e: &tokio_postgres::Error) -> Error {
    Error::Database {
        context: context.into(),
        message: describe(e),
    }
}

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
    setup.map_err(|e| db_error("preparing the session", &e))?;
    let row = locked.map_err(|e| db_error("taking the migration lock", &e))?;
    Ok(row.get(0))
}

/// Takes the lock, blocking on the server (so the next runner wakes the moment
/// the holder finishes) in slices of a few seconds, logging the holder
/// between slices, until `timeout`.
pub async fn acquire(session: &Session, key: i64, timeout: Duration, interrupt: &Interrupt) -> Result<(), Error> {
    if setup_and_try(session, key).await? {
        debug!("migration lock taken");
        return Ok(());
    }
    let start = Instant::now();
    loop {
        let waited = start.elapsed();
        let holder = holder(session, key).await?;
        if waited >= timeout {
            return Err(Error::LockTimeout { waited, holder });
        }
        match &holder {
            Some(h) => info!(
                "waiting for the migration lock held by {h} ({:.1}s spent, {:.1}s left)",
                waited.as_secs_f64(),
                (timeout - waited).as_secs_f64()
            ),
            None => info!("waiting for the migration lock ({:.1}s spent)", waited.as_secs_f64()),
        }
        let slice = (timeout - waited).min(REPORT_EVERY);
        let attempt = tokio::select! {
            r = blocking_attempt(session, key, slice) => r,
            sig = interrupt.recv() => { session.cancel().await; return Err(Error::Interrupted(sig)); }
        };
        if attempt? {
            info!("migration lock taken after {:.1}s", start.elapsed().as_secs_f64());
            return Ok(());
        }
    }
}

/// `pg_advisory_lock` under a `lock_timeout` of `slice`. `Ok(false)` when the
/// slice ran out (SQLSTATE 55P03).
async fn blocking_attempt(session: &Session, key: i64, slice: Duration) -> Result<bool, Error> {
    let c = &session.client;
    let ms = format!("{}ms", slice.as_millis().max(1));
    let timeout_param: [Param; 1] = [(&ms, Type::TEXT)];
    let key_param: [Param; 1] = [(&key, Type::INT8)];
    let (set, lock, reset) = tokio::join!(
        biased;
        c.query_typed("SELECT set_config('lock_timeout', $1, false)", &timeout_param),
        c.query_typed("SELECT pg_advisory_lock($1)", &key_param),
        c.batch_execute("RESET lock_timeout")
    );
    set.map_err(|e| db_error("setting lock_timeout", &e))?;
    reset.map_err(|e| db_error("resetting lock_timeout", &e))?;
    match lock {
        Ok(_) => Ok(true),
        Err(e) if e.code().is_some_and(|c| c.code() == "55P03") => Ok(false),
        Err(e) => Err(db_error("taking the migration lock", &e)),
    }
}

async fn holder(session: &Session, key: i64) -> Result<Option<LockHolder>, Error> {
    let bits = key as u64;
    let (high, low) = ((bits >> 32) as i64, (bits & 0xffff_ffff) as i64);
    let rows = session
        .client
        .query_typed(LOCK_HOLDER, &[(&high, Type::INT8), (&low, Type::INT8)])
        .await
        .map_err(|e| db_error("reading who holds the migration lock", &e))?;
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
