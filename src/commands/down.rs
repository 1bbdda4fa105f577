//! `down --to V`: revert the applied versions above V with their down
//! scripts, newest first, each in one transaction with its history row; then
//! say what the database still has that the files up to V do not make.

use std::fmt::Write as _;

use tracing::{info, warn};

use super::{load_and_connect, under_lock, Output};
use crate::adoption;
use crate::config::Config;
use crate::db::apply::{self, DdlLocks, HistoryState, Recorder};
use crate::db::{foreign, history, schema as db_schema, Access, Session};
use crate::error::Error;
use crate::migration::{MigrationFile, Version};
use crate::reconcile::{self, DownEffect, EmptyDowns};
use crate::signal::Interrupt;

pub async fn down(config: &Config, to: Version, empty: EmptyDowns, interrupt: &Interrupt) -> Result<Output, Error> {
    let (set, session) = load_and_connect(config, Access::ReadWrite, interrupt).await?;
    let table = &config.history_table;
    let work = async {
        let recorded = history::open(&session, table).await?;
        let report = reconcile::reconcile(&set.files, &recorded.rows);
        let steps = reconcile::down_plan(&set.files, &report, &to, empty)
            .map_err(|refusal| Error::Refused(refusal.to_string()))?;
        let recorder = Recorder {
            table,
            applied_by: &config.applied_by,
            history: HistoryState::NonEmpty,
            ddl: DdlLocks {
                timeout: config.ddl_lock_timeout,
                budget: config.lock_timeout,
            },
            lock: None,
            restore_point: None,
        };
        let mut out = String::new();
        let (mut reverted, mut no_op) = (Vec::new(), Vec::new());
        for step in &steps {
            apply::apply_down(&session, &step.file.version, step.down, &recorder, interrupt).await?;
            let (file, version, name) = (&step.file.file_name, &step.file.version, &step.file.name);
            if step.effect == DownEffect::Nothing {
                info!("no-op down (nothing reverted): {}", step.down.file_name);
                let _ = writeln!(out, "no-op {version} {name}");
                no_op.push(version.clone());
            } else {
                info!("reverted {file}");
                let _ = writeln!(out, "reverted {version} {name}");
                reverted.push(version.clone());
            }
        }
        let left = left_behind(&session, config, &set.files, &to).await?;
        Ok((out, reverted, no_op, left))
    };
    let (out, mut reverted, mut no_op, left) = under_lock(config, interrupt, work).await?;
    // Reverted newest first; summarised in ascending order, as `run` does.
    reverted.sort();
    no_op.sort();
    let mut summary = format!("reverted [{}]", reconcile::abbreviate(&reverted));
    if !no_op.is_empty() {
        let _ = write!(
            summary,
            ", no-op down (nothing reverted) [{}]",
            reconcile::abbreviate(&no_op)
        );
    }
    let _ = write!(summary, "; history at version {to} or below");
    if !left.is_empty() {
        warn!(
            leftovers = %left.join(", "),
            "the down scripts left {} object(s) that the migrations up to version {to} do not make: {}",
            left.len(),
            left.join(", ")
        );
        let _ = write!(summary, "; {} object(s) left behind", left.len());
    }
    Ok(Output {
        stdout: Some(out),
        summary,
    })
}

/// What the files up to `to` should not leave but the database still has.
/// Before the first migration, nothing should be left: every object of the
/// compared schemas (read as a snapshot) and every application table. Above
/// it, the tables that later files create.
async fn left_behind(
    session: &Session,
    config: &Config,
    files: &[MigrationFile],
    to: &Version,
) -> Result<Vec<String>, Error> {
    let tables = foreign::user_tables(session, &config.history_table).await?;
    if files.first().is_none_or(|f| &f.version > to) {
        let live = db_schema::snapshot(session, &config.schema.filter, &config.history_table).await?;
        return Ok(reconcile::left_at_zero(&live, &tables));
    }
    let left = adoption::left_behind(files, to, &tables);
    Ok(left.iter().map(|t| format!("table {t}")).collect())
}
