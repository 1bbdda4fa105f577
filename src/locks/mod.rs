//! What pending migrations lock and rewrite, as PostgreSQL measured it in a
//! shadow database (`plan --locks`, and the lock policy of `run`). Pure: the
//! catalog states `db::measure` read before and after each statement go in,
//! per-relation effects, findings, verdicts and reports come out.
//!
//! The classic migration outage is a statement that holds a lock blocking
//! writes (or reads) on a big, busy table while it scans or rewrites that
//! table: `ALTER COLUMN … TYPE bigint`, `CREATE INDEX` without
//! `CONCURRENTLY`, `SET NOT NULL`, a foreign key added without `NOT VALID`.
//! Linters guess this from the SQL text; here the server is asked, so no SQL
//! parser and no per-version rule table is needed.

pub mod report;
pub mod verdict;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::migration::{MigrationFile, MigrationSet, RepeatableFile, TransactionMode, Version};
use crate::reconcile::{History, RunPlan, State, Target};

/// A table-level lock mode, weakest first. Each mode conflicts with at least
/// the modes the one before it conflicts with, so the strongest of several
/// held modes decides what they block together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

/// As the documentation spells it: `"SHARE ROW EXCLUSIVE"`.
impl Serialize for LockMode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.sql_name())
    }
}

/// What a lock stops other sessions from doing to the relation while it is
/// held: plain `SELECT`s, and `INSERT`/`UPDATE`/`DELETE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Blocks {
    Neither,
    Writes,
    ReadsAndWrites,
}

impl Blocks {
    pub fn words(self) -> &'static str {
        match self {
            Blocks::Neither => "blocks neither",
            Blocks::Writes => "blocks writes",
            Blocks::ReadsAndWrites => "blocks reads and writes",
        }
    }
}

impl LockMode {
    const ALL: [(LockMode, &'static str, &'static str); 8] = [
        (LockMode::AccessShare, "AccessShareLock", "ACCESS SHARE"),
        (LockMode::RowShare, "RowShareLock", "ROW SHARE"),
        (LockMode::RowExclusive, "RowExclusiveLock", "ROW EXCLUSIVE"),
        (
            LockMode::ShareUpdateExclusive,
            "ShareUpdateExclusiveLock",
            "SHARE UPDATE EXCLUSIVE",
        ),
        (LockMode::Share, "ShareLock", "SHARE"),
        (
            LockMode::ShareRowExclusive,
            "ShareRowExclusiveLock",
            "SHARE ROW EXCLUSIVE",
        ),
        (LockMode::Exclusive, "ExclusiveLock", "EXCLUSIVE"),
        (LockMode::AccessExclusive, "AccessExclusiveLock", "ACCESS EXCLUSIVE"),
    ];

    /// The mode as `pg_locks.mode` spells it (`ShareRowExclusiveLock`).
    pub fn from_pg(name: &str) -> Option<LockMode> {
        Self::ALL.iter().find(|(_, pg, _)| *pg == name).map(|(m, _, _)| *m)
    }

    /// The mode as `LOCK TABLE` and the documentation spell it.
    pub fn sql_name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _, _)| *m == self)
            .map_or("", |(_, _, sql)| sql)
    }

    /// Up to SHARE UPDATE EXCLUSIVE, reads and writes go on; SHARE and up
    /// stop writers; only ACCESS EXCLUSIVE stops plain reads too.
    pub fn blocks(self) -> Blocks {
        match self {
            LockMode::AccessShare | LockMode::RowShare | LockMode::RowExclusive | LockMode::ShareUpdateExclusive => {
                Blocks::Neither
            }
            LockMode::Share | LockMode::ShareRowExclusive | LockMode::Exclusive => Blocks::Writes,
            LockMode::AccessExclusive => Blocks::ReadsAndWrites,
        }
    }
}

/// `SCHEMAGATE_LOCK_POLICY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyMode {
    Off,
    Warn,
    Refuse,
}

