//! The verdict of a schema check, as data: which differences fail and which
//! warn, the summary line, and the `verify --format json` document. The
//! command (`commands::schema_check`) gathers the findings; this decides.

use std::path::PathBuf;

use serde::Serialize;
use tracing::warn;

use super::diff::Change;
use super::scripts::ScriptResult;
use super::{Drift, Severity, Strictness};
use crate::error::Error;

/// The outcome of the comparison, as data.
pub struct Findings {
    /// The expected-schema file compared with, if any.
    pub expected: Option<PathBuf>,
    pub drift: Vec<Drift>,
    pub scripts: Vec<ScriptResult>,
    pub strictness: Strictness,
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
pub fn document(history: &[String], findings: Option<&Findings>) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::scripts::ScriptFailure;

    fn findings(strictness: Strictness) -> Findings {
        Findings {
            expected: Some(PathBuf::from("m/schema.json")),
            drift: vec![
                Drift {
                    kind: "index",
                    name: "public.hotfix".into(),
                    part: None,
                    change: Change::Unexpected {
                        actual: "CREATE INDEX hotfix ON public.t USING btree (a)".into(),
                    },
                },
                Drift {
                    kind: "table",
                    name: "public.t".into(),
                    part: Some("column b".into()),
                    change: Change::Missing {
                        expected: "integer".into(),
                    },
                },
            ],
            scripts: vec![ScriptResult {
                script: "verify/ok.sql".into(),
                failure: None,
            }],
            strictness,
        }
    }

    #[test]
    fn missing_objects_fail_and_extras_warn_unless_strict() {
        let mut f = findings(Strictness::ExtrasWarn);
        match f.conclude() {
            Err(Error::SchemaDrift(lines)) => assert_eq!(lines.len(), 1, "{lines:?}"),
            other => panic!("{other:?}"),
        }
        f.drift.remove(1);
        let summary = f.conclude().unwrap().unwrap();
        assert_eq!(
            summary,
            "schema matches m/schema.json (1 warning(s)), 1 verify script(s) passed"
        );
        f.strictness = Strictness::ExtrasFail;
        assert!(matches!(f.conclude(), Err(Error::SchemaDrift(l)) if l.len() == 1));
    }

    #[test]
    fn the_json_document_says_ok_only_without_failures() {
        let mut f = findings(Strictness::ExtrasWarn);
        let doc: serde_json::Value = serde_json::from_str(&document(&[], Some(&f))).unwrap();
        assert_eq!(doc["ok"], false);
        assert_eq!(doc["differences"][1]["change"], "missing");
        assert_eq!(doc["differences"][0]["severity"], "warning");
        f.drift.remove(1);
        f.scripts[0].failure = Some(ScriptFailure::ReturnedFalse { line: 1, row: 1 });
        let doc: serde_json::Value = serde_json::from_str(&document(&[], Some(&f))).unwrap();
        assert_eq!(
            (doc["ok"].clone(), doc["scripts"][0]["ok"].clone()),
            (false.into(), false.into())
        );
        let history_only: serde_json::Value = serde_json::from_str(&document(&["v1 pending".into()], None)).unwrap();
        assert_eq!(history_only["ok"], false);
    }
}
