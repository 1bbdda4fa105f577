//! Schema verification for `run` (after applying) and `verify`: the live
//! schema against the expected file, then the verify scripts. The files are
//! loaded before connecting, so a bad path or document is a configuration
//! error (exit 2) before anything touches the database.

use std::path::PathBuf;

use crate::cli::Format;
use crate::config::Config;
use crate::db::{self, schema as db_schema, Session};
use crate::error::Error;
use crate::files;
use crate::reconcile::Problem;
use crate::schema::report::{document, Findings};
use crate::schema::scripts;
use crate::schema::{compare, Snapshot};
use crate::signal::Interrupt;

/// What to compare the database with, read from disk.
pub struct Expectations {
    expected: Option<(PathBuf, Snapshot)>,
    scripts: Vec<files::Script>,
}

pub fn load(config: &Config) -> Result<Expectations, Error> {
    let filter = &config.schema.filter;
    // Compare only what both sides look at: a file made with a wider
    // SCHEMAGATE_SCHEMAS must not report the other schemas as missing.
    let expected =
        files::load_expected(&config.schema.expected)?.map(|(path, s)| (path, s.restricted_to(|n| filter.selects(n))));
    Ok(Expectations {
        expected,
        scripts: files::load_scripts(&config.migrations_dir.join("verify"))?,
    })
}

/// Compares the live schema and runs the scripts. On SIGTERM/SIGINT the
/// running query is cancelled on the server.
pub async fn check(
    session: &Session,
    config: &Config,
    expectations: &Expectations,
    interrupt: &Interrupt,
) -> Result<Findings, Error> {
    let work = async {
        let drift = match &expectations.expected {
            Some((_, expected)) => {
                let actual = db_schema::snapshot(session, &config.schema.filter, &config.history_table).await?;
                compare(expected, &actual, &config.schema.comparison)
            }
            None => Vec::new(),
        };
        let mut results = Vec::new();
        for s in &expectations.scripts {
            results.push(scripts::judge(&s.name, db_schema::run_script(session, &s.sql).await?));
        }
        Ok(Findings {
            expected: expectations.expected.as_ref().map(|(p, _)| p.clone()),
            drift,
            scripts: results,
            strictness: config.schema.strictness,
        })
    };
    db::interruptible(session, interrupt, work).await
}

/// `run`, after the lock is released: the schema is at head, and checking it
/// (read-only) need not keep other runners waiting. Returns the summary line
/// with the outcome appended.
pub async fn after_run(
    session: &Session,
    config: &Config,
    expectations: &Expectations,
    interrupt: &Interrupt,
    summary: String,
) -> Result<String, Error> {
    let findings = check(session, config, expectations, interrupt).await?;
    Ok(match findings.conclude()? {
        Some(part) => format!("{summary}; {part}"),
        None => summary,
    })
}

/// `verify` once the history is at head: text, or the JSON document on
/// stdout whatever the outcome.
pub fn conclude_verify(findings: &Findings, format: Format, at_head: String) -> Result<super::Output, Error> {
    let result = findings.conclude();
    let stdout = (format == Format::Json).then(|| document(&[], Some(findings)));
    match (result, stdout) {
        (Ok(part), stdout) => Ok(super::Output {
            stdout,
            summary: part.map_or(at_head.clone(), |p| format!("{at_head}; {p}")),
        }),
        (Err(error), Some(stdout)) => Err(Error::WithOutput {
            error: Box::new(error),
            stdout,
        }),
        (Err(error), None) => Err(error),
    }
}

/// `verify` when the history is not at head (the schema is not compared).
pub fn history_failure(problems: Vec<Problem>, format: Format) -> Error {
    match format {
        Format::Text => Error::Verification(problems),
        Format::Json => {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            Error::WithOutput {
                stdout: document(&lines, None),
                error: Box::new(Error::Verification(problems)),
            }
        }
    }
}
