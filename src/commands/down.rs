//! `down --to V`: revert the applied versions above V with their down
//! scripts, newest first, each in one transaction with its history row.

use std::fmt::Write as _;

use tracing::info;

use super::{load_and_connect, under_lock, Output};
use crate::config::Config;
use crate::db::apply::{self, HistoryState, Recorder};
use crate::db::{history, Access};
use crate::error::Error;
use crate::migration::MigrationSet;
use crate::reconcile;
use crate::signal::Interrupt;

pub async fn down(config: &Config, to: i64, interrupt: &Interrupt) -> Result<Output, Error> {
    let (set, session) = load_and_connect(config, Access::ReadWrite, interrupt).await?;
    let table = &config.history_table;
    let work = async {
        let recorded = history::read(&session, table).await?.unwrap_or_default();
        let report = reconcile::reconcile(&set.files, &recorded.rows);
        let versions = reconcile::down_plan(&report, to);
        check_downs(&set, &versions)?;
        let recorder = Recorder {
            table,
            applied_by: &config.applied_by,
            history: HistoryState::NonEmpty,
            insert: None,
        };
        let mut out = String::new();
        for v in &versions {
            let file = set.files.iter().find(|f| f.version == *v).expect("checked above");
            apply::apply_down(&session, file, &recorder, interrupt).await?;
            info!("reverted {}", file.file_name);
            let _ = writeln!(out, "reverted {v} {}", file.name);
        }
        Ok((out, versions))
    };
    let (out, versions) = under_lock(&session, config, interrupt, work).await?;
    let list: Vec<String> = versions.iter().map(i64::to_string).collect();
    Ok(Output {
        stdout: Some(out),
        summary: format!("reverted [{}]; database at version {to} or below", list.join(", ")),
    })
}

/// Every version to revert must have its file and a down script; otherwise
/// nothing is reverted.
fn check_downs(set: &MigrationSet, versions: &[i64]) -> Result<(), Error> {
    let lacking: Vec<String> = versions
        .iter()
        .filter_map(|v| match set.files.iter().find(|f| f.version == *v) {
            None => Some(format!("version {v} (its file is missing)")),
            Some(f) if f.down.is_none() => Some(format!("{} (no .down.sql file or down section)", f.file_name)),
            Some(_) => None,
        })
        .collect();
    if lacking.is_empty() {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "cannot revert, nothing was changed: {}",
            lacking.join(", ")
        )))
    }
}
