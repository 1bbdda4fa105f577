//! Server notices. PostgreSQL's NOTICE and WARNING messages ("relation … already
//! exists, skipping", "there is no transaction in progress") say what a
//! migration really did; psql shows them, and so does schemagate: at info and
//! warn level, with the file being applied and, where the server gives a
//! position, the line. DEBUG and LOG messages carry nothing for an operator
//! and stay hidden. Notices outside a migration (schemagate's own `IF NOT
//! EXISTS` housekeeping) go to debug.
//!
//! Notices arrive on the connection task, not on the task that runs the
//! migration, so the file being applied is kept here, process-wide: one
//! migration runs at a time in a process, and the connection code (which
//! spawns that task, and may reconnect) needs to know nothing about files.

use std::sync::{Mutex, MutexGuard};

use futures_util::future::poll_fn;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::error::{DbError, ErrorPosition, Severity};
use tokio_postgres::{AsyncMessage, Connection};
use tracing::{debug, info, warn};

use super::describe;
use crate::sqltext::{do_block_location, line_col, statement_start, Scope};

/// The file being applied, and which part of it was sent.
struct Applying {
    file: String,
    sql: String,
    scope: Scope,
}

static APPLYING: Mutex<Option<Applying>> = Mutex::new(None);

fn applying_now() -> MutexGuard<'static, Option<Applying>> {
    APPLYING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Tags the notices that arrive while it lives with the file being applied.
pub struct Tag(());

/// Files above this size are not copied for notices' line numbers (a 50 MB
/// data load would be held twice); their notices name the file alone.
const LINES_UP_TO: usize = 4 << 20;

/// Notices from now on come from `file`, whose text `sql` was sent whole.
pub fn applying(file: &str, sql: &str) -> Tag {
    *applying_now() = Some(Applying {
        file: file.to_string(),
        sql: if sql.len() <= LINES_UP_TO {
            sql.to_string()
        } else {
            String::new()
        },
        scope: Scope::File,
    });
    Tag(())
}

impl Tag {
    /// Only the statement at character `offset` is being sent now.
    pub fn at(&self, offset: usize) {
        if let Some(a) = applying_now().as_mut() {
            a.scope = Scope::StatementAt(offset);
        }
    }
}

impl Drop for Tag {
    fn drop(&mut self) {
        *applying_now() = None;
    }
}

/// Drives the connection until it closes, logging each notice. (The
/// connection's own `Future` would hand them to the `log` crate, where
/// nothing reads them.)
pub async fn drive<S, T>(mut conn: Connection<S, T>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match poll_fn(|cx| conn.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notice(notice))) => log(&notice),
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                debug!("connection ended: {}", describe(&e));
                return;
            }
            None => return,
        }
    }
}

/// Where in the file a notice points: at the server's position, in a `DO`
/// block by its PL/pgSQL line, or at the statement sent alone.
fn line_of(a: &Applying, n: &DbError) -> Option<usize> {
    let offset = match a.scope {
        Scope::File => 0,
        Scope::StatementAt(o) => o,
    };
    let located = match n.position() {
        Some(ErrorPosition::Original(p)) => line_col(&a.sql, offset + *p as usize),
        Some(ErrorPosition::Internal { query, .. }) => {
            do_block_location(&a.sql, a.scope, n.where_().unwrap_or(""), Some(query))
        }
        None => n.where_().and_then(|w| do_block_location(&a.sql, a.scope, w, None)),
    };
    let statement = || match a.scope {
        Scope::File => None,
        Scope::StatementAt(o) => Some(statement_start(&a.sql, o)),
    };
    located.or_else(statement).map(|(line, _)| line)
}

fn log(n: &DbError) {
    let severity = n.parsed_severity();
    if matches!(severity, Some(Severity::Debug | Severity::Log)) {
        return;
    }
    let (file, line) = match applying_now().as_ref() {
        Some(a) => (a.file.clone(), line_of(a, n)),
        None => {
            debug!(
                severity = n.severity(),
                sqlstate = n.code().code(),
                "server {}: {}",
                n.severity(),
                n.message()
            );
            return;
        }
    };
    let at = line.map_or(String::new(), |l| format!(" line {l}"));
    let text = format!("server {} in {file}{at}: {}", n.severity(), n.message());
    macro_rules! emit {
        ($level:ident) => {
            $level!(
                file = %file,
                line,
                severity = %n.severity(),
                sqlstate = %n.code().code(),
                detail = n.detail(),
                hint = n.hint(),
                "{text}"
            )
        };
    }
    match severity {
        Some(Severity::Warning) => emit!(warn),
        _ => emit!(info),
    }
}
