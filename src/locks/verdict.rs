//! Which measured effects are dangerous, the safer pattern for each, the
//! one-line verdict per file, and the text of a refusal.
//!
//! Dangerous: on a big relation (above `SCHEMAGATE_LOCK_POLICY_MAX_ROWS`,
//! or of unknown size), a lock that blocks writes or reads, held while the
//! statement rewrites or scans that relation, or rewrites or scans another
//! big one (an ACCESS EXCLUSIVE taken by an `ADD COLUMN` and still held while
//! the next statement backfills or indexes). A catalog-only change under
//! ACCESS EXCLUSIVE is not: it takes milliseconds once granted, and waiting
//! for the grant is what the runtime lock timeout bounds.

use std::fmt;

use serde::Serialize;

use super::{Blocks, Effect, FileReport, LockMode, Policy, Size, StatementReport};

/// Why a finding is dangerous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Danger {
    Rewritten,
    Scanned,
    /// The lock is held while another big relation is rewritten or scanned.
    WhileOther {
        relation: String,
        rewritten: bool,
    },
}

/// The pattern that does the same work without the long blocking lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Safer {
    Concurrently,
    NotValidThenValidate,
    CheckThenSetNotNull,
    NewColumnAndBackfill,
    /// The blocking mode was taken by an earlier statement of the file.
    OwnMigration {
        since_line: usize,
    },
    WeakerLock,
}

impl fmt::Display for Safer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Safer::Concurrently => f.write_str(
                "CREATE INDEX CONCURRENTLY (SHARE UPDATE EXCLUSIVE: blocks neither), in a file marked \
                 `-- schemagate:no-transaction`",
            ),
            Safer::NotValidThenValidate => f.write_str(
                "ADD CONSTRAINT … NOT VALID here, then ALTER TABLE … VALIDATE CONSTRAINT in a later migration \
                 (SHARE UPDATE EXCLUSIVE: blocks neither)",
            ),
            Safer::CheckThenSetNotNull => f.write_str(
                "ADD CONSTRAINT … CHECK (column IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later migration, \
                 then SET NOT NULL, which a valid CHECK spares the scan",
            ),
            Safer::NewColumnAndBackfill => f.write_str(
                "add a new column, backfill it in batches, then switch to it (a type change or a volatile \
                 default rewrites the whole table)",
            ),
            Safer::OwnMigration { since_line } => write!(
                f,
                "move this statement to a migration of its own: the lock taken at line {since_line} is held \
                 until the transaction ends"
            ),
            Safer::WeakerLock => f.write_str(
                "do the scan under a lock that blocks neither (CONCURRENTLY, NOT VALID + VALIDATE) or in batches",
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    pub relation: String,
    /// `None`: the lock could not be observed, and is assumed to block.
    pub lock: Option<LockMode>,
    pub since_line: Option<usize>,
    pub size: Size,
    pub danger: Danger,
    pub safer: Safer,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}: ", self.file, self.line)?;
        match self.lock {
            Some(m) => write!(f, "{} lock", m.sql_name())?,
            None => f.write_str("a lock that could not be observed")?,
        }
        if let Some(line) = self.since_line {
            write!(f, " (taken at line {line})")?;
        }
        let blocks = self.lock.map_or("may block reads and writes", |m| m.blocks().words());
        write!(f, " on {} ({}) {blocks} while ", self.relation, self.size)?;
        match &self.danger {
            Danger::Rewritten => f.write_str("the table is rewritten")?,
            Danger::Scanned => f.write_str("the table is scanned in full")?,
            Danger::WhileOther {
                relation,
                rewritten: true,
            } => write!(f, "{relation} is rewritten")?,
            Danger::WhileOther { relation, .. } => write!(f, "{relation} is scanned in full")?,
        }
        write!(f, "; safer: {}", self.safer)
    }
}

/// Every dangerous effect of the file's statements, allowed or not.
pub fn findings(file: &FileReport, max_rows: u64) -> Vec<Finding> {
    file.statements
        .iter()
        .flat_map(|s| statement_findings(file, s, max_rows))
        .collect()
}