impl PolicyMode {
    pub const WORDS: &'static [&'static str] = &["off", "warn", "refuse"];

    pub fn parse(text: &str) -> Result<PolicyMode, String> {
        match text {
            "off" => Ok(PolicyMode::Off),
            "warn" => Ok(PolicyMode::Warn),
            "refuse" => Ok(PolicyMode::Refuse),
            other => Err(format!("'{other}' is not a lock policy (use off, warn or refuse)")),
        }
    }
}

/// The lock policy: what to do with findings, and from how many rows a
/// relation counts as big.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub mode: PolicyMode,
    pub max_rows: u64,
}

/// The counts of a relation's catalog entries that tell which kind of change
/// a statement made, so that a finding can name the safer pattern without
/// parsing the SQL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    pub indexes: i64,
    /// Validated foreign keys this relation holds (it is the referencing side).
    pub foreign_keys: i64,
    /// Validated CHECK constraints.
    pub checks: i64,
    pub not_nulls: i64,
}

/// One relation of the shadow at one moment, as one catalog query read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationState {
    pub oid: i64,
    /// `schema.name`, unquoted.
    pub name: String,
    /// `pg_relation_filenode`: a new one means the table was rewritten.
    pub filenode: i64,
    /// Sequential scans started on it: the transaction's own counter
    /// (`pg_stat_get_xact_numscans`) or, for a statement outside a
    /// transaction block, the flushed cumulative one.
    pub scans: i64,
    pub shape: Shape,
    /// The modes the measuring backend holds on it (`pg_locks`).
    pub modes: Vec<LockMode>,
}

/// How a statement was measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measured {
    /// Inside a transaction: the backend's own `pg_locks` entries and the
    /// transaction's scan counters, before and after the statement.
    InTransaction,
    /// Outside a transaction block (`CREATE INDEX CONCURRENTLY`): the locks a
    /// second session saw the statement hold, and whether it saw them while
    /// the statement waited for that session's snapshot, when every lock the
    /// statement takes is held.
    Watched {
        locks: Vec<(i64, LockMode)>,
        waited: bool,
        scans: ScanSignal,
    },
}

/// Whether scans outside a transaction block could be counted: the
/// cumulative counters are read after `pg_stat_force_next_flush()`, which
/// PostgreSQL 15 introduced; before it they arrive late, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanSignal {
    Counted,
    NotMeasured,
}

/// One statement's catalog before and after it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub line: usize,
    /// The statement's first line, for the report.
    pub sql: String,
    pub before: Vec<RelationState>,
    pub after: Vec<RelationState>,
    pub measured: Measured,
}

/// What a pending file is, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject<'a> {
    pub file_name: &'a str,
    /// `None` for a repeatable migration.
    pub version: Option<&'a Version>,
    pub sql: &'a str,
    pub transaction: TransactionMode,
    pub allow_lock: Option<&'a str>,
}

impl<'a> From<&'a MigrationFile> for Subject<'a> {
    fn from(f: &'a MigrationFile) -> Self {
        Subject {
            file_name: &f.file_name,
            version: Some(&f.version),
            sql: &f.sql,
            transaction: f.transaction,
            allow_lock: f.allow_lock.as_deref(),
        }
    }
}

impl<'a> From<&'a RepeatableFile> for Subject<'a> {
    fn from(f: &'a RepeatableFile) -> Self {
        Subject {
            file_name: &f.file_name,
            version: None,
            sql: &f.sql,
            transaction: f.transaction,
            allow_lock: f.allow_lock.as_deref(),
        }
    }
}

/// The files that bring the shadow to where the target is, then the
/// pending files to measure, in the order `run` applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Work<'a> {
    pub prepare: Vec<Subject<'a>>,
    pub pending: Vec<Subject<'a>>,
}

