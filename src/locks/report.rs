//! `plan --locks` output: text for people, one JSON document for CI.

use std::fmt::Write as _;

use serde::Serialize;

use super::verdict::{Finding, Verdict};
use super::{Effect, FileReport, Policy, Size};
use crate::migration::Version;

/// Where the measurement was made and against what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// `None` when nothing was pending, and no shadow was opened.
    pub shadow: Option<ShadowInfo>,
    pub target: TargetInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShadowInfo {
    pub database: String,
    /// Created (and dropped) by this run: `SCHEMAGATE_SHADOW_URL=auto`.
    pub auto: bool,
    pub server_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetInfo {
    /// The target's history chose the pending files, and its catalog gave the sizes.
    Consulted { version: Option<Version> },
    /// `--from V`: files up to V prepared the shadow; no sizes.
    NotConsulted { from: Version },
}

pub fn text(context: &Context, policy: &Policy, files: &[FileReport]) -> String {
    let mut out = String::new();
    let Some(shadow) = &context.shadow else {
        return "no pending migration: nothing to measure\n".into();
    };
    let kind = if shadow.auto { "auto" } else { "given" };
    let target = match &context.target {
        TargetInfo::Consulted { version: Some(v) } => format!("target at version {v}, sizes from the target"),
        TargetInfo::Consulted { version: None } => "target at no version, sizes from the target".into(),
        TargetInfo::NotConsulted { from } => {
            format!("shadow prepared up to --from {from}; target not consulted, sizes unknown (counted as big)")
        }
    };
    let _ = writeln!(
        out,
        "lock check in shadow database {} ({kind}, PostgreSQL {}); {target}; policy {}, max rows {}",
        shadow.database,
        shadow.server_version,
        policy_word(policy),
        policy.max_rows
    );
    for file in files {
        let version = file
            .version
            .as_ref()
            .map_or("repeatable".into(), |v| format!("version {v}"));
        let _ = writeln!(out, "{} ({version}, {})", file.file, file.transaction);
        for s in &file.statements {
            let _ = writeln!(out, "  line {}: {}", s.line, s.sql);
            if !s.locks_observed {
                let _ = writeln!(
                    out,
                    "    ran outside a transaction and never waited for the watching session: only locks a sample caught are shown"
                );
            }
            if s.relations.is_empty() {
                let _ = writeln!(out, "    no new lock, rewrite or scan on an existing relation");
            }
            for e in &s.relations {
                let _ = writeln!(out, "    {}", effect_line(e));
            }
        }
        let _ = writeln!(out, "  verdict: {}", Verdict::of(file, policy.max_rows).line());
    }
    out
}

fn policy_word(policy: &Policy) -> &'static str {
    match policy.mode {
        super::PolicyMode::Off => "off",
        super::PolicyMode::Warn => "warn",
        super::PolicyMode::Refuse => "refuse",
    }
}

/// `public.orders: SHARE (blocks writes), scanned; ~1200000 rows, 9.1 MB`
fn effect_line(e: &Effect) -> String {
    let lock = match (e.lock, e.since_line) {
        (Some(m), Some(line)) => format!("{} since line {line} ({})", m.sql_name(), m.blocks().words()),
        (Some(m), None) => format!("{} ({})", m.sql_name(), m.blocks().words()),
        (None, _) => "lock not observed".into(),
    };
    format!("{}: {lock}, {}; {}", e.relation, work_words(e), e.size)
}

fn work_words(e: &Effect) -> &'static str {
    match (e.rewritten, e.scanned) {
        (true, _) => "rewritten",
        (false, Some(true)) => "scanned",
        (false, Some(false)) => "neither rewritten nor scanned",
        (false, None) => "scans not measured",
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    shadow: Option<&'a ShadowInfo>,
    target: JsonTarget<'a>,
    policy: &'a Policy,
    files: Vec<JsonFile<'a>>,
}

#[derive(Serialize)]
struct JsonTarget<'a> {
    consulted: bool,
    /// The target's version, when consulted.
    version: Option<&'a Version>,
    /// `--from V`, when not.
    from: Option<&'a Version>,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    file: &'a str,
    version: Option<&'a Version>,
    transaction: &'a str,
    allow_lock: Option<&'a str>,
    statements: Vec<JsonStatement<'a>>,
    verdict: &'static str,
    verdict_text: String,
    findings: Vec<JsonFinding<'a>>,
}

#[derive(Serialize)]
struct JsonStatement<'a> {
    line: usize,
    sql: &'a str,
    locks_observed: bool,
    relations: Vec<JsonEffect<'a>>,
}

#[derive(Serialize)]
struct JsonEffect<'a> {
    relation: &'a str,
    /// `"SHARE ROW EXCLUSIVE"`, or null when not observed.
    lock: Option<super::LockMode>,
    blocks: Option<super::Blocks>,
    since_line: Option<usize>,
    rewritten: bool,
    scanned: Option<bool>,
    size: Size,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    #[serde(flatten)]
    finding: &'a Finding,
    text: String,
    safer_text: String,
}

