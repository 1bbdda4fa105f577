//! `repair`: make the history match the files again, printing every change.

use std::fmt::Write as _;

use super::{load_and_connect, under_lock, Output};
use crate::adoption::{self, MissingRows, RepairAction};
use crate::config::Config;
use crate::db::{history, Access};
use crate::error::Error;
use crate::reconcile;
use crate::signal::Interrupt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    DryRun,
    Apply,
}

pub async fn repair(
    config: &Config,
    write: Write,
    missing: MissingRows,
    interrupt: &Interrupt,
) -> Result<Output, Error> {
    let (set, session) = load_and_connect(config, Access::ReadWrite, interrupt).await?;
    let table = &config.history_table;
    let work = async {
        let recorded = history::open(&session, table).await?;
        let report = reconcile::reconcile(&set.files, &recorded.rows);
        let actions = adoption::repair_plan(&report, missing);
        let mut out = String::new();
        for action in &actions {
            let _ = writeln!(out, "{}{action}", if write == Write::DryRun { "would: " } else { "" });
            if write == Write::Apply {
                match action {
                    RepairAction::UpdateChecksum { to, .. } => {
                        history::update_checksum(&session, table, action.version(), to).await?
                    }
                    _ => history::delete_version(&session, table, action.version()).await?,
                }
            }
        }
        let kept = report
            .migrations
            .iter()
            .filter(|e| e.state == reconcile::State::Missing)
            .count();
        if missing == MissingRows::Keep && kept > 0 {
            let _ = writeln!(
                out,
                "note: {kept} applied version(s) have no file; --forget-missing deletes their rows"
            );
        }
        Ok((out, actions.len()))
    };
    let (out, n) = under_lock(config, interrupt, work).await?;
    let summary = match write {
        Write::DryRun => format!("repair --dry-run: {n} change(s) would be made; nothing was written"),
        Write::Apply => format!("repair: {n} change(s) made"),
    };
    Ok(Output {
        stdout: Some(out),
        summary,
    })
}
