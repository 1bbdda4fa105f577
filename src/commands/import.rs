//! `import --from TOOL`: record another tool's applied migrations as baseline.

use std::path::Path;

use super::baseline::record_baseline;
use super::{load_and_connect, under_lock, Output};
use crate::adoption::{self, Tool};
use crate::cli::ImportFrom;
use crate::config::Config;
use crate::db::{foreign, Access};
use crate::error::Error;
use crate::signal::Interrupt;

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
            adoption::parse_mapping(&text)
                .map_err(|e| Error::config("--mapping", format!("{}: {e}", path.display())))?
        }
        None => Default::default(),
    };
    let (set, session) = load_and_connect(config, Access::ReadWrite, interrupt).await?;
    let work = async {
        let rows = foreign::read(&session, tool)
            .await?
            .ok_or_else(|| Error::Refused(format!("there is no {} table in this database", tool.table())))?;
        let versions = adoption::import_plan(tool, &rows, &mapping, &set.files).map_err(Error::Refused)?;
        record_baseline(&session, &set, config, &versions)
            .await
            .map(|out| (out, versions.len()))
    };
    let (out, n) = under_lock(config, interrupt, work).await?;
    Ok(Output {
        stdout: Some(out),
        summary: format!("imported {n} version(s) from {} as baseline", tool.table()),
    })
}
