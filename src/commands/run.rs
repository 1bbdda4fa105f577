//! `run`: validate, wait, lock, create history, check, apply, re-check, unlock.

use std::time::Instant;

use tracing::info;

use super::{load_and_connect, Output};
use crate::config::Config;
use crate::db::apply::{self, HistoryState, Outcome, Target};
use crate::db::{history as db_history, lock, Access, Session};
use crate::error::Error;
use crate::history::{self, Check, Problem};
use crate::migration::MigrationFile;
use crate::signal::Interrupt;

pub async fn run(config: &Config, interrupt: &Interrupt) -> Result<Output, Error> {
    let start = Instant::now();
    let expectations = super::schema_check::load(config)?;
    let (files, session) = load_and_connect(config, Access::ReadWrite, interrupt).await?;
    let key = config.history_table.lock_key();
    lock::acquire(&session, key, config.lock_timeout, interrupt).await?;
    let result = migrate(&session, &files, config, interrupt).await;
    lock::release(&session, key).await;
    let (applied, version) = result?;
    let ms = start.elapsed().as_millis();
    let at = version.map_or_else(|| "no version (no migrations)".to_string(), |v| format!("version {v}"));
    let summary = if applied.is_empty() {
        format!("nothing to apply; database at {at} ({ms} ms)")
    } else {
        let list: Vec<String> = applied.iter().map(i64::to_string).collect();
        format!(
            "applied {} migration(s) [{}] in {ms} ms; database at {at}",
            applied.len(),
            list.join(", ")
        )
    };
    let summary = super::schema_check::after_run(&session, config, &expectations, interrupt, summary).await?;
    Ok(Output { stdout: None, summary })
}

/// Everything that happens under the lock. Returns the versions applied and
/// the version the database is at.
async fn migrate(
    session: &Session,
    files: &[MigrationFile],
    config: &Config,
    interrupt: &Interrupt,
) -> Result<(Vec<i64>, Option<i64>), Error> {
    let table = &config.history_table;
    let rows = db_history::read_or_create(session, table).await?;
    let report = history::reconcile(files, &rows);
    let problems = history::problems(
        &report,
        Check::BeforeRun {
            out_of_order: config.out_of_order,
        },
        &table.quoted(),
    );
    if !problems.is_empty() {
        return Err(Error::Verification(problems));
    }
    let plan = history::plan(&report);
    if plan.is_empty() {
        return Ok((plan, report.database_version));
    }
    let target = Target {
        table,
        applied_by: &config.applied_by,
        history: if rows.is_empty() {
            HistoryState::Empty
        } else {
            HistoryState::NonEmpty
        },
    };
    for version in &plan {
        if let Some(sig) = interrupt.fired() {
            return Err(Error::Interrupted(sig));
        }
        let file = files
            .iter()
            .find(|f| f.version == *version)
            .expect("the plan only names files on disk");
        let t = Instant::now();
        match apply::apply(session, file, &target, interrupt).await? {
            Outcome::Recorded => info!("applied {} in {} ms", file.file_name, t.elapsed().as_millis()),
            Outcome::NotRecorded => {
                tracing::warn!("{} ran, but its history row was rolled back with it", file.file_name)
            }
        }
    }
    confirm_at_head(session, files, config, &plan).await
}

/// Step 7: read the history back. A migration whose transaction was rolled
/// back behind our back shows up here as pending, and fails the run (exit 6)
/// instead of exiting 0 and looping on every restart (seed 000).
async fn confirm_at_head(
    session: &Session,
    files: &[MigrationFile],
    config: &Config,
    applied: &[i64],
) -> Result<(Vec<i64>, Option<i64>), Error> {
    let table = &config.history_table;
    let rows = db_history::read(session, table).await?.unwrap_or_default();
    let report = history::reconcile(files, &rows);
    let problems: Vec<Problem> = history::problems(&report, Check::AtHead, &table.quoted())
        .into_iter()
        .map(|p| match p {
            Problem::Pending { version, file } if applied.contains(&version) => Problem::NotRecorded { version, file },
            other => other,
        })
        .collect();
    if !problems.is_empty() {
        return Err(Error::Verification(problems));
    }
    let recorded = applied
        .iter()
        .copied()
        .filter(|v| rows.iter().any(|r| r.version == *v))
        .collect();
    Ok((recorded, report.database_version))
}
