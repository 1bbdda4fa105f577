//! Database I/O only: connecting and waiting, the lock, the history table,
//! applying files, and the shadow database where pending files are measured. Every decision about what to do is made by the pure
//! modules (`reconcile`, `migration`, `sqltext`, `schema`); the few judgements
//! of the wire (which failure is worth waiting out) are small functions
//! with unit tests.

pub mod apply;
pub mod connect;
pub mod foreign;
pub mod history;
pub mod lock;
pub mod measure;
pub mod schema;
pub mod shadow;
pub mod tls;
pub mod wait;

pub use connect::{Access, Session};
pub use wait::wait_for_db;

use std::future::Future;
use std::time::Duration;

use tokio_postgres::error::ErrorPosition;
use tokio_postgres::types::{ToSql, Type};

use crate::error::{Error, ServerError};
use crate::signal::Interrupt;
use crate::sqltext::{line_col, statement_start};

/// tokio-postgres' `Display` omits the cause; operators need it.
pub fn describe(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// How long a cancel request and the rollback it causes may take after
/// SIGTERM before we exit anyway: a frozen server (a SIGSTOPped postmaster, a
/// storage stall, a partition) must not hold a runner past its grace period.
const CANCEL_GRACE: Duration = Duration::from_secs(3);

/// Runs `work` on `session`. On SIGTERM/SIGINT the running statement is
/// cancelled on the server, so its transaction rolls back, and the work is
/// given [`CANCEL_GRACE`] to end before the signal is returned. Every command
/// that talks to the server while a signal may arrive goes through here.
pub async fn interruptible<T>(
    session: &Session,
    interrupt: &Interrupt,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::pin!(work);
    tokio::select! {
        r = &mut work => r,
        sig = interrupt.recv() => {
            let wind_down = async {
                session.cancel().await;
                let _ = work.await;
            };
            if tokio::time::timeout(CANCEL_GRACE, wind_down).await.is_err() {
                tracing::warn!("the server did not answer the cancel request within {CANCEL_GRACE:?}; exiting anyway");
            }
            Err(Error::Interrupted(sig))
        }
    }
}

/// A bound parameter with its type, for `query_typed` (one round trip, no
/// separate prepare).
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

/// A database error outside a migration, with what we were doing.
pub fn db_error(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Error {
    let context = context.into();
    move |e| Error::Database {
        context,
        message: describe(&e),
    }
}

/// Where a failure that the server gave no position for points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unplaced {
    /// Nowhere: the text was sent as one piece and the failing statement is
    /// not known.
    Nowhere,
    /// At the start of the statement that failed (sent on its own).
    StatementStart,
}

/// What the server said about `e`, its position turned into line:column of
/// `sql`, where the failing statement starts at character `offset`.
pub fn server_error(e: &tokio_postgres::Error, sql: &str, offset: usize, unplaced: Unplaced) -> ServerError {
    let Some(db) = e.as_db_error() else {
        return ServerError {
            message: describe(e),
            ..Default::default()
        };
    };
    let mut out = ServerError {
        sqlstate: db.code().code().to_string(),
        message: db.message().to_string(),
        detail: db.detail().map(str::to_string),
        hint: db.hint().map(str::to_string),
        context: db.where_().map(str::to_string),
        ..Default::default()
    };
    match db.position() {
        Some(ErrorPosition::Original(p)) => out.location = line_col(sql, offset + *p as usize),
        Some(ErrorPosition::Internal { query, .. }) => out.internal_query = Some(query.clone()),
        None => {}
    }
    if out.location.is_none() && unplaced == Unplaced::StatementStart {
        out.location = Some(statement_start(sql, offset));
    }
    out
}
