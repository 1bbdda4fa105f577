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
pub mod notices;
pub mod restore;
pub mod schema;
pub mod shadow;
pub mod tls;
pub mod wait;

pub use connect::{Access, Session};
pub use wait::wait_for_db;

use std::future::Future;
use std::time::Duration;

use tokio_postgres::error::{ErrorPosition, SqlState};
use tokio_postgres::types::{ToSql, Type};

use crate::error::{Error, ServerError};
use crate::signal::Interrupt;
use crate::sqltext::{do_block_location, line_col, statement_start, transaction_refuser, Scope};

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

/// The writer's session setting (see the file): after connecting, and again
/// after each migration resets its session.
pub(crate) const SESSION_SETTINGS: &str = include_str!("sql/session_settings.sql");

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

/// A database error outside a migration, with what we were doing: a lost
/// session and a missing privilege are the operator's (exit 3), anything
/// else a database error we did not expect.
pub fn db_error(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Error {
    let context = context.into();
    move |e| {
        let message = describe(&e);
        if is_connection_loss(&e) {
            return Error::ConnectionLost { context, message };
        }
        if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
            return Error::Privilege {
                action: context,
                message,
                hint: "grant the role what the message names, or run schemagate as a role that has it".into(),
            };
        }
        Error::Database { context, message }
    }
}

/// Whether `e` means the session is gone: the socket closed, an I/O error,
/// or the server ending it (class 08, admin/crash shutdown, not accepting
/// connections). A restart or failover mid-run looks like this.
pub fn is_connection_loss(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            code.code().starts_with("08")
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                ]
                .contains(code)
        }
        None => {
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                if s.is::<std::io::Error>() {
                    return true;
                }
                source = s.source();
            }
            false
        }
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
    if out.location.is_none() {
        out.location = unplaced_location(&out, sql, offset, unplaced);
    }
    out
}

/// Where a failure the server gave no position for is: inside a `DO` block
/// (from the PL/pgSQL line in the context), at a statement that cannot run
/// in a transaction (25001 names its kind), or at the start of the statement
/// that was sent alone.
fn unplaced_location(e: &ServerError, sql: &str, offset: usize, unplaced: Unplaced) -> Option<(usize, usize)> {
    let scope = match unplaced {
        Unplaced::Nowhere => Scope::File,
        Unplaced::StatementStart => Scope::StatementAt(offset),
    };
    let in_block = || do_block_location(sql, scope, e.context.as_deref()?, e.internal_query.as_deref());
    let refuser = || {
        let refused = e.sqlstate == SqlState::ACTIVE_SQL_TRANSACTION.code();
        refused.then(|| transaction_refuser(sql, scope, &e.message)).flatten()
    };
    let start = || (unplaced == Unplaced::StatementStart).then(|| statement_start(sql, offset));
    in_block().or_else(refuser).or_else(start)
}
