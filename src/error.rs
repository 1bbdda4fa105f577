//! The one error type. Every failure carries the data an operator needs to act
//! on it, and maps itself to the process exit code; only `main` exits.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::adoption::{Advice, ExpectedTable};
use crate::migration::{FileProblem, Version};
use crate::reconcile::Problem;
use crate::restore::Missing;

/// Process exit codes. They are part of the interface (README, "Exit codes"):
/// a Compose `service_completed_successfully` gate or a Kubernetes Job only
/// sees this number, so each class of failure gets its own.
pub mod exit {
    pub const OK: i32 = 0;
    pub const INTERNAL: i32 = 1;
    pub const CONFIG: i32 = 2;
    pub const UNREACHABLE: i32 = 3;
    pub const LOCK_TIMEOUT: i32 = 4;
    pub const MIGRATION_FAILED: i32 = 5;
    pub const VERIFY_FAILED: i32 = 6;
    pub const SIGINT: i32 = 130;
    pub const SIGTERM: i32 = 143;
}

/// The signal that interrupted a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Who holds the migration lock, read from `pg_stat_activity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: i32,
    pub application_name: String,
    pub client: String,
    pub since: String,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} (application_name '{}', client {}, since {})",
            self.pid, self.application_name, self.client, self.since
        )
    }
}

/// What the server said about a failed statement, with its position turned
/// into a line and column of the file it came from. One type for migrations
/// and verify scripts alike.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerError {
    /// `line:column` inside the file, when it is known.
    pub location: Option<(usize, usize)>,
    pub sqlstate: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// For errors raised inside PL/pgSQL: the query that failed there.
    pub internal_query: Option<String>,
    pub context: Option<String>,
}

impl fmt::Display for ServerError {
    /// `line L, column C: message (SQLSTATE X)`, then one indented line each
    /// for the detail, hint, internal query and context.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((line, col)) = self.location {
            write!(f, "line {line}, column {col}: ")?;
        }
        write!(f, "{} (SQLSTATE {})", self.message, self.sqlstate)?;
        let extras = [
            ("detail", &self.detail),
            ("hint", &self.hint),
            ("internal query", &self.internal_query),
            ("context", &self.context),
        ];
        for (label, value) in extras {
            if let Some(v) = value {
                write!(f, "\n  {label}: {}", v.replace('\n', "\n    "))?;
            }
        }
        Ok(())
    }
}

/// A session that holds a lock a migration waits for, read from
/// `pg_stat_activity` while it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    pub pid: i32,
    pub application_name: String,
    pub client: String,
    pub state: String,
    pub transaction_age: Duration,
    /// The first 200 characters of its query.
    pub query: String,
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} (application_name '{}', client {}, {}, transaction open {:.1}s): {}",
            self.pid,
            self.application_name,
            self.client,
            self.state,
            self.transaction_age.as_secs_f64(),
            self.query.replace('\n', " ")
        )
    }
}

/// A failed migration: the file, what the server said, and what it means
/// for the database.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigrationFailure {
    pub file: String,
    /// `None` for a repeatable migration.
    pub version: Option<Version>,
    pub error: ServerError,
    /// Whether the migration ran outside a transaction, so that part of it may
    /// have been applied and a `success=false` row was written.
    pub non_transactional: bool,
    /// Our own advice (for example: adopt the database with `baseline`).
    pub advice: Option<String>,
}

