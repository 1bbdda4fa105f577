//! Operator commands for real databases: `baseline`, `repair`, `down`, `import`.
//! Each runs under the migration lock and prints every change it makes.

use std::fmt::Write as _;
use std::path::Path;

use tracing::info;

use super::{load_and_connect, under_lock, Output};
use crate::adopt::{self, MissingRows, RepairAction, Tool};
use crate::cli::ImportFrom;
use crate::config::Config;
use crate::db::apply::{self, HistoryState, Target};
use crate::db::{foreign, history as db_history, Access, Session};
use crate::error::Error;
use crate::history;
use crate::migration::MigrationSet;
use crate::signal::Interrupt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    DryRun,
    Apply,
}

/// Records `versions` as baseline, refusing a non-empty history.
async fn record_baseline(
    session: &Session,
    set: &MigrationSet,
    config: &Config,
    versions: &[i64],
) -> Result<String, Error> {
    let table = &config.history_table;
    let recorded = db_history::read_or_create(session, table).await?;
    if !recorded.is_empty() {
        return Err(Error::Refused(format!(
            "the history table {} already has {} row(s); baseline and import only adopt a database whose history is empty",
            table.quoted(),
            recorded.rows.len() + recorded.repeatables.len()
        )));
    }
    let entries: Vec<(i64, String, String)> = set
        .files
        .iter()
        .filter(|f| versions.contains(&f.version))
        .map(|f| (f.version, f.name.clone(), f.checksum.clone()))
        .collect();
    db_history::insert_baseline(session, table, &entries, &config.applied_by).await?;
    let mut out = String::new();
    for (v, name, _) in &entries {
        let _ = writeln!(out, "baseline {v} {name}");
    }
    Ok(out)
}

pub async fn baseline(config: &Config, version: i64, interrupt: &Interrupt) -> Result<Output, Error> {
    let (set, session) = load_and_connect(config, Access::ReadWrite, interrupt).await?;
    let versions: Vec<i64> = set.files.iter().map(|f| f.version).filter(|v| *v <= version).collect();
    if versions.is_empty() {
        return Err(Error::Refused(format!(
            "no migration file has a version at or below {version}"
        )));
    }
    let out = under_lock(
        &session,
        config,
        interrupt,
        record_baseline(&session, &set, config, &versions),
    )
    .await?;
    let summary = format!(
        "recorded {} version(s) up to {version} as baseline; none was run",
        versions.len()
    );
    Ok(Output {
        stdout: Some(out),
        summary,
    })
}

pub async fn import(
    config: &Config,
    from: ImportFrom,
    mapping: Option<&Path>,
    interrupt: &Interrupt,
) -> Result<Output, Error> {
    let tool = match from {
        ImportFrom::Alembic => Tool::Alembic,
        ImportFrom::Flyway => Tool::Flyway,
        ImportFrom::GolangMigrate => Tool::GolangMigrate,
        ImportFrom::Dbmate => Tool::Dbmate,
        ImportFrom::Sqlx => Tool::Sqlx,
    };
    let mapping = match mapping {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::config("--mapping", format!("{}: {e}", path.display())))?;
            adopt::parse_mapping(&text).map_err(|e| Error::config("--mapping", format!("{}: {e}", path.display())))?
        }
        None => Default::default(),
    };
    let (set, session) = load_and_connect(config, Access::ReadWrite, interrupt).await?;
    let work = async {
        let rows = foreign::read(&session, tool)
            .await?
            .ok_or_else(|| Error::Refused(format!("there is no {} table in this database", tool.table())))?;
        let versions = adopt::import_plan(tool, &rows, &mapping, &set.files).map_err(Error::Refused)?;
        record_baseline(&session, &set, config, &versions)
            .await
            .map(|out| (out, versions.len()))
    };
    let (out, n) = under_lock(&session, config, interrupt, work).await?;
    Ok(Output {
        stdout: Some(out),
        summary: format!("imported {n} version(s) from {} as baseline", tool.table()),
    })
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
        let recorded = db_history::read(&session, table).await?.unwrap_or_default();
        let report = history::reconcile(&set.files, &recorded.rows);
        let actions = adopt::repair_plan(&report, missing);
        let mut out = String::new();
        for action in &actions {
            let _ = writeln!(out, "{}{action}", if write == Write::DryRun { "would: " } else { "" });
            if write == Write::Apply {
                match action {
                    RepairAction::UpdateChecksum { to, .. } => {
                        db_history::update_checksum(&session, table, action.version(), to).await?
                    }
                    _ => db_history::delete_version(&session, table, action.version()).await?,
                }
            }
        }
        let kept = report
            .migrations
            .iter()
            .filter(|e| e.state == history::State::Missing)
            .count();
        if missing == MissingRows::Keep && kept > 0 {
            let _ = writeln!(
                out,
                "note: {kept} applied version(s) have no file; --forget-missing deletes their rows"
            );
        }
        Ok((out, actions.len()))
    };
    let (out, n) = under_lock(&session, config, interrupt, work).await?;
    let summary = match write {
        Write::DryRun => format!("repair --dry-run: {n} change(s) would be made; nothing was written"),
        Write::Apply => format!("repair: {n} change(s) made"),
    };
    Ok(Output {
        stdout: Some(out),
        summary,
    })
}

pub async fn down(config: &Config, to: i64, interrupt: &Interrupt) -> Result<Output, Error> {
    let (set, session) = load_and_connect(config, Access::ReadWrite, interrupt).await?;
    let table = &config.history_table;
    let work = async {
        let recorded = db_history::read(&session, table).await?.unwrap_or_default();
        let report = history::reconcile(&set.files, &recorded.rows);
        let versions = history::down_plan(&report, to);
        check_downs(&set, &versions)?;
        let target = Target {
            table,
            applied_by: &config.applied_by,
            history: HistoryState::NonEmpty,
            insert: None,
        };
        let mut out = String::new();
        for v in &versions {
            let file = set.files.iter().find(|f| f.version == *v).expect("checked above");
            apply::apply_down(&session, file, &target, interrupt).await?;
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