fn statement_findings(file: &FileReport, s: &StatementReport, max_rows: u64) -> Vec<Finding> {
    let big = |e: &&Effect| e.size.exceeds(max_rows);
    let slow = s.relations.iter().filter(big).find(|e| e.rewritten_or_scanned());
    // Not observed: assume the worst, as for a size not known. A statement
    // that never waited for the watcher shows only the locks a sample caught,
    // so a mode that blocks neither says nothing about its strongest.
    let lock = |e: &Effect| e.lock.filter(|m| s.locks_observed || m.blocks() > Blocks::Neither);
    let mut out = Vec::new();
    for e in s.relations.iter().filter(big) {
        if lock(e).is_some_and(|m| m.blocks() == Blocks::Neither) {
            continue;
        }
        let (danger, safer) = if e.rewritten_or_scanned() {
            let danger = if e.rewritten {
                Danger::Rewritten
            } else {
                Danger::Scanned
            };
            (danger, safer_pattern(e))
        } else if let Some(other) = slow {
            let danger = Danger::WhileOther {
                relation: other.relation.clone(),
                rewritten: other.rewritten,
            };
            let safer = e
                .since_line
                .map_or_else(|| safer_pattern(other), |since_line| Safer::OwnMigration { since_line });
            (danger, safer)
        } else {
            continue;
        };
        out.push(Finding {
            file: file.file.clone(),
            line: s.line,
            relation: e.relation.clone(),
            lock: lock(e),
            since_line: e.since_line,
            size: e.size,
            danger,
            safer,
        });
    }
    out
}

/// The safer pattern, from what the catalog says the statement did.
fn safer_pattern(e: &Effect) -> Safer {
    if e.rewritten {
        Safer::NewColumnAndBackfill
    } else if e.change.index_built {
        Safer::Concurrently
    } else if e.change.constraint_validated {
        Safer::NotValidThenValidate
    } else if e.change.not_null_set {
        Safer::CheckThenSetNotNull
    } else if let Some(since_line) = e.since_line {
        Safer::OwnMigration { since_line }
    } else {
        Safer::WeakerLock
    }
}

/// A file's verdict under the policy's threshold.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Safe,
    /// Dangerous, but let through by `-- schemagate:allow-lock <reason>`.
    Allowed {
        reason: String,
        findings: Vec<Finding>,
    },
    Dangerous(Vec<Finding>),
}

impl Verdict {
    pub fn of(file: &FileReport, max_rows: u64) -> Verdict {
        let found = findings(file, max_rows);
        match (&file.allow_lock, found.is_empty()) {
            (_, true) => Verdict::Safe,
            (Some(reason), false) => Verdict::Allowed {
                reason: reason.clone(),
                findings: found,
            },
            (None, false) => Verdict::Dangerous(found),
        }
    }

    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Safe => "safe",
            Verdict::Allowed { .. } => "allowed",
            Verdict::Dangerous(_) => "dangerous",
        }
    }

    /// One line: the verdict and, when there is one, the first finding.
    pub fn line(&self) -> String {
        let first = |found: &[Finding]| {
            let more = match found.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            format!("{}{more}", found[0])
        };
        match self {
            Verdict::Safe => "safe: no lock blocks a big relation while it is scanned or rewritten".into(),
            Verdict::Allowed { reason, findings } => {
                format!("allowed by schemagate:allow-lock ({reason}): {}", first(findings))
            }
            Verdict::Dangerous(found) => format!("dangerous: {}", first(found)),
        }
    }
}

/// Where a refusal happens, for its last words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `run`, before anything is applied.
    Run,
    /// `plan --locks`: what `run` would do.
    Plan,
}

