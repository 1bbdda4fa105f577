//! `plan` (and `run --dry-run`): what `run` would do, writing nothing.

use std::fmt::Write as _;

use super::{load_and_connect, Output};
use crate::config::Config;
use crate::db::{history, Access};
use crate::error::Error;
use crate::migration::{TransactionMode, Version};
use crate::reconcile::{self, Target};
use crate::signal::Interrupt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowSql {
    No,
    Yes,
}

impl From<bool> for ShowSql {
    fn from(flag: bool) -> Self {
        if flag {
            ShowSql::Yes
        } else {
            ShowSql::No
        }
    }
}

fn mode(t: TransactionMode) -> &'static str {
    match t {
        TransactionMode::PerMigration => "transactional",
        TransactionMode::None => "no-transaction",
    }
}

pub async fn plan(
    config: &Config,
    target: Option<Version>,
    sql: ShowSql,
    interrupt: &Interrupt,
) -> Result<Output, Error> {
    let (set, session) = load_and_connect(config, Access::ReadOnly, interrupt).await?;
    let table = &config.history_table;
    let recorded = history::read(&session, table).await?.unwrap_or_default();
    let target = target.map_or(Target::Head, Target::Version);
    let plan =
        reconcile::run_plan(&set, &recorded, &target, &config.rules(), &table.quoted()).map_err(Error::Verification)?;
    let mut out = String::new();
    let at = plan
        .report
        .database_version
        .as_ref()
        .map_or_else(|| "none".to_string(), |v| v.to_string());
    let _ = writeln!(out, "database version: {at}; {} migration(s) to apply", plan.len());
    for file in &plan.files {
        let _ = writeln!(
            out,
            "{}  {}  sha256:{}  {}",
            file.version,
            file.file_name,
            file.checksum,
            mode(file.transaction)
        );
        if sql == ShowSql::Yes {
            let _ = writeln!(out, "{}", file.sql.trim_end());
        }
    }
    for file in &plan.repeatables {
        let _ = writeln!(
            out,
            "R  {}  sha256:{}  {}",
            file.file_name,
            file.checksum,
            mode(file.transaction)
        );
        if sql == ShowSql::Yes {
            let _ = writeln!(out, "{}", file.sql.trim_end());
        }
    }
    let summary = format!("plan: {} migration(s) to apply; nothing was written", plan.len());
    Ok(Output {
        stdout: Some(out),
        summary,
    })
}
