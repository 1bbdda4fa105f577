//! One module per command. Each returns an [`Output`]; `app` prints it.

mod baseline;
mod down;
mod import;
mod locks;
mod new;
mod plan;
mod repair;
mod run;
mod schema_check;
mod snapshot;
mod status;
mod verify;

use std::future::Future;
use std::time::Instant;

use tracing::info;

use crate::cli::Command;
use crate::config::Config;
use crate::db::lock::Lock;
use crate::db::{self, Access, Session};
use crate::error::Error;
use crate::files;
use crate::migration::MigrationSet;
use crate::signal::Interrupt;

/// What a command produced: text for stdout (if any) and the one-line
/// summary that is logged and written to the termination log.
#[derive(Debug, Default)]
pub struct Output {
    pub stdout: Option<String>,
    pub summary: String,
}

pub async fn execute(command: Command, config: &Config, interrupt: &Interrupt) -> Result<Output, Error> {
    match command {
        Command::Run(args) if args.dry_run => {
            plan::plan(config, args.target, plan::ShowSql::from(args.sql), interrupt).await
        }
        Command::Run(args) => run::run(config, args.target, interrupt).await,
        Command::Plan(args) if args.locks => {
            let args = locks::LocksArgs {
                target: args.target,
                from: args.from,
                format: args.format,
            };
            locks::plan_locks(config, args, interrupt).await
        }
        Command::Plan(args) => plan::plan(config, args.target, plan::ShowSql::from(args.sql), interrupt).await,
        Command::Baseline { version } => baseline::baseline(config, version, interrupt).await,
        Command::Repair {
            dry_run,
            forget_missing,
        } => {
            let mode = if dry_run {
                repair::Write::DryRun
            } else {
                repair::Write::Apply
            };
            let missing = if forget_missing {
                crate::adoption::MissingRows::Forget
            } else {
                crate::adoption::MissingRows::Keep
            };
            repair::repair(config, mode, missing, interrupt).await
        }
        Command::Down { to, allow_empty } => {
            let empty = if allow_empty {
                crate::reconcile::EmptyDowns::AllowAsNoOp
            } else {
                crate::reconcile::EmptyDowns::Refuse
            };
            down::down(config, to, empty, interrupt).await
        }
        Command::Import { from, mapping } => import::import(config, from, mapping.as_deref(), interrupt).await,
        Command::Wait => wait(config, interrupt).await,
        Command::Verify { wait, format } => {
            let mode = if wait {
                verify::Mode::PollUntilWaitTimeout
            } else {
                verify::Mode::Once
            };
            verify::verify(config, mode, format, interrupt).await
        }
        Command::Snapshot { output, check } => {
            let mode = if check {
                snapshot::Mode::Check(output)
            } else {
                snapshot::Mode::Write(output)
            };
            snapshot::snapshot(config, mode, interrupt).await
        }
        Command::Status { format } => status::status(config, format, interrupt).await,
        Command::New { name } => new::new_migration(config, &name),
    }
}

async fn wait(config: &Config, interrupt: &Interrupt) -> Result<Output, Error> {
    let start = Instant::now();
    // A server that accepts a session and goes away before answering (a
    // restart just then) is waited for again.
    let session = loop {
        let session = db::wait_for_db(config, Access::ReadOnly, interrupt).await?;
        match db::wait::select_one(&session).await {
            Err(Error::ConnectionLost { .. }) if start.elapsed() < config.wait_timeout => continue,
            other => break other.map(|()| session)?,
        }
    };
    Ok(Output {
        stdout: None,
        summary: format!(
            "database {} is ready ({} ms)",
            session.target,
            start.elapsed().as_millis()
        ),
    })
}

/// Reads and hashes the migration files while connecting, so a no-op run
/// costs no more than the connection (bench case b). An invalid migration set
/// is reported as soon as it is known, whatever the connection is doing.
async fn load_and_connect(
    config: &Config,
    access: Access,
    interrupt: &Interrupt,
) -> Result<(MigrationSet, Session), Error> {
    load_while(config, db::wait_for_db(config, access, interrupt)).await
}

/// Reads and hashes the migration files while `work` (connecting, and what
/// can be asked of the database before the files are known) goes on.
async fn load_while<T>(
    config: &Config,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<(MigrationSet, T), Error> {
    let dir = config.migrations_dir.clone();
    let mut loading = tokio::task::spawn_blocking(move || files::load_migrations(&dir));
    tokio::pin!(work);
    let join_error = |e: tokio::task::JoinError| Error::Internal(format!("reading migrations: {e}"));
    tokio::select! {
        loaded = &mut loading => {
            let files = loaded.map_err(join_error)??;
            let done = work.await?;
            Ok((files, done))
        }
        done = &mut work => {
            let files = loading.await.map_err(join_error)??;
            Ok((files, done?))
        }
    }
}

/// Runs `work` holding the migration lock, and releases it on every path.
async fn under_lock<T>(
    config: &Config,
    interrupt: &Interrupt,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let lock = Lock::acquire(config, interrupt).await?;
    let result = work.await;
    lock.release().await;
    result
}

/// An older image on a newer database (a rollback, an Argo CD revert, an old
/// ReplicaSet's Pod rescheduled after the new Job ran): the versions a newer
/// release applied are not "missing" and do not stop the gate. They are
/// named, once, so the operator knows the schema is ahead of the code.
pub fn warn_future(future: &[crate::migration::Version], set: &MigrationSet) {
    if future.is_empty() {
        return;
    }
    let head = set
        .files
        .last()
        .map_or_else(|| "none".to_string(), |f| f.version.to_string());
    tracing::warn!(
        "version(s) {} were applied by a newer release (this image's highest file is {head}): the database is \
         ahead of this image, which runs on the newer schema (expand/contract); set SCHEMAGATE_FUTURE=fail to refuse",
        crate::reconcile::abbreviate(future)
    );
}

/// Logs where the connection settings came from (DATABASE_URL wins over POSTGRES_*).
pub fn log_source(config: &Config) {
    use crate::config::DbSource;
    let source = match config.db_source {
        DbSource::DatabaseUrl => "DATABASE_URL",
        DbSource::DatabaseUrlFile => "DATABASE_URL_FILE",
        DbSource::Flag => "--database-url",
        DbSource::PostgresVars => "POSTGRES_* variables",
    };
    info!("target {} (from {source})", config.db.target());
}