impl<'a> Work<'a> {
    /// From the target's history: its applied and baselined files, and its
    /// unchanged repeatables, prepare the shadow; the plan is measured.
    pub fn for_target(set: &'a MigrationSet, plan: &RunPlan<'a>, recorded: &History) -> Work<'a> {
        let done: BTreeSet<&Version> = plan
            .report
            .migrations
            .iter()
            .filter(|e| matches!(e.state, State::Applied | State::Baseline))
            .map(|e| &e.version)
            .collect();
        let unchanged = |r: &&RepeatableFile| {
            recorded
                .repeatables
                .iter()
                .any(|row| row.name == r.name && row.checksum == r.checksum)
        };
        let prepare = set
            .files
            .iter()
            .filter(|f| done.contains(&f.version))
            .map(Subject::from);
        let pending = plan.files.iter().map(|f| Subject::from(*f));
        Work {
            prepare: prepare
                .chain(set.repeatables.iter().filter(unchanged).map(Subject::from))
                .collect(),
            pending: pending
                .chain(plan.repeatables.iter().map(|r| Subject::from(*r)))
                .collect(),
        }
    }

    /// `--from V`, without the target: the files up to V prepare the shadow;
    /// the later ones up to `target` are measured, and on the way to head
    /// every repeatable after them.
    pub fn from_version(set: &'a MigrationSet, from: &Version, target: &Target) -> Work<'a> {
        let (prepare, rest): (Vec<&MigrationFile>, Vec<&MigrationFile>) =
            set.files.iter().partition(|f| &f.version <= from);
        let wanted = |f: &&MigrationFile| match target {
            Target::Head => true,
            Target::Version(t) => &f.version <= t,
        };
        let repeatables = match target {
            Target::Head => set.repeatables.iter().map(Subject::from).collect(),
            Target::Version(_) => Vec::new(),
        };
        Work {
            prepare: prepare.into_iter().map(Subject::from).collect(),
            pending: rest
                .into_iter()
                .filter(wanted)
                .map(Subject::from)
                .chain(repeatables)
                .collect(),
        }
    }
}

/// A relation's size on the target, where the policy's threshold is applied.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Size {
    /// No target was consulted (`plan --locks --from V`).
    NotConsulted,
    /// The relation is not on the target.
    NotOnTarget,
    /// `rows`: the live estimate, `None` when the target does not know it.
    OnTarget { rows: Option<f64>, bytes: i64 },
}

impl Size {
    /// Whether the relation counts as big: above `max_rows`, or of unknown
    /// size. Not knowing is treated as big so that a CI check without the
    /// target, or a table never analysed, errs on the side of asking.
    pub fn exceeds(self, max_rows: u64) -> bool {
        match self {
            Size::OnTarget { rows: Some(r), .. } => r > max_rows as f64,
            _ => true,
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Size::NotConsulted => f.write_str("size unknown: target not consulted"),
            Size::NotOnTarget => f.write_str("not on the target"),
            Size::OnTarget { rows: Some(r), bytes } => write!(f, "~{r:.0} rows, {}", human_bytes(*bytes)),
            Size::OnTarget { rows: None, bytes } => {
                write!(f, "row estimate unknown (never analysed), {}", human_bytes(*bytes))
            }
        }
    }
}

/// `9.1 MB`, in powers of 1024 as `pg_size_pretty` counts.
pub fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// The live row estimate from `pg_class.reltuples` and the heap's size.
/// PostgreSQL 14+ says -1 for a table never vacuumed or analysed, and older
/// releases say 0 then: an empty heap is 0 rows whatever the estimate, but a
/// heap with pages and no positive estimate is unknown, not empty.
pub fn live_rows(reltuples: f64, heap_bytes: i64) -> Option<f64> {
    if reltuples > 0.0 {
        Some(reltuples)
    } else if heap_bytes == 0 {
        Some(0.0)
    } else {
        None
    }
}

/// What the statement did to a relation, in catalog terms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Change {
    pub index_built: bool,
    pub constraint_validated: bool,
    pub not_null_set: bool,
}

/// One relation a statement touched, or one whose lock it kept holding
/// while it was slow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    pub relation: String,
    /// The strongest mode held while the statement ran; `None` when it could
    /// not be observed.
    pub lock: Option<LockMode>,
    /// The line of an earlier statement of the same transaction that took
    /// that mode: it is held until the transaction ends.
    pub since_line: Option<usize>,
    /// Whether this statement took a mode it did not hold before, or scanned
    /// or rewrote the relation (false: a lock still held from earlier).
    pub touched: bool,
    pub rewritten: bool,
    /// `None`: scans could not be measured.
    pub scanned: Option<bool>,
    pub change: Change,
    pub size: Size,
}

