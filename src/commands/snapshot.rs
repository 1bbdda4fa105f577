//! `snapshot`: the live schema as deterministic JSON, on stdout or into a
//! file. `--check` compares instead of writing and exits 6 on any difference,
//! extra objects included: the CI step that keeps `schema.json` in step with
//! the migrations (README, "Schema verification in CI").

use std::path::{Path, PathBuf};

use tracing::info;

use super::Output;
use crate::config::schema::ExpectedSchema;
use crate::config::Config;
use crate::db::{self, schema as db_schema, Access};
use crate::error::Error;
use crate::files;
use crate::schema::{compare, Snapshot};
use crate::signal::Interrupt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Write(Option<PathBuf>),
    /// Compare with this file, or with the expected schema when `None`.
    Check(Option<PathBuf>),
}

pub async fn snapshot(config: &Config, mode: Mode, interrupt: &Interrupt) -> Result<Output, Error> {
    // The committed file is read before connecting: a missing one is a
    // configuration error, whatever the database is doing.
    let committed = match &mode {
        Mode::Check(file) => Some(committed_file(config, file.as_deref())?),
        Mode::Write(_) => None,
    };
    let session = db::wait_for_db(config, Access::ReadOnly, interrupt).await?;
    let reading = db_schema::snapshot(&session, &config.schema.filter, &config.history_table);
    let live = db::interruptible(&session, interrupt, reading).await?;
    let described = describe(&live);
    match (mode, committed) {
        (Mode::Check(_), Some((path, expected))) => check(config, &path, expected, &live),
        (Mode::Write(Some(path)), _) => {
            files::write_atomically(&path, &live.to_json())?;
            Ok(Output {
                stdout: None,
                summary: format!("wrote {}: {described}", path.display()),
            })
        }
        (_, _) => Ok(Output {
            stdout: Some(live.to_json()),
            summary: format!("snapshot: {described}"),
        }),
    }
}

fn committed_file(config: &Config, file: Option<&Path>) -> Result<(PathBuf, Snapshot), Error> {
    let path =
        match (file, config.schema.expected.path()) {
            (Some(f), _) => f.to_path_buf(),
            (None, Some(p)) => p.to_path_buf(),
            (None, None) => return Err(Error::config(
                "SCHEMAGATE_EXPECTED_SCHEMA",
                "snapshot --check needs a file to compare with: pass --output FILE or set SCHEMAGATE_EXPECTED_SCHEMA",
            )),
        };
    let loaded = files::load_expected(&ExpectedSchema::Required(path))?;
    Ok(loaded.expect("a required file is loaded or an error"))
}

/// Every difference fails here, extra objects included: the file must
/// describe the database exactly.
fn check(config: &Config, path: &Path, expected: Snapshot, live: &Snapshot) -> Result<Output, Error> {
    let filter = &config.schema.filter;
    let drift = compare(
        &expected.restricted_to(|s| filter.selects(s)),
        live,
        &config.schema.comparison,
    );
    if drift.is_empty() {
        return Ok(Output {
            stdout: None,
            summary: format!("{} matches the database: {}", path.display(), describe(live)),
        });
    }
    info!(
        "if the database is right, update the file: schemagate snapshot --output {}",
        path.display()
    );
    Err(Error::SchemaDrift(drift.iter().map(ToString::to_string).collect()))
}

fn describe(s: &Snapshot) -> String {
    let tables: usize = s.schemas.values().map(|x| x.tables.len()).sum();
    let names: Vec<&str> = s.schemas.keys().map(String::as_str).collect();
    format!("{} schema(s) [{}], {tables} table(s)", names.len(), names.join(", "))
}
