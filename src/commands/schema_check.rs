//! Schema verification for `run` (after applying) and `verify`: the live
//! schema against the expected file, then the verify scripts. The files are
//! loaded before connecting, so a bad path or document is a configuration
//! error (exit 2) before anything touches the database.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tracing::warn;

use crate::cli::Format;
use crate::config::schema::ExpectedSchema;
use crate::config::Config;
use crate::db::{schema as db_schema, Session};
use crate::error::Error;
use crate::reconcile::Problem;
use crate::schema::diff::Change;
use crate::schema::scripts::{self, ScriptResult};
use crate::schema::{diff, Drift, Severity, Snapshot, Strictness};
use crate::signal::Interrupt;

/// What to compare the database with, read from disk.
pub struct Expectations {
    expected: Option<(PathBuf, Snapshot)>,
    scripts: Vec<Script>,
}

struct Script {
    /// As the operator finds it: `verify/orders.sql`.
    name: String,
    sql: String,
}

/// The outcome of the comparison, as data.
pub struct Findings {
    expected: Option<PathBuf>,
    drift: Vec<Drift>,
    scripts: Vec<ScriptResult>,
    strictness: Strictness,
}

pub fn load(config: &Config) -> Result<Expectations, Error> {
    let filter = &config.schema.filter;
    // Compare only what both sides look at: a file made with a wider
    // SCHEMAGATE_SCHEMAS must not report the other schemas as missing.
    let expected =
        load_expected(&config.schema.expected)?.map(|(path, s)| (path, s.restricted_to(|n| filter.selects(n))));
    Ok(Expectations {
        expected,
        scripts: load_scripts(&config.migrations_dir.join("verify"))?,
    })
}

/// Reads the expected-schema file. A file named explicitly must exist; the
/// default one is used when it does.
pub fn load_expected(expected: &ExpectedSchema) -> Result<Option<(PathBuf, Snapshot)>, Error> {
    let (path, required) = match expected {
        ExpectedSchema::Off => return Ok(None),
        ExpectedSchema::Required(p) => (p, true),
        ExpectedSchema::IfPresent(p) => (p, false),
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(None),
        Err(e) => {
            return Err(Error::config(
                "SCHEMAGATE_EXPECTED_SCHEMA",
                format!("cannot read {}: {e}", path.display()),
            ))
        }
    };
    let snapshot = Snapshot::from_json(&text)
        .map_err(|e| Error::config("SCHEMAGATE_EXPECTED_SCHEMA", format!("{}: {e}", path.display())))?;
    Ok(Some((path.clone(), snapshot)))
}

/// `*.sql` in `dir`, by name; no directory means no scripts.
fn load_scripts(dir: &Path) -> Result<Vec<Script>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, &e)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, &e))?.path();
        if path.extension().is_some_and(|x| x == "sql") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let sql = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, &e))?;
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            Ok(Script {
                name: format!("verify/{file}"),
                sql: crate::migration::normalize(&sql),
            })
        })
        .collect()
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
                diff(expected, &actual)
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
    tokio::pin!(work);
    tokio::select! {
        r = &mut work => r,
        sig = interrupt.recv() => {
            session.cancel().await;
            Err(Error::Interrupted(sig))
        }
    }
}

impl Findings {
    fn lines(&self, severity: Severity) -> Vec<String> {
        let drift = self.drift.iter().filter(|d| d.severity(self.strictness) == severity);
        let mut out: Vec<String> = drift.map(ToString::to_string).collect();
        if severity == Severity::Failure {
            out.extend(
                self.scripts
                    .iter()
                    .filter(|s| s.failure.is_some())
                    .map(ToString::to_string),
            );
        }
        out
    }

    /// For the summary line; `None` when there was nothing to check.
    fn summary(&self, warnings: usize) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(path) = &self.expected {
            parts.push(format!("schema matches {} ({warnings} warning(s))", path.display()));
        }
        if !self.scripts.is_empty() {
            parts.push(format!("{} verify script(s) passed", self.scripts.len()));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// Logs the warnings; fails on any failure. Returns the summary part.
    pub fn conclude(&self) -> Result<Option<String>, Error> {
        let warnings = self.lines(Severity::Warning);
        for w in &warnings {
            warn!("{w} (a warning: set SCHEMAGATE_STRICT_SCHEMA=true to fail on it)");
        }
        let failures = self.lines(Severity::Failure);
        if failures.is_empty() {
            Ok(self.summary(warnings.len()))
        } else {
            Err(Error::SchemaDrift(failures))
        }
    }
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

#[derive(Serialize)]
struct Document<'a> {
    ok: bool,
    history: &'a [String],
    expected_schema: Option<String>,
    differences: Vec<JsonDrift>,
    scripts: Vec<JsonScript>,
}

#[derive(Serialize)]
struct JsonDrift {
    object_type: &'static str,
    object: String,
    part: Option<String>,
    change: &'static str,
    property: Option<&'static str>,
    expected: Option<String>,
    actual: Option<String>,
    severity: &'static str,
    message: String,
}

#[derive(Serialize)]
struct JsonScript {
    script: String,
    ok: bool,
    message: String,
}

/// The `verify --format json` document.
fn document(history: &[String], findings: Option<&Findings>) -> String {
    let differences = findings.map_or_else(Vec::new, |f| {
        f.drift
            .iter()
            .map(|d| json_drift(d, d.severity(f.strictness)))
            .collect()
    });
    let scripts: Vec<JsonScript> = findings.map_or_else(Vec::new, |f| {
        f.scripts
            .iter()
            .map(|s| JsonScript {
                script: s.script.clone(),
                ok: s.failure.is_none(),
                message: s.to_string(),
            })
            .collect()
    });
    let ok = history.is_empty() && differences.iter().all(|d| d.severity == "warning") && scripts.iter().all(|s| s.ok);
    let doc = Document {
        ok,
        history,
        expected_schema: findings
            .and_then(|f| f.expected.as_ref())
            .map(|p| p.display().to_string()),
        differences,
        scripts,
    };
    serde_json::to_string(&doc).expect("plain data") + "\n"
}

fn json_drift(d: &Drift, severity: Severity) -> JsonDrift {
    let (change, property, expected, actual) = match &d.change {
        Change::Missing { expected } => ("missing", None, Some(expected.clone()), None),
        Change::Unexpected { actual } => ("unexpected", None, None, Some(actual.clone())),
        Change::Differs {
            property,
            expected,
            actual,
        } => ("differs", Some(*property), Some(expected.clone()), Some(actual.clone())),
    };
    JsonDrift {
        object_type: d.kind,
        object: d.name.clone(),
        part: d.part.clone(),
        change,
        property,
        expected,
        actual,
        severity: match severity {
            Severity::Failure => "error",
            Severity::Warning => "warning",
        },
        message: d.to_string(),
    }
}