#[derive(Debug)]
pub enum Error {
    /// A bad variable, flag or value. `source` names it (`SCHEMAGATE_WAIT_TIMEOUT`, `--lock-timeout`).
    Config {
        source: String,
        message: String,
    },
    /// The migration directory cannot be used as it is.
    InvalidMigrations {
        dir: PathBuf,
        problems: Vec<FileProblem>,
    },
    /// The database did not accept a session before the wait timeout.
    Unreachable {
        target: String,
        waited: Duration,
        last_error: String,
    },
    /// A connection error that retrying cannot fix (auth, missing DB, TLS).
    ConnectFatal {
        target: String,
        reason: String,
    },
    /// The session was lost after connecting: the server restarted, crashed,
    /// was shut down or became unreachable. `run`, `verify --wait` and `wait`
    /// reconnect and go on; for the one-shot commands it is exit 3.
    ConnectionLost {
        context: String,
        message: String,
    },
    /// The role lacks a privilege schemagate needs (creating the history
    /// table in `public` on PostgreSQL 15, say): the operator's to grant.
    Privilege {
        action: String,
        message: String,
        hint: String,
    },
    /// `SCHEMAGATE_RESTORE_POINT=require`, and no restore point that would
    /// reach a WAL archive could be taken: refused before anything was
    /// applied. Exit 3, like the privilege it often lacks.
    NoRestorePoint(Vec<Missing>),
    LockTimeout {
        waited: Duration,
        holder: Option<LockHolder>,
    },
    MigrationFailed(Box<MigrationFailure>),
    /// A migration failed in the shadow database, where `plan --locks` and
    /// the lock policy run them to measure their locks: it would most likely
    /// fail on the target too, which was not changed.
    ShadowMigrationFailed {
        database: String,
        failure: Box<MigrationFailure>,
    },
    /// The history is empty but the database already has application tables
    /// (seed 002's DuplicateTableError loop): adopt it first.
    NotAdopted {
        tables: Vec<String>,
        history_table: String,
        advice: Advice,
    },
    /// An operator command that would lose track of the schema (baseline on a
    /// non-empty history, down without down files, import of a dirty state).
    Refused(String),
    /// The database is not where it must be; one entry per problem.
    Verification(Vec<Problem>),
    /// The live schema differs from the expected one, or a verify script
    /// failed: one line per difference.
    SchemaDrift(Vec<String>),
    /// A failure whose command also has a document for stdout
    /// (`verify --format json`); it exits as the inner error does.
    WithOutput {
        error: Box<Error>,
        stdout: String,
    },
    Interrupted(Signal),
    /// A database error outside a migration (reading the history, say).
    Database {
        context: String,
        message: String,
    },
    Io {
        path: PathBuf,
        message: String,
    },
    Internal(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config { .. } | Error::InvalidMigrations { .. } | Error::Refused(_) => exit::CONFIG,
            Error::Unreachable { .. }
            | Error::ConnectFatal { .. }
            | Error::ConnectionLost { .. }
            | Error::Privilege { .. }
            | Error::NoRestorePoint(_) => exit::UNREACHABLE,
            Error::LockTimeout { .. } => exit::LOCK_TIMEOUT,
            Error::MigrationFailed(_) | Error::NotAdopted { .. } | Error::ShadowMigrationFailed { .. } => {
                exit::MIGRATION_FAILED
            }
            Error::Verification(_) => exit::VERIFY_FAILED,
            Error::Interrupted(Signal::Interrupt) => exit::SIGINT,
            Error::Interrupted(Signal::Terminate) => exit::SIGTERM,
            Error::SchemaDrift(_) => exit::VERIFY_FAILED,
            Error::WithOutput { error, .. } => error.exit_code(),
            Error::Database { .. } | Error::Io { .. } | Error::Internal(_) => exit::INTERNAL,
        }
    }

    pub fn config(source: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            source: source.into(),
            message: message.into(),
        }
    }

    /// What the failed command still writes to stdout.
    pub fn stdout(&self) -> Option<&str> {
        match self {
            Error::WithOutput { stdout, .. } => Some(stdout),
            _ => None,
        }
    }

    pub fn io(path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            message: err.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config { source, message } => write!(f, "configuration error: {source}: {message}"),
            Error::InvalidMigrations { dir, problems } => {
                write!(f, "invalid migration set in {}:", dir.display())?;
                for p in problems {
                    write!(f, "\n  {p}")?;
                }
                Ok(())
            }
            Error::Unreachable {
                target,
                waited,
                last_error,
            } => write!(
                f,
                "database {target} unreachable after waiting {:.1}s: {last_error}",
                waited.as_secs_f64()
            ),
            Error::ConnectFatal { target, reason } => {
                write!(f, "cannot connect to {target}: {reason}")
            }
            Error::ConnectionLost { context, message } => {
                write!(f, "lost the connection to the database while {context}: {message}")
            }
            Error::Privilege { action, message, hint } => write!(f, "{action}: {message}\n  hint: {hint}"),
            Error::NoRestorePoint(missing) => {
                write!(
                    f,
                    "refused: SCHEMAGATE_RESTORE_POINT=require, and no restore point that a WAL archive keeps \
                     could be taken before migrating; nothing was applied:"
                )?;
                for m in missing {
                    write!(f, "\n  {m}")?;
                }
                Ok(())
            }
            Error::LockTimeout { waited, holder } => {
                write!(f, "migration lock not acquired within {:.1}s", waited.as_secs_f64())?;
                match holder {
                    Some(h) => write!(f, "; held by {h}"),
                    None => Ok(()),
                }
            }
            Error::MigrationFailed(m) => fmt_failure(f, m),
            Error::ShadowMigrationFailed { database, failure } => {
                write!(f, "migration {} failed in the shadow database {database}", failure.file)?;
                let at = if failure.error.location.is_some() { " at " } else { ": " };
                write!(f, "{at}{}\n  nothing was changed on the target", failure.error)
            }
            Error::NotAdopted {
                tables,
                history_table,
                advice,
            } => fmt_not_adopted(f, tables, history_table, advice),
            Error::Refused(why) => write!(f, "refused: {why}"),
            Error::Verification(problems) => {
                write!(f, "verification failed ({} problem(s)):", problems.len())?;
                for p in problems {
                    write!(f, "\n  {p}")?;
                }
                Ok(())
            }
            Error::SchemaDrift(lines) => {
                write!(f, "schema verification failed ({} difference(s)):", lines.len())?;
                for line in lines {
                    write!(f, "\n  {line}")?;
                }
                Ok(())
            }
            Error::WithOutput { error, .. } => error.fmt(f),
            Error::Interrupted(sig) => write!(f, "interrupted by {}", sig.name()),
            Error::Database { context, message } => write!(f, "{context}: {message}"),
            Error::Io { path, message } => write!(f, "{}: {message}", path.display()),
            Error::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

/// The first ten names, then how many more.
fn first_ten<T: fmt::Display>(items: &[T]) -> String {
    let shown: Vec<String> = items.iter().take(10).map(ToString::to_string).collect();
    match items.len() {
        n if n > 10 => format!("{} and {} more", shown.join(", "), n - 10),
        _ => shown.join(", "),
    }
}

fn fmt_not_adopted(f: &mut fmt::Formatter<'_>, tables: &[String], history_table: &str, advice: &Advice) -> fmt::Result {
    write!(
        f,
        "the database already has tables ({}) but the history table {history_table} is empty; nothing was applied. ",
        first_ten(tables)
    )?;
    match advice {
        Advice::Baseline { version, later } => {
            write!(
                f,
                "If the migrations created them, adopt the database first: schemagate baseline --version {version} \
                 (every table the migrations up to it create exists)"
            )?;
            if !later.is_empty() {
                write!(
                    f,
                    "; but tables of later migrations exist too ({}), and `run` would meet them after the baseline",
                    first_ten(later)
                )?;
            }
            Ok(())
        }
        Advice::NoVersion { present, missing } => fmt_no_version(f, present, missing),
    }
}

fn fmt_no_version(f: &mut fmt::Formatter<'_>, present: &[ExpectedTable], missing: &[ExpectedTable]) -> fmt::Result {
    const BY_HAND: &str = "adopt by hand with schemagate baseline --version <the version the schema is really at>";
    if present.is_empty() {
        return write!(
            f,
            "None of them is a table the migration files create, so no version can be adopted; if the migrations \
             made them in ways schemagate does not read, {BY_HAND}"
        );
    }
    write!(
        f,
        "No version can be adopted: for every version, some table that the migrations up to it create is \
         missing. Present: {}; missing: {}. If the present ones are leftovers (of down scripts that missed them, \
         say), drop them and run again; otherwise create what is missing, or {BY_HAND}",
        first_ten(present),
        first_ten(missing)
    )
}

fn fmt_failure(f: &mut fmt::Formatter<'_>, m: &MigrationFailure) -> fmt::Result {
    write!(f, "migration {} failed", m.file)?;
    if m.error.location.is_some() {
        write!(f, " at ")?;
    } else {
        write!(f, ": ")?;
    }
    write!(f, "{}", m.error)?;
    if m.non_transactional {
        write!(
            f,
            "\n  this migration ran without a transaction, so part of it may be applied; \
             a success=false row now blocks further runs until the database is fixed by hand \
             and the row is deleted"
        )?;
    } else {
        write!(
            f,
            "\n  its transaction was rolled back; the database is at the previous version"
        )?;
    }
    if let Some(a) = &m.advice {
        write!(f, "\n  {a}")?;
    }
    Ok(())
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_documented_table() {
        assert_eq!(Error::config("X", "y").exit_code(), 2);
        let unreachable = Error::Unreachable {
            target: "t".into(),
            waited: Duration::ZERO,
            last_error: "e".into(),
        };
        assert_eq!(unreachable.exit_code(), 3);
        assert_eq!(Error::NoRestorePoint(vec![]).exit_code(), 3);
        let lock = Error::LockTimeout {
            waited: Duration::ZERO,
            holder: None,
        };
        assert_eq!(lock.exit_code(), 4);
        let failed = Error::MigrationFailed(Box::default());
        assert_eq!(failed.exit_code(), 5);
        let in_shadow = Error::ShadowMigrationFailed {
            database: "schemagate_shadow_1_a".into(),
            failure: Box::default(),
        };
        assert_eq!(in_shadow.exit_code(), 5);
        assert_eq!(Error::Verification(vec![]).exit_code(), 6);
        assert_eq!(Error::SchemaDrift(vec![]).exit_code(), 6);
        let with_output = Error::WithOutput {
            error: Box::new(Error::SchemaDrift(vec!["x".into()])),
            stdout: "{}".into(),
        };
        assert_eq!((with_output.exit_code(), with_output.stdout()), (6, Some("{}")));
        assert_eq!(Error::Interrupted(Signal::Interrupt).exit_code(), 130);
        assert_eq!(Error::Interrupted(Signal::Terminate).exit_code(), 143);
        assert_eq!(Error::Internal("x".into()).exit_code(), 1);
    }

    #[test]
    fn failure_message_names_file_position_and_sqlstate() {
        let m = MigrationFailure {
            file: "0002_x.sql".into(),
            version: Some(Version::from_int(2)),
            error: ServerError {
                location: Some((3, 5)),
                sqlstate: "42601".into(),
                message: "syntax error at or near \"SELEC\"".into(),
                hint: Some("one\ntwo".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let text = Error::MigrationFailed(Box::new(m)).to_string();
        assert!(
            text.contains("0002_x.sql failed at line 3, column 5: syntax error"),
            "{text}"
        );
        assert!(text.contains("\n  hint: one\n    two"), "{text}");
        assert!(text.contains("SQLSTATE 42601"), "{text}");
        assert!(text.contains("rolled back"), "{text}");
    }
}
