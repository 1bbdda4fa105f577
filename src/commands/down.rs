//! `down --to V`: revert the applied versions above V with their down
//! scripts, newest first, each in one transaction with its history row.

use std::fmt::Write as _;

use tracing::info;

use super::{load_and_connect, under_lock, Output};
use crate::config::Config;
use crate::db::apply::{self, DdlLocks, HistoryState, Recorder};
use crate::db::{history, Access};
use crate::error::Error;
use crate::migration::Version;
use crate::reconcile;
use crate::signal::Interrupt;

pub async fn down(config: &Config, to: Version, interrupt: &Interrupt) -> Result<Output, Error> {
    let (set, session) = load_and_connect(config, Access::ReadWrite, interrupt).await?;
    let table = &config.history_table;
    let work = async {
        let recorded = history::open(&session, table).await?;
        let report = reconcile::reconcile(&set.files, &recorded.rows);
        let steps = reconcile::down_plan(&set.files, &report, &to)
            .map_err(|lacking| Error::Refused(format!("cannot revert, nothing was changed: {}", lacking.join(", "))))?;
        let recorder = Recorder {
            table,
            applied_by: &config.applied_by,
            history: HistoryState::NonEmpty,
            ddl: DdlLocks {
                timeout: config.ddl_lock_timeout,
                budget: config.lock_timeout,
            },
            lock: None,
        };
        let mut out = String::new();
        for step in &steps {
            apply::apply_down(&session, &step.file.version, step.down, &recorder, interrupt).await?;
            info!("reverted {}", step.file.file_name);
            let _ = writeln!(out, "reverted {} {}", step.file.version, step.file.name);
        }
        Ok((
            out,
            steps.iter().map(|s| s.file.version.clone()).collect::<Vec<Version>>(),
        ))
    };
    let (out, versions) = under_lock(config, interrupt, work).await?;
    Ok(Output {
        stdout: Some(out),
        summary: format!(
            "reverted [{}]; database at version {to} or below",
            reconcile::abbreviate(&versions)
        ),
    })
}