/// The refusal under `SCHEMAGATE_LOCK_POLICY=refuse`: every finding of
/// every file not allowed, each naming file, line, relation, size and the
/// safer pattern. `None` when nothing is refused.
pub fn refusal(verdicts: &[Verdict], policy: &Policy, stage: Stage) -> Option<String> {
    let refused: Vec<&Finding> = verdicts
        .iter()
        .flat_map(|v| match v {
            Verdict::Dangerous(found) => found.as_slice(),
            _ => &[],
        })
        .collect();
    if refused.is_empty() {
        return None;
    }
    let outcome = match stage {
        Stage::Run => "nothing was applied",
        Stage::Plan => "`run` would apply nothing",
    };
    let mut text = format!(
        "SCHEMAGATE_LOCK_POLICY=refuse: {} finding(s) of a lock that blocks writes or reads on a relation above \
         {} rows (SCHEMAGATE_LOCK_POLICY_MAX_ROWS), held while a big relation is scanned or rewritten; {outcome}",
        refused.len(),
        policy.max_rows
    );
    for f in refused {
        text.push_str(&format!("\n  {f}"));
    }
    text.push_str("\n  to let a file through anyway, add `-- schemagate:allow-lock <reason>` to its leading comments");
    Some(text)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::tests::{observe, rel, subject};
    use super::super::{apply_sizes, file_report, PolicyMode, Shape};
    use super::*;
    use LockMode::*;

    fn sized(rows: f64) -> Size {
        Size::OnTarget {
            rows: Some(rows),
            bytes: 9_500_000,
        }
    }

    fn report_with(observations: &[super::super::Observation], rows: f64) -> FileReport {
        let mut files = vec![file_report(&subject(), observations, &BTreeSet::from([1, 2]))];
        let names = super::super::relation_names(&files);
        let sizes = names.into_iter().map(|n| (n, sized(rows))).collect();
        apply_sizes(&mut files, Some(&sizes));
        files.pop().unwrap()
    }

    fn create_index() -> super::super::Observation {
        let mut after = rel(1, 100, 1, &[Share]);
        after.shape.indexes = 1;
        observe(2, vec![rel(1, 100, 0, &[])], vec![after])
    }

    #[test]
    fn create_index_on_a_big_table_is_dangerous_and_names_concurrently() {
        let file = report_with(&[create_index()], 1_000_000.0);
        let Verdict::Dangerous(found) = Verdict::of(&file, 1000) else {
            panic!()
        };
        assert_eq!(found.len(), 1);
        let text = found[0].to_string();
        assert!(
            text.starts_with("0002_x.sql line 2: SHARE lock on public.t1 (~1000000 rows, 9.1 MB) blocks writes"),
            "{text}"
        );
        assert!(
            text.contains("while the table is scanned in full; safer: CREATE INDEX CONCURRENTLY"),
            "{text}"
        );
    }

    #[test]
    fn small_tables_and_non_blocking_locks_are_safe() {
        assert_eq!(Verdict::of(&report_with(&[create_index()], 10.0), 1000), Verdict::Safe);
        let cic = observe(
            1,
            vec![rel(1, 100, 0, &[])],
            vec![rel(1, 100, 2, &[ShareUpdateExclusive])],
        );
        assert_eq!(Verdict::of(&report_with(&[cic], 1e9), 1000), Verdict::Safe);
        // ACCESS EXCLUSIVE for a catalog-only change (ADD COLUMN … DEFAULT 0).
        let add = observe(1, vec![rel(1, 100, 0, &[])], vec![rel(1, 100, 0, &[AccessExclusive])]);
        assert_eq!(Verdict::of(&report_with(&[add], 1e9), 1000), Verdict::Safe);
    }

    #[test]
    fn the_safer_pattern_follows_the_catalog_change() {
        let with = |shape: Shape, filenode: i64| {
            let mut after = rel(1, filenode, 1, &[AccessExclusive]);
            after.shape = shape;
            let file = report_with(&[observe(1, vec![rel(1, 100, 0, &[])], vec![after])], 1e6);
            findings(&file, 0)[0].safer
        };
        let not_null = Shape {
            not_nulls: 1,
            ..Shape::default()
        };
        let fk = Shape {
            foreign_keys: 1,
            ..Shape::default()
        };
        assert_eq!(with(not_null, 100), Safer::CheckThenSetNotNull);
        assert_eq!(with(fk, 100), Safer::NotValidThenValidate);
        assert_eq!(with(Shape::default(), 101), Safer::NewColumnAndBackfill);
        assert_eq!(with(Shape::default(), 100), Safer::WeakerLock);
    }

    #[test]
    fn a_lock_held_from_an_earlier_line_while_another_table_is_scanned_is_found() {
        // Line 1 takes ACCESS EXCLUSIVE on t1; line 2 builds an index on t2.
        let l1 = observe(
            1,
            vec![rel(1, 100, 0, &[]), rel(2, 200, 0, &[])],
            vec![rel(1, 100, 0, &[AccessExclusive]), rel(2, 200, 0, &[])],
        );
        let l2 = observe(
            2,
            vec![rel(1, 100, 0, &[AccessExclusive]), rel(2, 200, 0, &[])],
            vec![rel(1, 100, 0, &[AccessExclusive]), rel(2, 200, 1, &[Share])],
        );
        let found = findings(&report_with(&[l1, l2], 1e6), 1000);
        assert_eq!(found.len(), 2, "{found:#?}");
        let held = found.iter().find(|f| f.relation == "public.t1").unwrap();
        assert_eq!(held.safer, Safer::OwnMigration { since_line: 1 });
        let text = held.to_string();
        assert!(
            text.contains("ACCESS EXCLUSIVE lock (taken at line 1) on public.t1"),
            "{text}"
        );
        assert!(text.contains("while public.t2 is scanned in full"), "{text}");
    }

    #[test]
    fn unknown_sizes_and_unobserved_locks_err_on_the_side_of_asking() {
        let files = [file_report(&subject(), &[create_index()], &BTreeSet::from([1]))];
        assert!(matches!(Verdict::of(&files[0], u64::MAX), Verdict::Dangerous(_)));
        let mut vacuum_full = observe(1, vec![rel(1, 100, 0, &[])], vec![rel(1, 101, 0, &[])]);
        vacuum_full.measured = super::super::Measured::Watched {
            locks: vec![],
            waited: false,
            scans: super::super::ScanSignal::NotMeasured,
        };
        let found = findings(&report_with(std::slice::from_ref(&vacuum_full), 1e6), 1000);
        assert_eq!(found[0].danger, Danger::Rewritten);
        assert!(
            found[0].to_string().contains("a lock that could not be observed"),
            "{}",
            found[0]
        );
        // A sample that caught only a weak mode does not make it safe.
        vacuum_full.measured = super::super::Measured::Watched {
            locks: vec![(1, RowExclusive)],
            waited: false,
            scans: super::super::ScanSignal::NotMeasured,
        };
        let found = findings(&report_with(&[vacuum_full], 1e6), 1000);
        assert_eq!((found.len(), found[0].lock), (1, None));
    }

    #[test]
    fn allow_lock_lets_a_file_through_and_the_refusal_lists_the_rest() {
        let mut file = report_with(&[create_index()], 1e6);
        let policy = Policy {
            mode: PolicyMode::Refuse,
            max_rows: 1000,
        };
        let dangerous = Verdict::of(&file, 1000);
        assert!(dangerous.line().starts_with("dangerous: 0002_x.sql line 2: SHARE lock"));
        let text = refusal(std::slice::from_ref(&dangerous), &policy, Stage::Run).unwrap();
        assert!(text.contains("above 1000 rows"), "{text}");
        assert!(text.contains("nothing was applied\n  0002_x.sql line 2:"), "{text}");
        assert!(text.ends_with("add `-- schemagate:allow-lock <reason>` to its leading comments"));
        file.allow_lock = Some("off-peak window".into());
        let allowed = Verdict::of(&file, 1000);
        assert!(allowed
            .line()
            .starts_with("allowed by schemagate:allow-lock (off-peak window): "));
        assert_eq!(refusal(&[allowed, Verdict::Safe], &policy, Stage::Plan), None);
    }
}