/// The report as one JSON document (the layout is in the README).
pub fn json(context: &Context, policy: &Policy, files: &[FileReport]) -> String {
    let verdicts: Vec<Verdict> = files.iter().map(|f| Verdict::of(f, policy.max_rows)).collect();
    let files = files.iter().zip(&verdicts).map(|(f, v)| json_file(f, v)).collect();
    let target = match &context.target {
        TargetInfo::Consulted { version } => JsonTarget {
            consulted: true,
            version: version.as_ref(),
            from: None,
        },
        TargetInfo::NotConsulted { from } => JsonTarget {
            consulted: false,
            version: None,
            from: Some(from),
        },
    };
    let doc = JsonReport {
        shadow: context.shadow.as_ref(),
        target,
        policy,
        files,
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

fn json_file<'a>(file: &'a FileReport, verdict: &'a Verdict) -> JsonFile<'a> {
    let findings: &[Finding] = match verdict {
        Verdict::Safe => &[],
        Verdict::Allowed { findings, .. } | Verdict::Dangerous(findings) => findings,
    };
    JsonFile {
        file: &file.file,
        version: file.version.as_ref(),
        transaction: file.transaction,
        allow_lock: file.allow_lock.as_deref(),
        statements: file
            .statements
            .iter()
            .map(|s| JsonStatement {
                line: s.line,
                sql: &s.sql,
                locks_observed: s.locks_observed,
                relations: s.relations.iter().map(json_effect).collect(),
            })
            .collect(),
        verdict: verdict.word(),
        verdict_text: verdict.line(),
        findings: findings
            .iter()
            .map(|f| JsonFinding {
                finding: f,
                text: f.to_string(),
                safer_text: f.safer.to_string(),
            })
            .collect(),
    }
}

fn json_effect(e: &Effect) -> JsonEffect<'_> {
    JsonEffect {
        relation: &e.relation,
        lock: e.lock,
        blocks: e.blocks(),
        since_line: e.since_line,
        rewritten: e.rewritten,
        scanned: e.scanned,
        size: e.size,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::tests::{observe, rel, subject};
    use super::super::{file_report, LockMode, PolicyMode};
    use super::*;

    fn context() -> Context {
        Context {
            shadow: Some(ShadowInfo {
                database: "schemagate_shadow_1_ab".into(),
                auto: true,
                server_version: "15.4".into(),
            }),
            target: TargetInfo::NotConsulted {
                from: Version::from_int(1),
            },
        }
    }

    const POLICY: Policy = Policy {
        mode: PolicyMode::Warn,
        max_rows: 1000,
    };

    fn files() -> Vec<FileReport> {
        let o = observe(2, vec![rel(1, 100, 0, &[])], vec![rel(1, 100, 1, &[LockMode::Share])]);
        vec![file_report(&subject(), &[o], &BTreeSet::from([1]))]
    }

    #[test]
    fn text_lists_each_statement_relation_and_a_verdict() {
        let out = text(&context(), &POLICY, &files());
        assert!(out.starts_with("lock check in shadow database schemagate_shadow_1_ab (auto, PostgreSQL 15.4)"));
        assert!(out.contains("target not consulted, sizes unknown"), "{out}");
        assert!(
            out.contains("\n0002_x.sql (repeatable, transactional)\n  line 2: statement at line 2\n"),
            "{out}"
        );
        assert!(
            out.contains("    public.t1: SHARE (blocks writes), scanned; size unknown: target not consulted\n"),
            "{out}"
        );
        assert!(
            out.contains("  verdict: dangerous: 0002_x.sql line 2: SHARE lock"),
            "{out}"
        );
    }

    #[test]
    fn json_is_one_document_with_lock_words_sizes_and_findings() {
        let doc: serde_json::Value = serde_json::from_str(&json(&context(), &POLICY, &files())).unwrap();
        assert_eq!(doc["shadow"]["database"], "schemagate_shadow_1_ab");
        assert_eq!(doc["target"]["consulted"], false);
        assert_eq!(doc["target"]["from"], "1");
        assert_eq!(doc["policy"]["mode"], "warn");
        let file = &doc["files"][0];
        assert_eq!(file["verdict"], "dangerous");
        let relation = &file["statements"][0]["relations"][0];
        assert_eq!(relation["lock"], "SHARE");
        assert_eq!(relation["blocks"], "writes");
        assert_eq!(relation["scanned"], true);
        assert_eq!(relation["size"]["source"], "not_consulted");
        assert_eq!(file["findings"][0]["danger"]["kind"], "scanned");
        assert_eq!(file["findings"][0]["line"], 2);
        assert!(file["findings"][0]["safer_text"].as_str().unwrap().len() > 10);
    }
}
