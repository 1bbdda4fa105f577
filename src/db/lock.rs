//! The migration lock: a transaction-scoped advisory lock, keyed on the
//! history table, held by an open transaction on a connection of its own for
//! as long as the work under it lasts.
//!
//! Why not a session advisory lock on the working connection, as before:
//! behind PgBouncer in transaction pooling, each transaction may land on a
//! different server connection, so a session lock taken by one statement
//! stays held on an idle pooled server connection after the run, blocking
//! every later deploy (four runners gave exits [1,1,1,5] and [4,0,0,4]).
//! An open transaction pins its server connection in every pooling mode, and
//! its locks end with it: at COMMIT, when the runner's connection closes
//! (PgBouncer closes a server connection whose client left mid-transaction),
//! or when the server notices a vanished client through TCP keepalives. So a
//! killed runner cannot leave the lock stuck (Liquibase's
//! DATABASECHANGELOGLOCK row, golang-migrate's dirty flag), on any path.
//!
//! Waiting runners poll with `pg_try_advisory_xact_lock` in short
//! transactions instead of blocking in `pg_advisory_xact_lock`: a blocked
//! statement holds a snapshot, and `CREATE INDEX CONCURRENTLY` in the
//! holder's no-transaction migration waits for every such snapshot while
//! the waiter waits for the holder, a deadlock PostgreSQL breaks by
//! cancelling one side (found by the `--scale migrate=3` e2e scenario).

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::sync::OnceCell;
use tokio_postgres::types::Type;
use tracing::{debug, info};

use super::connect::connect_once;
use super::{db_error, describe, wait_for_db, Access, Param, Session};
use crate::config::conninfo::ConnSpec;
use crate::config::Config;
use crate::error::{Blocker, Error, LockHolder};
use crate::signal::Interrupt;

const TRY_LOCK: &str = include_str!("sql/lock_try.sql");
const HOLD: &str = include_str!("sql/lock_hold.sql");
const LOCK_HOLDER: &str = include_str!("sql/lock_holder.sql");
const BLOCKERS: &str = include_str!("sql/blockers.sql");

/// How often a waiting runner logs who holds the lock.
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// The migration lock, held until [`Lock::release`] or until dropped.
///
/// Nothing runs on the lock's connection while it is held. A statement
/// there would give its transaction a snapshot for a moment, and a `CREATE
/// INDEX CONCURRENTLY` (ours, in a no-transaction migration) that starts in
/// that moment waits for the whole transaction, which ends only after the
/// migration: a deadlock (found by tests/adopt.rs when the lock connection
/// had a heartbeat). Idle in transaction without a snapshot, it is invisible
/// to index builds. Who blocks a migration is asked on a connection of its
/// own, opened when first needed.
pub struct Lock {
    session: Session,
    watcher: OnceCell<Option<Session>>,
    watcher_config: WatcherConfig,
}

/// What the watcher's connection is made from.
struct WatcherConfig {
    spec: ConnSpec,
    connect_timeout: Duration,
}

impl Lock {
    /// Connects a session for the lock and takes it, polling until the lock
    /// timeout, and logging the holder every few seconds.
    pub async fn acquire(config: &Config, interrupt: &Interrupt) -> Result<Lock, Error> {
        let session = wait_for_db(config, Access::ReadWrite, interrupt).await?;
        let key = config.history_table.lock_key();
        poll(&session, key, config.lock_timeout, interrupt).await?;
        Ok(Lock {
            session,
            watcher: OnceCell::new(),
            watcher_config: WatcherConfig {
                spec: config.db.clone(),
                connect_timeout: config.connect_timeout,
            },
        })
    }

    /// `Err` when the lock's connection is gone, so the lock may be too: the
    /// run stops before the next migration and reconnects. The connection's
    /// task notices a closed socket at once, without a query.
    pub fn check(&self) -> Result<(), Error> {
        if !self.session.client.is_closed() {
            Ok(())
        } else {
            Err(Error::ConnectionLost {
                context: "holding the migration lock".into(),
                message: "the lock's connection closed".into(),
            })
        }
    }

    /// Opens the watcher's connection, once per lock.
    pub async fn watcher_ready(&self) {
        self.watcher().await;
    }

    async fn watcher(&self) -> &Option<Session> {
        self.watcher
            .get_or_init(|| async {
                let c = &self.watcher_config;
                let tls = super::tls::connector(&c.spec).ok()?;
                let (client, server) = connect_once(&c.spec, &tls, Access::ReadOnly, c.connect_timeout)
                    .await
                    .ok()?;
                Some(Session {
                    client,
                    tls,
                    target: c.spec.target(),
                    server,
                })
            })
            .await
    }

    /// Who blocks the backend `pid` (a migration waiting for a table lock),
    /// asked on the watcher's connection while the migration waits.
    pub async fn blockers_of(&self, pid: i32) -> Vec<Blocker> {
        let Some(watcher) = self.watcher().await else {
            return Vec::new();
        };
        match watcher.client.query_typed(BLOCKERS, &[(&pid, Type::INT4)]).await {
            Ok(rows) => rows
                .iter()
                .map(|r| Blocker {
                    pid: r.get(0),
                    application_name: r.get(1),
                    client: r.get(2),
                    state: r.get(3),
                    transaction_age: Duration::from_secs_f64(r.get::<_, f64>(4).max(0.0)),
                    query: r.get(5),
                })
                .collect(),
            Err(e) => {
                debug!("reading who blocks the migration: {}", describe(&e));
                Vec::new()
            }
        }
    }

    /// Ends the lock's transaction, which releases the lock. Closing the
    /// connection would too; committing keeps the order plain in the log.
    pub async fn release(self) {
        if let Err(e) = self.session.client.batch_execute("COMMIT").await {
            debug!("releasing the migration lock: {}", describe(&e));
        }
    }
}

/// One try: a transaction that keeps the lock if it got it (and holds no
/// snapshot: see lock_hold.sql).
async fn try_once(session: &Session, key: i64) -> Result<bool, Error> {
    let c = &session.client;
    let params: [Param; 1] = [(&key, Type::INT8)];
    let (begin, locked, hold) = tokio::join!(
        biased;
        c.batch_execute("BEGIN"),
        c.query_typed_one(TRY_LOCK, &params),
        c.batch_execute(HOLD)
    );
    begin.map_err(db_error("taking the migration lock"))?;
    let taken: bool = locked.map_err(db_error("taking the migration lock"))?.get(0);
    hold.map_err(db_error("taking the migration lock"))?;
    if !taken {
        c.batch_execute("ROLLBACK")
            .await
            .map_err(db_error("taking the migration lock"))?;
    }
    Ok(taken)
}

async fn poll(session: &Session, key: i64, timeout: Duration, interrupt: &Interrupt) -> Result<(), Error> {
    if try_once(session, key).await? {
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
        if try_once(session, key).await? {
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

async fn holder(session: &Session, key: i64) -> Result<Option<LockHolder>, Error> {
    let bits = key as u64;
    let (high, low) = ((bits >> 32) as i64, (bits & 0xffff_ffff) as i64);
    let rows = session
        .client
        .query_typed(LOCK_HOLDER, &[(&high, Type::INT8), (&low, Type::INT8)])
        .await
        .map_err(db_error("reading who holds the migration lock"))?;
    Ok(rows.first().map(|r| LockHolder {
        pid: r.get(0),
        application_name: r.get(1),
        client: r.get(2),
        since: r.get(3),
    }))
}