impl Effect {
    pub fn blocks(&self) -> Option<Blocks> {
        self.lock.map(LockMode::blocks)
    }

    pub fn rewritten_or_scanned(&self) -> bool {
        self.rewritten || self.scanned == Some(true)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementReport {
    pub line: usize,
    pub sql: String,
    /// Whether every lock was seen (`false`: a statement outside a
    /// transaction block that never waited for the watching session).
    pub locks_observed: bool,
    pub relations: Vec<Effect>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    pub file: String,
    pub version: Option<Version>,
    pub transaction: &'static str,
    pub allow_lock: Option<String>,
    pub statements: Vec<StatementReport>,
}

pub fn transaction_words(t: TransactionMode) -> &'static str {
    match t {
        TransactionMode::PerMigration => "transactional",
        TransactionMode::None => "no-transaction",
    }
}

/// Builds a file's report from its statements' observations. `existing`
/// holds the relations that exist before any pending file runs: those the
/// target has. Relations created by pending files are left out, since
/// nothing uses them yet.
pub fn file_report(subject: &Subject, observations: &[Observation], existing: &BTreeSet<i64>) -> FileReport {
    // The strongest mode taken so far in this file's transaction, and where.
    // A no-transaction file commits after each statement, which releases them.
    let mut held: BTreeMap<i64, (LockMode, usize)> = BTreeMap::new();
    let statements = observations
        .iter()
        .map(|o| {
            if subject.transaction == TransactionMode::None {
                held.clear();
            }
            statement_report(o, existing, &mut held)
        })
        .collect();
    FileReport {
        file: subject.file_name.to_string(),
        version: subject.version.cloned(),
        transaction: transaction_words(subject.transaction),
        allow_lock: subject.allow_lock.map(str::to_string),
        statements,
    }
}

fn statement_report(
    o: &Observation,
    existing: &BTreeSet<i64>,
    held: &mut BTreeMap<i64, (LockMode, usize)>,
) -> StatementReport {
    let before: BTreeMap<i64, &RelationState> = o.before.iter().map(|r| (r.oid, r)).collect();
    let mut relations = Vec::new();
    for after in o.after.iter().filter(|r| existing.contains(&r.oid)) {
        let Some(prior) = before.get(&after.oid) else { continue };
        relations.push(effect(o, prior, after, held));
    }
    let slow = relations.iter().any(Effect::rewritten_or_scanned);
    // A lock still held from an earlier statement matters only while this
    // one is slow; otherwise it would repeat on every line of the file.
    relations.retain(|e| e.touched || (slow && e.blocks() > Some(Blocks::Neither)));
    StatementReport {
        line: o.line,
        sql: o.sql.clone(),
        locks_observed: !matches!(o.measured, Measured::Watched { waited: false, .. }),
        relations,
    }
}

fn effect(
    o: &Observation,
    prior: &RelationState,
    after: &RelationState,
    held: &mut BTreeMap<i64, (LockMode, usize)>,
) -> Effect {
    let (lock, since_line, new_mode, scanned) = match &o.measured {
        Measured::InTransaction => {
            let new_mode = after.modes.iter().any(|m| !prior.modes.contains(m));
            let strongest = after.modes.iter().max().copied();
            let since = strongest.map(|m| {
                let entry = held.entry(after.oid).or_insert((m, o.line));
                if m > entry.0 {
                    *entry = (m, o.line);
                }
                entry.1
            });
            let since_line = since.filter(|line| *line != o.line);
            (strongest, since_line, new_mode, Some(after.scans > prior.scans))
        }
        Measured::Watched { locks, scans, .. } => {
            let strongest = locks.iter().filter(|(oid, _)| *oid == after.oid).map(|(_, m)| *m).max();
            let scanned = (*scans == ScanSignal::Counted).then_some(after.scans > prior.scans);
            (strongest, None, strongest.is_some(), scanned)
        }
    };
    let rewritten = prior.filenode != 0 && after.filenode != prior.filenode;
    Effect {
        relation: after.name.clone(),
        lock,
        since_line,
        touched: new_mode || rewritten || scanned == Some(true),
        rewritten,
        scanned,
        change: Change {
            index_built: after.shape.indexes > prior.shape.indexes,
            constraint_validated: after.shape.foreign_keys > prior.shape.foreign_keys
                || after.shape.checks > prior.shape.checks,
            not_null_set: after.shape.not_nulls > prior.shape.not_nulls,
        },
        size: Size::NotConsulted,
    }
}

/// Every relation named in the reports, for one size query on the target.
pub fn relation_names(files: &[FileReport]) -> BTreeSet<String> {
    files
        .iter()
        .flat_map(|f| &f.statements)
        .flat_map(|s| &s.relations)
        .map(|e| e.relation.clone())
        .collect()
}

/// Fills in each relation's size from what the target said (`None`: the
/// target was not consulted).
pub fn apply_sizes(files: &mut [FileReport], sizes: Option<&BTreeMap<String, Size>>) {
    for e in files
        .iter_mut()
        .flat_map(|f| &mut f.statements)
        .flat_map(|s| &mut s.relations)
    {
        e.size = match sizes {
            None => Size::NotConsulted,
            Some(known) => known.get(&e.relation).copied().unwrap_or(Size::NotOnTarget),
        };
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn rel(oid: i64, filenode: i64, scans: i64, modes: &[LockMode]) -> RelationState {
        RelationState {
            oid,
            name: format!("public.t{oid}"),
            filenode,
            scans,
            shape: Shape::default(),
            modes: modes.to_vec(),
        }
    }

    pub fn observe(line: usize, before: Vec<RelationState>, after: Vec<RelationState>) -> Observation {
        Observation {
            line,
            sql: format!("statement at line {line}"),
            before,
            after,
            measured: Measured::InTransaction,
        }
    }

    pub fn subject() -> Subject<'static> {
        Subject {
            file_name: "0002_x.sql",
            version: None,
            sql: "",
            transaction: TransactionMode::PerMigration,
            allow_lock: None,
        }
    }

    use LockMode::*;

    #[test]
    fn modes_read_as_pg_locks_spells_them_and_say_what_they_block() {
        assert_eq!(LockMode::from_pg("ShareRowExclusiveLock"), Some(ShareRowExclusive));
        assert_eq!(LockMode::from_pg("SIReadLock"), None);
        assert_eq!(AccessExclusive.sql_name(), "ACCESS EXCLUSIVE");
        assert_eq!(ShareUpdateExclusive.blocks().words(), "blocks neither");
        assert_eq!(Share.blocks().words(), "blocks writes");
        assert_eq!(ShareRowExclusive.blocks(), Blocks::Writes);
        assert_eq!(Exclusive.blocks(), Blocks::Writes);
        assert_eq!(AccessExclusive.blocks().words(), "blocks reads and writes");
        // Strength order is what "strongest held" relies on.
        assert!(RowExclusive < Share && Share < AccessExclusive);
    }

    #[test]
    fn a_rewrite_is_a_new_filenode_and_a_scan_a_higher_counter() {
        let o = observe(
            3,
            vec![rel(1, 100, 1, &[]), rel(2, 200, 1, &[])],
            vec![rel(1, 101, 3, &[AccessExclusive, Share]), rel(2, 200, 2, &[Share])],
        );
        let r = file_report(&subject(), &[o], &BTreeSet::from([1, 2]));
        let [a, b] = &r.statements[0].relations[..] else {
            panic!("{r:?}")
        };
        assert_eq!(
            (a.lock, a.rewritten, a.scanned),
            (Some(AccessExclusive), true, Some(true))
        );
        assert_eq!((b.lock, b.rewritten, b.scanned), (Some(Share), false, Some(true)));
        assert_eq!(r.statements[0].line, 3);
    }

    #[test]
    fn relations_created_by_pending_files_are_left_out() {
        let o = observe(1, vec![rel(5, 500, 0, &[])], vec![rel(5, 500, 1, &[Share])]);
        let r = file_report(&subject(), &[o], &BTreeSet::new());
        assert!(r.statements[0].relations.is_empty());
    }

    #[test]
    fn a_lock_taken_earlier_in_the_transaction_is_held_and_says_since_when() {
        // Line 1: ADD COLUMN (ACCESS EXCLUSIVE, catalog only). Line 2: an
        // UPDATE backfill, which scans the table under that lock.
        let l1 = observe(1, vec![rel(1, 100, 0, &[])], vec![rel(1, 100, 0, &[AccessExclusive])]);
        let l2 = observe(
            2,
            vec![rel(1, 100, 0, &[AccessExclusive])],
            vec![rel(1, 100, 1, &[AccessExclusive, RowExclusive])],
        );
        let r = file_report(&subject(), &[l1, l2], &BTreeSet::from([1]));
        let first = &r.statements[0].relations[0];
        assert_eq!(
            (first.lock, first.since_line, first.touched),
            (Some(AccessExclusive), None, true)
        );
        let second = &r.statements[1].relations[0];
        assert_eq!(
            (second.lock, second.since_line, second.scanned),
            (Some(AccessExclusive), Some(1), Some(true))
        );
    }

    #[test]
    fn a_held_lock_is_listed_only_while_the_statement_is_slow() {
        let held = || rel(1, 100, 0, &[AccessExclusive]);
        let quiet = observe(2, vec![held(), rel(2, 200, 0, &[])], vec![held(), rel(2, 200, 0, &[])]);
        let slow = observe(
            3,
            vec![held(), rel(2, 200, 0, &[])],
            vec![held(), rel(2, 200, 1, &[Share])],
        );
        let r = file_report(&subject(), &[quiet, slow], &BTreeSet::from([1, 2]));
        assert!(r.statements[0].relations.is_empty());
        let names: Vec<(&str, bool)> = r.statements[1]
            .relations
            .iter()
            .map(|e| (e.relation.as_str(), e.touched))
            .collect();
        assert_eq!(names, [("public.t1", false), ("public.t2", true)]);
    }

    #[test]
    fn watched_statements_use_the_watchers_locks_and_flushed_counters() {
        let mut o = observe(4, vec![rel(1, 100, 7, &[])], vec![rel(1, 100, 9, &[])]);
        o.measured = Measured::Watched {
            locks: vec![(1, ShareUpdateExclusive), (99, AccessExclusive)],
            waited: true,
            scans: ScanSignal::Counted,
        };
        let r = file_report(&subject(), std::slice::from_ref(&o), &BTreeSet::from([1]));
        let e = &r.statements[0].relations[0];
        assert_eq!(
            (e.lock, e.scanned, e.rewritten),
            (Some(ShareUpdateExclusive), Some(true), false)
        );
        assert!(r.statements[0].locks_observed);
        o.measured = Measured::Watched {
            locks: vec![],
            waited: false,
            scans: ScanSignal::NotMeasured,
        };
        let r = file_report(&subject(), &[o], &BTreeSet::from([1]));
        assert!(!r.statements[0].locks_observed);
        assert!(r.statements[0].relations.is_empty(), "nothing seen, nothing claimed");
    }

    #[test]
    fn catalog_counts_name_the_kind_of_change() {
        let mut before = rel(1, 100, 0, &[]);
        before.shape = Shape {
            indexes: 1,
            foreign_keys: 0,
            checks: 0,
            not_nulls: 1,
        };
        let mut after = rel(1, 100, 1, &[AccessExclusive]);
        after.shape = Shape {
            not_nulls: 2,
            ..before.shape
        };
        let r = file_report(
            &subject(),
            &[observe(1, vec![before], vec![after])],
            &BTreeSet::from([1]),
        );
        let c = r.statements[0].relations[0].change;
        assert!(c.not_null_set && !c.index_built && !c.constraint_validated);
    }

    #[test]
    fn unknown_sizes_count_as_big_and_never_analysed_heaps_are_unknown() {
        assert_eq!(live_rows(1500.0, 8192 * 10), Some(1500.0));
        assert_eq!(live_rows(-1.0, 0), Some(0.0));
        assert_eq!(live_rows(-1.0, 8192), None);
        assert_eq!(live_rows(0.0, 8192), None);
        let known = |rows| Size::OnTarget { rows, bytes: 0 };
        assert!(!known(Some(10.0)).exceeds(10));
        assert!(known(Some(11.0)).exceeds(10));
        assert!(known(None).exceeds(10));
        assert!(Size::NotConsulted.exceeds(u64::MAX));
        assert!(Size::NotOnTarget.exceeds(10));
        assert_eq!(known(Some(1234.4)).to_string(), "~1234 rows, 0 bytes");
        assert_eq!(human_bytes(8192), "8.0 kB");
        assert_eq!(human_bytes(53_687_091_200), "50 GB");
    }

    fn set() -> MigrationSet {
        let files = ["0001_a.sql", "0002_b.sql", "0003_c.sql", "R__v.sql"]
            .into_iter()
            .map(|n| (n.to_string(), format!("-- {n}\nSELECT 1;")))
            .collect();
        crate::migration::build_set(files).unwrap()
    }

    fn names(subjects: &[Subject]) -> Vec<String> {
        subjects.iter().map(|s| s.file_name.to_string()).collect()
    }

    #[test]
    fn from_a_version_the_files_up_to_it_prepare_and_the_rest_are_measured() {
        let set = set();
        let work = Work::from_version(&set, &Version::from_int(1), &Target::Head);
        assert_eq!(names(&work.prepare), ["0001_a.sql"]);
        assert_eq!(names(&work.pending), ["0002_b.sql", "0003_c.sql", "R__v.sql"]);
        let work = Work::from_version(&set, &Version::from_int(1), &Target::Version(Version::from_int(2)));
        assert_eq!(names(&work.pending), ["0002_b.sql"]);
    }

    #[test]
    fn from_the_target_applied_files_and_unchanged_repeatables_prepare() {
        let set = set();
        let row = |v: u64, name: &str| crate::reconcile::HistoryRow {
            version: Version::from_int(v),
            name: name.into(),
            checksum: set.files[v as usize - 1].checksum.clone(),
            kind: if v == 1 { "baseline" } else { "sql" }.into(),
            applied_at: String::new(),
            execution_ms: 0,
            success: true,
            applied_by: String::new(),
            finished: true,
            restore_point: None,
        };
        let recorded = History {
            rows: vec![row(1, "a"), row(2, "b")],
            repeatables: vec![crate::reconcile::RepeatableRow {
                name: "v".into(),
                checksum: set.repeatables[0].checksum.clone(),
                applied_at: String::new(),
            }],
            older_format: false,
        };
        let plan = crate::reconcile::run_plan(&set, &recorded, &Target::Head, &crate::reconcile::Rules::default(), "h")
            .unwrap();
        let work = Work::for_target(&set, &plan, &recorded);
        assert_eq!(names(&work.prepare), ["0001_a.sql", "0002_b.sql", "R__v.sql"]);
        assert_eq!(names(&work.pending), ["0003_c.sql"]);
    }

    #[test]
    fn sizes_are_looked_up_by_name() {
        let o = observe(1, vec![rel(1, 100, 0, &[])], vec![rel(1, 100, 1, &[Share])]);
        let mut files = vec![file_report(&subject(), &[o], &BTreeSet::from([1]))];
        assert_eq!(relation_names(&files), BTreeSet::from(["public.t1".to_string()]));
        let sizes = BTreeMap::from([(
            "public.t1".to_string(),
            Size::OnTarget {
                rows: Some(5.0),
                bytes: 8192,
            },
        )]);
        apply_sizes(&mut files, Some(&sizes));
        assert!(matches!(
            files[0].statements[0].relations[0].size,
            Size::OnTarget { .. }
        ));
        apply_sizes(&mut files, Some(&BTreeMap::new()));
        assert_eq!(files[0].statements[0].relations[0].size, Size::NotOnTarget);
    }
}
