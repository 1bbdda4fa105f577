//! `baseline --version V`: adopt an existing database by recording every file
//! up to V as applied, running none of them. `import` shares the recording.

use std::fmt::Write as _;

use super::{load_and_connect, under_lock, Output};
use crate::config::Config;
use crate::db::{history, Access, Session};
use crate::error::Error;
use crate::migration::{MigrationSet, Version};
use crate::signal::Interrupt;

/// Records `versions` as baseline, refusing a non-empty history.
pub(super) async fn record_baseline(
    session: &Session,
    set: &MigrationSet,
    config: &Config,
    versions: &[Version],
) -> Result<String, Error> {
    let table = &config.history_table;
    let recorded = history::open(session, table).await?;
    if !recorded.is_empty() {
        return Err(Error::Refused(format!(
            "the history table {} already has {} row(s); baseline and import only adopt a database whose history is empty",
            table.quoted(),
            recorded.rows.len() + recorded.repeatables.len()
        )));
    }
    let entries: Vec<(Version, String, String)> = set
        .files
        .iter()
        .filter(|f| versions.contains(&f.version))
        .map(|f| (f.version.clone(), f.name.clone(), f.checksum.clone()))
        .collect();
    history::insert_baseline(session, table, &entries, &config.applied_by).await?;
    let mut out = String::new();
    for (v, name, _) in &entries {
        let _ = writeln!(out, "baseline {v} {name}");
    }
    Ok(out)
}

pub async fn baseline(config: &Config, version: Version, interrupt: &Interrupt) -> Result<Output, Error> {
    let (set, session) = load_and_connect(config, Access::ReadWrite, interrupt).await?;
    let versions: Vec<Version> = set
        .files
        .iter()
        .map(|f| f.version.clone())
        .filter(|v| *v <= version)
        .collect();
    if versions.is_empty() {
        return Err(Error::Refused(format!(
            "no migration file has a version at or below {version}"
        )));
    }
    let out = under_lock(config, interrupt, record_baseline(&session, &set, config, &versions)).await?;
    let summary = format!(
        "recorded {} version(s) up to {version} as baseline; none was run",
        versions.len()
    );
    Ok(Output {
        stdout: Some(out),
        summary,
    })
}
