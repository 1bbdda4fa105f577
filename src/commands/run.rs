//! `run`: validate, wait, lock, create history, check, apply, re-check, unlock.

use std::time::Instant;

use tracing::{info, warn};

use super::{load_and_connect, under_lock, Output};
use crate::adoption;
use crate::config::Config;
use crate::db::apply::{self, HistoryState, Outcome, Recorder};
use crate::db::{foreign, history, Access, Session};
use crate::error::Error;
use crate::migration::MigrationSet;
use crate::reconcile::{self, Check, History, Problem, Target};
use crate::signal::Interrupt;

/// What a run did.
struct Done {
    applied: Vec<String>,
    version: Option<i64>,
}

pub async fn run(config: &Config, target: Option<i64>, interrupt: &Interrupt) -> Result<Output, Error> {
    let start = Instant::now();
    let expectations = super::schema_check::load(config)?;
    let target = target.map_or(Target::Head, Target::Version);
    let (set, session) = load_and_connect(config, Access::ReadWrite, interrupt).await?;
    let done = under_lock(
        &session,
        config,
        interrupt,
        migrate(&session, &set, config, target, interrupt),
    )
    .await?;
    let ms = start.elapsed().as_millis();
    let at = done
        .version
        .map_or_else(|| "no version (no migrations)".to_string(), |v| format!("version {v}"));
    let summary = if done.applied.is_empty() {
        format!("nothing to apply; database at {at} ({ms} ms)")
    } else {
        format!(
            "applied {} migration(s) [{}] in {ms} ms; database at {at}",
            done.applied.len(),
            done.applied.join(", ")
        )
    };
    // The expected schema describes head; a run that stops at --target is not there.
    let summary = match target {
        Target::Head => super::schema_check::after_run(&session, config, &expectations, interrupt, summary).await?,
        Target::Version(_) => summary,
    };
    Ok(Output { stdout: None, summary })
}

/// Everything that happens under the lock.
async fn migrate(
    session: &Session,
    set: &MigrationSet,
    config: &Config,
    target: Target,
    interrupt: &Interrupt,
) -> Result<Done, Error> {
    let table = &config.history_table;
    let recorded = history::read_or_create(session, table).await?;
    if recorded.is_empty() && !set.files.is_empty() {
        refuse_unadopted(session, set, config).await?;
    }
    let reconcile::RunPlan {
        report,
        versions: plan,
        repeatables,
    } = reconcile::run_plan(set, &recorded, target, config.out_of_order, &table.quoted())
        .map_err(Error::Verification)?;
    if plan.is_empty() && repeatables.is_empty() {
        return Ok(Done {
            applied: Vec::new(),
            version: report.database_version,
        });
    }
    let recorder = Recorder {
        table,
        applied_by: &config.applied_by,
        history: if recorded.is_empty() {
            HistoryState::Empty
        } else {
            HistoryState::NonEmpty
        },
        insert: if plan.is_empty() {
            None
        } else {
            Some(apply::prepare_insert(session, table).await?)
        },
    };
    for version in &plan {
        interrupted(interrupt)?;
        let file = set
            .files
            .iter()
            .find(|f| f.version == *version)
            .expect("the plan only names files on disk");
        let t = Instant::now();
        match apply::apply(session, file, &recorder, interrupt).await? {
            Outcome::Recorded => info!("applied {} in {} ms", file.file_name, t.elapsed().as_millis()),
            Outcome::NotRecorded => warn!("{} ran, but its history row was rolled back with it", file.file_name),
        }
    }
    for file in &repeatables {
        interrupted(interrupt)?;
        if apply::apply_repeatable(session, file, &recorder, interrupt).await? == Outcome::Recorded {
            info!("applied repeatable {}", file.file_name);
        }
    }
    let mut done = confirm(session, set, config, target, &plan).await?;
    done.applied.extend(repeatables.iter().map(|r| r.file_name.clone()));
    Ok(done)
}

fn interrupted(interrupt: &Interrupt) -> Result<(), Error> {
    match interrupt.fired() {
        Some(sig) => Err(Error::Interrupted(sig)),
        None => Ok(()),
    }
}

/// Seed 002: tables exist but no version is recorded. Running the files would
/// fail on "relation already exists" at best; refuse, and say which baseline
/// would adopt the database.
async fn refuse_unadopted(session: &Session, set: &MigrationSet, config: &Config) -> Result<(), Error> {
    let tables = foreign::user_tables(session, &config.history_table).await?;
    if tables.is_empty() {
        return Ok(());
    }
    Err(Error::NotAdopted {
        suggestion: adoption::adoptable_version(&set.files, &tables),
        tables,
        history_table: config.history_table.quoted(),
    })
}

/// Step 7: read the history back. A migration whose transaction was rolled
/// back behind our back shows up here as pending, and fails the run (exit 6)
/// instead of exiting 0 and looping on every restart (seed 000).
async fn confirm(
    session: &Session,
    set: &MigrationSet,
    config: &Config,
    target: Target,
    applied: &[i64],
) -> Result<Done, Error> {
    let table = &config.history_table;
    let recorded: History = history::read(session, table).await?.unwrap_or_default();
    let report = reconcile::reconcile(&set.files, &recorded.rows);
    let check = match target {
        Target::Head => Check::AtHead,
        Target::Version(v) => Check::AtTarget(v),
    };
    let mut problems: Vec<Problem> = reconcile::problems(&report, check, &table.quoted())
        .into_iter()
        .map(|p| match p {
            Problem::Pending { version, file } if applied.contains(&version) => Problem::NotRecorded { version, file },
            other => other,
        })
        .collect();
    if target == Target::Head {
        problems.extend(reconcile::repeatable_problems(&set.repeatables, &recorded.repeatables));
    }
    if !problems.is_empty() {
        return Err(Error::Verification(problems));
    }
    let done = applied
        .iter()
        .filter(|v| recorded.rows.iter().any(|r| r.version == **v))
        .map(i64::to_string)
        .collect();
    Ok(Done {
        applied: done,
        version: report.database_version,
    })
}
