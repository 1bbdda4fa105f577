//! `run`: validate, wait, lock, create history, check, apply, re-check, unlock.

use std::time::Instant;

use tracing::{info, warn};

use super::{load_and_connect, under_lock, Output};
use crate::adoption;
use crate::config::Config;
use crate::db::apply::{self, HistoryState, Outcome, Recorder};
use crate::db::{foreign, history, Access, Session};
use crate::error::Error;
use crate::migration::{MigrationSet, Version};
use crate::reconcile::{self, Target};
use crate::signal::Interrupt;

/// What a run did.
struct Done {
    applied: Vec<Version>,
    repeatables: Vec<String>,
    version: Option<Version>,
}

impl Done {
    /// `1-4, R__views.sql`: versions abbreviated, repeatables by name.
    fn list(&self) -> String {
        let mut parts = Vec::new();
        if !self.applied.is_empty() {
            parts.push(reconcile::abbreviate(&self.applied));
        }
        parts.extend(self.repeatables.iter().cloned());
        parts.join(", ")
    }
}

pub async fn run(config: &Config, target: Option<Version>, interrupt: &Interrupt) -> Result<Output, Error> {
    let start = Instant::now();
    let expectations = super::schema_check::load(config)?;
    let target = target.map_or(Target::Head, Target::Version);
    let (set, session) = load_and_connect(config, Access::ReadWrite, interrupt).await?;
    super::locks::gate(config, &set, &session, &target, interrupt).await?;
    let done = under_lock(
        &session,
        config,
        interrupt,
        migrate(&session, &set, config, &target, interrupt),
    )
    .await?;
    let ms = start.elapsed().as_millis();
    let at = done
        .version
        .as_ref()
        .map_or_else(|| "no version (no migrations)".to_string(), |v| format!("version {v}"));
    let summary = if done.applied.is_empty() && done.repeatables.is_empty() {
        format!("nothing to apply; database at {at} ({ms} ms)")
    } else {
        format!(
            "applied {} migration(s) [{}] in {ms} ms; database at {at}",
            done.applied.len() + done.repeatables.len(),
            done.list()
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
    target: &Target,
    interrupt: &Interrupt,
) -> Result<Done, Error> {
    let table = &config.history_table;
    let recorded = history::open(session, table).await?;
    if recorded.is_empty() && !set.files.is_empty() {
        refuse_unadopted(session, set, config).await?;
    }
    let plan = reconcile::run_plan(set, &recorded, target, config.out_of_order, &table.quoted())
        .map_err(Error::Verification)?;
    if plan.is_empty() {
        return Ok(Done {
            applied: Vec::new(),
            repeatables: Vec::new(),
            version: plan.report.database_version,
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
        insert: if plan.files.is_empty() {
            None
        } else {
            Some(apply::prepare_insert(session, table).await?)
        },
    };
    for file in &plan.files {
        interrupted(interrupt)?;
        let t = Instant::now();
        match apply::apply(session, file, &recorder, interrupt).await? {
            Outcome::Recorded => info!("applied {} in {} ms", file.file_name, t.elapsed().as_millis()),
            Outcome::NotRecorded => warn!("{} ran, but its history row was rolled back with it", file.file_name),
        }
    }
    for file in &plan.repeatables {
        interrupted(interrupt)?;
        if apply::apply_repeatable(session, file, &recorder, interrupt).await? == Outcome::Recorded {
            info!("applied repeatable {}", file.file_name);
        }
    }
    let applied: Vec<Version> = plan.files.iter().map(|f| f.version.clone()).collect();
    let mut done = confirm(session, set, config, target, &applied).await?;
    done.repeatables = plan.repeatables.iter().map(|r| r.file_name.clone()).collect();
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
/// back behind our back shows up here (exit 6) instead of exiting 0 and
/// looping on every restart (seed 000); the rule is [`reconcile::confirm`].
async fn confirm(
    session: &Session,
    set: &MigrationSet,
    config: &Config,
    target: &Target,
    applied: &[Version],
) -> Result<Done, Error> {
    let table = &config.history_table;
    let recorded = history::read(session, table).await?.unwrap_or_default();
    let (report, done) =
        reconcile::confirm(set, &recorded, target, applied, &table.quoted()).map_err(Error::Verification)?;
    Ok(Done {
        applied: done,
        repeatables: Vec::new(),
        version: report.database_version,
    })
}
