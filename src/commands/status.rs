//! `status`: every migration with its state. Exits 0 whenever the state
//! could be read, problems included; `verify` is the gate.

use serde::Serialize;

use super::{load_and_connect, Output};
use crate::cli::Format;
use crate::config::Config;
use crate::db::{history, Access};
use crate::error::Error;
use crate::migration::Version;
use crate::reconcile::{self, Report, State};
use crate::signal::Interrupt;

pub async fn status(config: &Config, format: Format, interrupt: &Interrupt) -> Result<Output, Error> {
    let (set, session) = load_and_connect(config, Access::ReadOnly, interrupt).await?;
    let recorded = history::read(&session, &config.history_table)
        .await?
        .unwrap_or_default();
    let report = reconcile::reconcile(&set.files, &recorded.rows);
    let stdout = match format {
        Format::Json => json(&report),
        Format::Text => text(&report),
    };
    let problems = report.needing_attention();
    Ok(Output {
        stdout: Some(stdout),
        summary: format!(
            "{} migration(s), {problems} not applied or with problems",
            report.migrations.len()
        ),
    })
}

#[derive(Serialize)]
struct JsonEntry<'a> {
    version: &'a Version,
    name: &'a str,
    state: State,
    checksum: &'a str,
    applied_at: Option<&'a str>,
    /// The point to recover to, to undo this version and what its run
    /// applied after it.
    restore_point: Option<&'a str>,
}

fn json(report: &Report) -> String {
    let migrations: Vec<JsonEntry> = report
        .migrations
        .iter()
        .map(|e| JsonEntry {
            version: &e.version,
            name: &e.name,
            state: e.state,
            checksum: &e.checksum,
            applied_at: e.applied_at.as_deref(),
            restore_point: e.restore_point.as_deref(),
        })
        .collect();
    let doc = serde_json::json!({
        "database_version": report.database_version,
        "head_version": report.head_version,
        "migrations": migrations,
    });
    doc.to_string() + "\n"
}

/// A plain table, sized to its content; the restore point last, since it
/// is the longest and the least often read.
pub fn text(report: &Report) -> String {
    let fmt_version = |v: &Option<Version>| v.as_ref().map_or_else(|| "none".to_string(), Version::to_string);
    let mut out = format!(
        "database version: {}, head version: {}\n",
        fmt_version(&report.database_version),
        fmt_version(&report.head_version)
    );
    let name_width = report.migrations.iter().map(|e| e.name.len()).max().unwrap_or(4).max(4);
    out.push_str(&format!(
        "{:<14}  {:<name_width$}  {:<17}  {:<20}  RESTORE POINT\n",
        "VERSION", "NAME", "STATE", "APPLIED AT"
    ));
    for e in &report.migrations {
        out.push_str(&format!(
            "{:<14}  {:<name_width$}  {:<17}  {:<20}  {}\n",
            e.version,
            e.name,
            e.state.as_str(),
            e.applied_at.as_deref().unwrap_or("-"),
            e.restore_point.as_deref().unwrap_or("-")
        ));
    }
    out
}
