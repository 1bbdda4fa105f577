//! The files on disk reconciled with the rows of the history table, as pure
//! functions: each version's state, the problems that keep the database from
//! head, and the plan for `run` and `down`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::migration::{DownScript, MigrationFile, MigrationSet, RepeatableFile, Version};
use crate::schema::Snapshot;
use crate::sqltext::has_code;

/// `kind` values in the history table.
pub const KIND_SQL: &str = "sql";
pub const KIND_BASELINE: &str = "baseline";
pub const KIND_REPEATABLE: &str = "repeatable";

/// A row of the history table, as read back from the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub version: Version,
    pub name: String,
    pub checksum: String,
    pub kind: String,
    /// RFC 3339, UTC, formatted by the server.
    pub applied_at: String,
    pub execution_ms: i64,
    pub success: bool,
    pub applied_by: String,
    /// False only for a no-transaction migration that started and did not
    /// finish (the runner was killed, or the server went away).
    pub finished: bool,
    /// The restore point taken before the run that wrote this row.
    pub restore_point: Option<String>,
}

/// The history table's contents, split by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub rows: Vec<HistoryRow>,
    pub repeatables: Vec<RepeatableRow>,
    /// Read from a table in an older format, which the first writer upgrades.
    pub older_format: bool,
}

impl History {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.repeatables.is_empty()
    }
}

/// The last application of a repeatable migration (one row per name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatableRow {
    pub name: String,
    pub checksum: String,
    pub applied_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Applied,
    /// Recorded by `baseline` or `import`: its objects exist, it was never run here.
    Baseline,
    Pending,
    Missing,
    ChecksumMismatch,
    Failed,
    /// A no-transaction migration that started and never finished.
    Incomplete,
    /// Applied by a newer release: above the highest file of this one.
    Future,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Baseline => "baseline",
            State::Pending => "pending",
            State::Missing => "missing",
            State::ChecksumMismatch => "checksum_mismatch",
            State::Failed => "failed",
            State::Incomplete => "incomplete",
            State::Future => "future",
        }
    }
}

/// One line of `status`: a version, whether it is on disk, in the history, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub version: Version,
    pub name: String,
    pub state: State,
    pub checksum: String,
    pub applied_at: Option<String>,
    /// The restore point taken before the run that applied this version:
    /// where to recover to if it turns out wrong.
    pub restore_point: Option<String>,
    #[serde(skip)]
    pub file_name: Option<String>,
    #[serde(skip)]
    pub recorded_checksum: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Highest version applied successfully.
    pub database_version: Option<Version>,
    /// Highest version on disk.
    pub head_version: Option<Version>,
    pub migrations: Vec<Entry>,
}

impl Report {
    /// What `status` counts as "not applied or with problems": anything but
    /// an applied or baselined version (a `baseline` row is applied, not a
    /// problem).
    pub fn needing_attention(&self) -> usize {
        self.migrations
            .iter()
            .filter(|e| !matches!(e.state, State::Applied | State::Baseline | State::Future))
            .count()
    }
}

/// Something that keeps the database from being "at head".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Pending {
        version: Version,
        file: String,
    },
    ChecksumMismatch {
        version: Version,
        file: String,
        recorded: String,
        actual: String,
    },
    MissingFile {
        version: Version,
        name: String,
    },
    Failed {
        version: Version,
        name: String,
        table: String,
    },
    OutOfOrder {
        version: Version,
        file: String,
        highest_applied: Version,
    },
    /// Applied in this run, yet absent when the history was read back: the
    /// transaction was rolled back behind our back (seed 000's loop).
    NotRecorded {
        version: Version,
        file: String,
    },
    /// A repeatable migration whose file changed since it was last applied.
    RepeatablePending {
        file: String,
    },
    /// A no-transaction migration started and did not finish: its runner was
    /// killed (SIGKILL, OOM) or lost its connection part-way.
    Incomplete {
        version: Version,
        name: String,
        started: String,
        table: String,
    },
    /// Applied by a newer release, under `SCHEMAGATE_FUTURE=fail`.
    Future {
        version: Version,
        name: String,
        head: Option<Version>,
    },
    /// A history row whose version is not a version (edited by hand?).
    UnreadableRow {
        table: String,
        version: String,
        reason: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Pending { version, file } => write!(f, "version {version} ({file}) is pending"),
            Problem::ChecksumMismatch { version, file, recorded, actual } => write!(
                f,
                "version {version} ({file}) was edited after it was applied: recorded checksum {recorded}, file checksum {actual}; \
                 restore the file, or put the change in a new migration"
            ),
            Problem::MissingFile { version, name } => write!(
                f,
                "version {version} ({name}) is applied but its file is missing from the migration directory"
            ),
            Problem::Failed { version, name, table } => write!(
                f,
                "version {version} ({name}) failed outside a transaction and may be partly applied; \
                 fix the database by hand, then delete its row (`schemagate repair` does): \
                 DELETE FROM {table} WHERE migration_version = '{version}'"
            ),
            Problem::OutOfOrder { version, file, highest_applied } => write!(
                f,
                "version {version} ({file}) is pending but lower than the highest applied version {highest_applied}; \
                 renumber it, or set SCHEMAGATE_OUT_OF_ORDER=true to apply it anyway"
            ),
            Problem::RepeatablePending { file } => {
                write!(f, "repeatable migration {file} changed since it was last applied")
            }
            Problem::Incomplete { version, name, started, table } => write!(
                f,
                "version {version} ({name}) ran without a transaction from {started} and never finished (its runner \
                 was killed or lost its connection), so part of it may be applied and it is not run again by itself. \
                 Check what it did, finish or undo that by hand, then delete its row (`schemagate repair` does: \
                 DELETE FROM {table} WHERE migration_version = '{version}') and run again"
            ),
            Problem::Future { version, name, head } => write!(
                f,
                "version {version} ({name}) was applied by a newer release: this image's highest file is {}; \
                 SCHEMAGATE_FUTURE=fail refuses to run an older image on a newer schema",
                head.as_ref().map_or_else(|| "none".to_string(), Version::to_string)
            ),
            Problem::UnreadableRow { table, version, reason } => write!(
                f,
                "the history table {table} has a row with version '{version}': {reason}; correct or delete that row"
            ),
            Problem::NotRecorded { version, file } => write!(
                f,
                "version {version} ({file}) ran without error but is not recorded: its transaction was rolled back \
                 (does the file contain COMMIT or ROLLBACK?); the database is not at head"
            ),
        }
    }
}

/// Joins files and rows by version into one sorted list of entries.
pub fn reconcile(files: &[MigrationFile], rows: &[HistoryRow]) -> Report {
    let mut by_version: BTreeMap<&Version, (Option<&MigrationFile>, Option<&HistoryRow>)> = BTreeMap::new();
    for f in files {
        by_version.entry(&f.version).or_default().0 = Some(f);
    }
    for r in rows {
        by_version.entry(&r.version).or_default().1 = Some(r);
    }
    let head_version = files.iter().map(|f| &f.version).max().cloned();
    let migrations: Vec<Entry> = by_version
        .into_values()
        .filter_map(|pair| entry(pair.0, pair.1))
        .map(|e| beyond(e, head_version.as_ref()))
        .collect();
    let database_version = rows.iter().filter(|r| r.success).map(|r| &r.version).max().cloned();
    Report {
        database_version,
        head_version,
        migrations,
    }
}

/// An applied version with no file is `missing`, unless it is above the
/// image's highest file: then a newer release applied it, and this image is
/// an older one running on the newer schema (a rollback, an Argo CD revert,
/// an old ReplicaSet's Pod rescheduled). That is `future`, as in Flyway.
fn beyond(mut e: Entry, head: Option<&Version>) -> Entry {
    if e.state == State::Missing && head.is_none_or(|h| e.version > *h) {
        e.state = State::Future;
    }
    e
}

fn entry(file: Option<&MigrationFile>, row: Option<&HistoryRow>) -> Option<Entry> {
    let state = match (file, row) {
        (_, Some(r)) if !r.finished => State::Incomplete,
        (_, Some(r)) if !r.success => State::Failed,
        (Some(f), Some(r)) if f.checksum != r.checksum => State::ChecksumMismatch,
        (Some(_), Some(r)) if r.kind == KIND_BASELINE => State::Baseline,
        (Some(_), Some(_)) => State::Applied,
        (Some(_), None) => State::Pending,
        (None, Some(_)) => State::Missing,
        (None, None) => return None,
    };
    Some(Entry {
        version: file
            .map(|f| f.version.clone())
            .or_else(|| row.map(|r| r.version.clone()))?,
        name: file.map(|f| f.name.clone()).or_else(|| row.map(|r| r.name.clone()))?,
        state,
        checksum: file
            .map(|f| f.checksum.clone())
            .or_else(|| row.map(|r| r.checksum.clone()))?,
        applied_at: row.map(|r| r.applied_at.clone()),
        restore_point: row.and_then(|r| r.restore_point.clone()),
        file_name: file.map(|f| f.file_name.clone()),
        recorded_checksum: row.map(|r| r.checksum.clone()),
    })
}

/// Which problems count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Before `run` applies anything: pending versions are the plan, not a
    /// problem, but a pending version below the highest applied one is,
    /// unless out-of-order is allowed.
    BeforeRun { out_of_order: OutOfOrder },
    /// `verify`, and `run` after applying: the database must be exactly at head.
    AtHead,
    /// `run --target V` after applying: at V; later versions may stay pending.
    AtTarget(Version),
}

impl Check {
    /// What must hold once `run` has gone as far as `target`.
    pub fn after(target: &Target) -> Check {
        match target {
            Target::Head => Check::AtHead,
            Target::Version(v) => Check::AtTarget(v.clone()),
        }
    }
}

/// Versions applied by a newer release than this image's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FutureVersions {
    /// Allowed, with a warning: expand/contract lets old code run on the
    /// new schema (the default).
    Warn,
    /// A problem, like a missing file (`SCHEMAGATE_FUTURE=fail`).
    Fail,
}

/// The operator's choices that decide what counts as a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub out_of_order: OutOfOrder,
    pub future: FutureVersions,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            out_of_order: OutOfOrder::Refuse,
            future: FutureVersions::Warn,
        }
    }
}

/// The versions applied by a newer release, for the warning.
pub fn future_versions(report: &Report) -> Vec<Version> {
    report
        .migrations
        .iter()
        .filter(|e| e.state == State::Future)
        .map(|e| e.version.clone())
        .collect()
}

/// Under `SCHEMAGATE_FUTURE=fail`, each future version is a problem.
fn future_problems(report: &Report, rules: &Rules) -> Vec<Problem> {
    if rules.future == FutureVersions::Warn {
        return Vec::new();
    }
    let head = report.head_version.clone();
    report
        .migrations
        .iter()
        .filter(|e| e.state == State::Future)
        .map(|e| Problem::Future {
            version: e.version.clone(),
            name: e.name.clone(),
            head: head.clone(),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfOrder {
    Refuse,
    Allow,
}

pub fn problems(report: &Report, check: &Check, table: &str) -> Vec<Problem> {
    report
        .migrations
        .iter()
        .filter_map(|e| problem(e, check, report.database_version.as_ref(), table))
        .collect()
}

/// The problem one entry is under `check`, if any.
fn problem(e: &Entry, check: &Check, highest: Option<&Version>, table: &str) -> Option<Problem> {
    let version = e.version.clone();
    let file = e.file_name.clone().unwrap_or_default();
    Some(match e.state {
        State::Applied | State::Baseline | State::Future => return None,
        State::Failed => Problem::Failed {
            version,
            name: e.name.clone(),
            table: table.to_string(),
        },
        State::Missing => Problem::MissingFile {
            version,
            name: e.name.clone(),
        },
        State::Incomplete => Problem::Incomplete {
            version,
            name: e.file_name.clone().unwrap_or_else(|| e.name.clone()),
            started: e.applied_at.clone().unwrap_or_default(),
            table: table.to_string(),
        },
        State::ChecksumMismatch => Problem::ChecksumMismatch {
            version,
            file,
            recorded: e.recorded_checksum.clone().unwrap_or_default(),
            actual: e.checksum.clone(),
        },
        State::Pending => match (check, highest) {
            (Check::AtHead, _) => Problem::Pending { version, file },
            (
                Check::BeforeRun {
                    out_of_order: OutOfOrder::Refuse,
                },
                Some(h),
            ) if &version < h => Problem::OutOfOrder {
                version,
                file,
                highest_applied: h.clone(),
            },
            (Check::AtTarget(t), _) if &version > t => return None,
            (Check::AtTarget(_), _) => Problem::Pending { version, file },
            (Check::BeforeRun { .. }, _) => return None,
        },
    })
}

/// How far `run` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Head,
    Version(Version),
}

/// The files `run` applies, ascending by version.
pub fn plan<'a>(files: &'a [MigrationFile], report: &Report, target: &Target) -> Vec<&'a MigrationFile> {
    let pending: BTreeSet<&Version> = report
        .migrations
        .iter()
        .filter(|e| e.state == State::Pending)
        .map(|e| &e.version)
        .collect();
    let wanted = |v: &Version| match target {
        Target::Head => true,
        Target::Version(t) => v <= t,
    };
    files
        .iter()
        .filter(|f| pending.contains(&f.version) && wanted(&f.version))
        .collect()
}

/// What `run` (and `plan`) will do, decided before anything is applied.
#[derive(Debug)]
pub struct RunPlan<'a> {
    pub report: Report,
    pub files: Vec<&'a MigrationFile>,
    /// Only on the way to head: a `--target` run leaves repeatables alone.
    pub repeatables: Vec<&'a RepeatableFile>,
}

impl RunPlan<'_> {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.repeatables.is_empty()
    }

    pub fn len(&self) -> usize {
        self.files.len() + self.repeatables.len()
    }
}

/// Validates the history against the files and plans the run. `Err` holds
/// every problem that blocks it.
pub fn run_plan<'a>(
    set: &'a MigrationSet,
    recorded: &History,
    target: &Target,
    rules: &Rules,
    table: &str,
) -> Result<RunPlan<'a>, Vec<Problem>> {
    let report = reconcile(&set.files, &recorded.rows);
    let out_of_order = rules.out_of_order;
    let mut blocking = problems(&report, &Check::BeforeRun { out_of_order }, table);
    blocking.extend(future_problems(&report, rules));
    if !blocking.is_empty() {
        return Err(blocking);
    }
    let files = plan(&set.files, &report, target);
    let repeatables = match target {
        Target::Head => repeatable_plan(&set.repeatables, &recorded.repeatables),
        Target::Version(_) => Vec::new(),
    };
    Ok(RunPlan {
        report,
        files,
        repeatables,
    })
}

/// What [`run_plan`] returns for an empty history (a fresh database): every
/// file up to the target in order and, on the way to head, every repeatable;
/// with nothing recorded there is no problem to find. Without reconciling:
/// the report would copy every file's version, name and checksum (several
/// MB at 10,000 files) only to say "pending" 10,000 times.
pub fn fresh_plan<'a>(set: &'a MigrationSet, target: &Target) -> (Vec<&'a MigrationFile>, Vec<&'a RepeatableFile>) {
    let files = set
        .files
        .iter()
        .filter(|f| match target {
            Target::Head => true,
            Target::Version(t) => f.version <= *t,
        })
        .collect();
    let repeatables = match target {
        Target::Head => set.repeatables.iter().collect(),
        Target::Version(_) => Vec::new(),
    };
    (files, repeatables)
}

/// Everything that keeps the database from being exactly at `target`:
/// versioned problems, and on the way to head, changed repeatables too.
/// `verify` asks this of head; `run` asks it after applying.
pub fn problems_at(
    set: &MigrationSet,
    recorded: &History,
    target: &Target,
    rules: &Rules,
    table: &str,
) -> (Report, Vec<Problem>) {
    let report = reconcile(&set.files, &recorded.rows);
    let mut found = problems(&report, &Check::after(target), table);
    found.extend(future_problems(&report, rules));
    if *target == Target::Head {
        found.extend(repeatable_problems(&set.repeatables, &recorded.repeatables));
    }
    (report, found)
}

/// After `run` applied `applied`, the history read back must be at `target`.
/// A version that ran in this run yet is still pending was rolled back
/// behind our back (a COMMIT or ROLLBACK inside the file: seed 000's loop),
/// which is [`Problem::NotRecorded`], not merely pending. `Ok` holds the
/// applied versions that are recorded.
pub fn confirm(
    set: &MigrationSet,
    recorded: &History,
    target: &Target,
    applied: &[Version],
    rules: &Rules,
    table: &str,
) -> Result<(Report, Vec<Version>), Vec<Problem>> {
    let (report, found) = problems_at(set, recorded, target, rules, table);
    if !found.is_empty() {
        return Err(found
            .into_iter()
            .map(|p| match p {
                Problem::Pending { version, file } if applied.contains(&version) => {
                    Problem::NotRecorded { version, file }
                }
                other => other,
            })
            .collect());
    }
    let recorded_versions: BTreeSet<&Version> = recorded.rows.iter().map(|r| &r.version).collect();
    let done = applied
        .iter()
        .filter(|v| recorded_versions.contains(v))
        .cloned()
        .collect();
    Ok((report, done))
}

/// The history table summed up in one row by the server
/// (`src/db/sql/history_digest.sql`), so that the run that finds nothing to
/// do (every pod restart) reads a few bytes instead of every row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryDigest {
    pub rows: i64,
    /// Rows that failed, or that a no-transaction migration left unfinished.
    pub unsettled: i64,
    /// SHA-256 (hex) over one line per row, in byte order, each ending in a
    /// newline: `V <version> <checksum>` for a versioned row, `R <checksum>
    /// <name>` for a repeatable one; `None` for an empty table.
    pub sha256: Option<String>,
}

/// The digest of the history that is exactly at head for `set`: one settled
/// row per file with the file's checksum, and one per repeatable file with
/// its checksum. See [`at_head`].
pub fn head_digest(set: &MigrationSet) -> HistoryDigest {
    use std::fmt::Write;
    // One buffer and the lines' ranges in it, not a string per line: this
    // runs for every file of every no-op run.
    let mut text = String::with_capacity((set.files.len() + set.repeatables.len()) * 80);
    let mut ranges = Vec::with_capacity(set.files.len() + set.repeatables.len());
    for f in &set.files {
        let start = text.len();
        let _ = write!(text, "V {} {}", f.version, f.checksum);
        ranges.push(start..text.len());
    }
    for r in &set.repeatables {
        let start = text.len();
        let _ = write!(text, "R {} {}", r.checksum, r.name);
        ranges.push(start..text.len());
    }
    let mut lines: Vec<&str> = ranges.into_iter().map(|r| &text[r]).collect();
    digest_lines(&mut lines)
}

/// Sorted as bytes, as the server sorts them under `COLLATE "C"`.
fn digest_lines(lines: &mut [&str]) -> HistoryDigest {
    use sha2::{Digest, Sha256};
    lines.sort_unstable();
    let mut hasher = Sha256::new();
    for line in lines.iter() {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    HistoryDigest {
        rows: i64::try_from(lines.len()).unwrap_or(i64::MAX),
        unsettled: 0,
        sha256: (!lines.is_empty()).then(|| crate::migration::hex(&hasher.finalize())),
    }
}

/// Whether the database is at head for `set`, from the history's digest
/// alone: its rows are exactly one settled row per file with that file's
/// checksum, and one per repeatable file with its checksum. Such a history
/// reconciles to every version applied (or baselined), nothing pending,
/// missing, failed or from the future, and no repeatable to run again, so
/// [`run_plan`] is empty for it. Any other digest (a file edited, added or
/// removed, a failed row, an out-of-order history, a table written in
/// another encoding) says nothing: the rows are read and reconciled.
pub fn at_head(set: &MigrationSet, found: &HistoryDigest) -> bool {
    found.rows > 0 && found.unsettled == 0 && *found == head_digest(set)
}

/// Repeatable migrations to (re)apply: new, or changed since last applied.
pub fn repeatable_plan<'a>(files: &'a [RepeatableFile], rows: &[RepeatableRow]) -> Vec<&'a RepeatableFile> {
    files
        .iter()
        .filter(|f| !rows.iter().any(|r| r.name == f.name && r.checksum == f.checksum))
        .collect()
}

/// The problems of repeatable migrations for `verify`.
pub fn repeatable_problems(files: &[RepeatableFile], rows: &[RepeatableRow]) -> Vec<Problem> {
    repeatable_plan(files, rows)
        .into_iter()
        .map(|f| Problem::RepeatablePending {
            file: f.file_name.clone(),
        })
        .collect()
}

/// One step of `down`: an applied file and its down script.
#[derive(Debug, Clone, Copy)]
pub struct Reversal<'a> {
    pub file: &'a MigrationFile,
    pub down: &'a DownScript,
    pub effect: DownEffect,
}

/// What a down script does to the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownEffect {
    Reverts,
    /// Empty or only comments: the history row goes, the schema stays.
    Nothing,
}

/// Whether `down` accepts down scripts that do nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyDowns {
    /// An empty or comment-only down script is not a revert: refuse.
    Refuse,
    /// `--allow-empty`: delete their rows, saying that nothing was reverted.
    AllowAsNoOp,
}

/// Why `down` reverts nothing: versions it cannot revert, and down scripts
/// that would revert nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownRefusal {
    pub lacking: Vec<String>,
    pub empty: Vec<String>,
}

impl fmt::Display for DownRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot revert, nothing was changed")?;
        if !self.lacking.is_empty() {
            write!(f, ": {}", self.lacking.join(", "))?;
        }
        if !self.empty.is_empty() {
            write!(
                f,
                "; these down scripts are empty or only comments, so they would revert nothing: {} (pass \
                 --allow-empty to delete their history rows anyway, as no-op downs)",
                self.empty.join(", ")
            )?;
        }
        Ok(())
    }
}

/// `down --to V`: the files of the applied versions above V, newest first.
/// `Err` names every version that cannot be reverted (no file, no down
/// script, or one that does nothing unless `--allow-empty`), so that nothing
/// is reverted unless everything can be.
pub fn down_plan<'a>(
    files: &'a [MigrationFile],
    report: &Report,
    to: &Version,
    empty: EmptyDowns,
) -> Result<Vec<Reversal<'a>>, DownRefusal> {
    let mut plan = Vec::new();
    let mut refusal = DownRefusal::default();
    let applied = report.migrations.iter().filter(|e| {
        &e.version > to
            && matches!(
                e.state,
                State::Applied | State::Baseline | State::ChecksumMismatch | State::Missing | State::Future
            )
    });
    for e in applied.rev() {
        let file = match files.binary_search_by(|f| f.version.cmp(&e.version)) {
            Ok(i) => &files[i],
            Err(_) => {
                refusal
                    .lacking
                    .push(format!("version {} (its file is missing)", e.version));
                continue;
            }
        };
        let Some(down) = &file.down else {
            refusal
                .lacking
                .push(format!("{} (no .down.sql file or down section)", file.file_name));
            continue;
        };
        let effect = if has_code(&down.sql) {
            DownEffect::Reverts
        } else {
            DownEffect::Nothing
        };
        if effect == DownEffect::Nothing && empty == EmptyDowns::Refuse {
            refusal.empty.push(down.file_name.clone());
        }
        plan.push(Reversal { file, down, effect });
    }
    if refusal == DownRefusal::default() {
        Ok(plan)
    } else {
        Err(refusal)
    }
}

/// What a `down` to before the first migration left: every object of the
/// compared schemas (`live`), and the application tables elsewhere.
pub fn left_at_zero(live: &Snapshot, tables: &[String]) -> Vec<String> {
    let mut out = live.objects();
    let elsewhere = tables.iter().filter(|t| {
        t.split_once('.')
            .is_some_and(|(schema, _)| !live.schemas.contains_key(schema))
    });
    out.extend(elsewhere.map(|t| format!("table {t}")));
    out
}

/// Versions for a summary line: consecutive runs of whole numbers as ranges
/// (`1-1000`), and at most a few runs at each end. After 10,000 migrations
/// the full list was a 59 KB log line.
pub fn abbreviate(versions: &[Version]) -> String {
    const SHOWN: usize = 6;
    let mut runs: Vec<(&Version, &Version)> = Vec::new();
    for v in versions {
        match runs.last_mut() {
            Some((_, end)) if follows(end, v) => *end = v,
            _ => runs.push((v, v)),
        }
    }
    let text = |(a, b): &(&Version, &Version)| if a == b { a.to_string() } else { format!("{a}-{b}") };
    if runs.len() <= SHOWN {
        return runs.iter().map(text).collect::<Vec<_>>().join(", ");
    }
    let head: Vec<String> = runs[..SHOWN / 2].iter().map(text).collect();
    let tail: Vec<String> = runs[runs.len() - SHOWN / 2..].iter().map(text).collect();
    format!(
        "{}, ... ({} more), {}",
        head.join(", "),
        runs.len() - SHOWN,
        tail.join(", ")
    )
}

fn follows(end: &Version, next: &Version) -> bool {
    matches!((end.as_int(), next.as_int()), (Some(a), Some(b)) if a.checked_add(1) == Some(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::{build_set, checksum};

    fn files(names: &[&str]) -> Vec<MigrationFile> {
        build_set(names.iter().map(|n| (n.to_string(), format!("-- {n}"))).collect())
            .unwrap()
            .files
    }

    fn versions(files: Vec<&MigrationFile>) -> Vec<u64> {
        files.iter().map(|f| f.version.as_int().unwrap()).collect()
    }

    fn v(n: u64) -> Version {
        Version::from_int(n)
    }

    /// The history of every file applied as it is now.
    fn applied_as_they_are(files: &[MigrationFile]) -> Vec<HistoryRow> {
        files
            .iter()
            .map(|f| row(f.version.as_int().unwrap(), &f.sql, true))
            .collect()
    }

    fn row(version: u64, sql: &str, success: bool) -> HistoryRow {
        HistoryRow {
            version: v(version),
            name: format!("m{version}"),
            checksum: checksum(sql),
            kind: "sql".into(),
            applied_at: "2026-01-01T00:00:00Z".into(),
            execution_ms: 1,
            success,
            applied_by: "test".into(),
            finished: true,
            restore_point: None,
        }
    }

    /// What `history_digest.sql` computes over rows, modelled on the client.
    fn digest_of(history: &History) -> HistoryDigest {
        let versioned = history.rows.iter().map(|r| format!("V {} {}", r.version, r.checksum));
        let repeatable = history
            .repeatables
            .iter()
            .map(|r| format!("R {} {}", r.checksum, r.name));
        let unsettled = history.rows.iter().filter(|r| !r.success || !r.finished).count();
        let lines: Vec<String> = versioned.chain(repeatable).collect();
        let mut lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        HistoryDigest {
            unsettled: unsettled as i64,
            ..digest_lines(&mut lines)
        }
    }

    fn set_with_repeatable() -> MigrationSet {
        build_set(vec![
            ("1_a.sql".into(), "CREATE TABLE a ();".into()),
            ("2_b.sql".into(), "CREATE TABLE b ();".into()),
            ("10_c.sql".into(), "CREATE TABLE c ();".into()),
            ("R__views.sql".into(), "CREATE VIEW v AS SELECT 1;".into()),
        ])
        .unwrap()
    }

    fn at_head_history(set: &MigrationSet) -> History {
        History {
            rows: set
                .files
                .iter()
                .map(|f| row(f.version.as_int().unwrap(), &f.sql, true))
                .collect(),
            repeatables: set
                .repeatables
                .iter()
                .map(|r| RepeatableRow {
                    name: r.name.clone(),
                    checksum: r.checksum.clone(),
                    applied_at: "2026-01-01T00:00:00Z".into(),
                })
                .collect(),
            older_format: false,
        }
    }

    #[test]
    fn a_matching_digest_means_what_the_full_read_would_say_at_head() {
        let set = set_with_repeatable();
        let history = at_head_history(&set);
        assert!(at_head(&set, &digest_of(&history)));
        let plan = run_plan(&set, &history, &Target::Head, &Rules::default(), "h").unwrap();
        assert!(plan.is_empty());
        assert_eq!(plan.report.database_version, Some(v(10)));
        assert!(future_versions(&plan.report).is_empty());
        // Baselined rows are at head too.
        let mut baselined = history.clone();
        baselined.rows[0].kind = KIND_BASELINE.into();
        assert!(at_head(&set, &digest_of(&baselined)));
    }

    #[test]
    fn the_fresh_plan_is_run_plan_on_an_empty_history() {
        let set = set_with_repeatable();
        for target in [Target::Head, Target::Version(v(2)), Target::Version(v(0))] {
            let full = run_plan(&set, &History::default(), &target, &Rules::default(), "h").unwrap();
            assert_eq!(fresh_plan(&set, &target), (full.files, full.repeatables), "{target:?}");
        }
    }

    #[test]
    fn any_difference_from_head_changes_the_digest() {
        let set = set_with_repeatable();
        let history = at_head_history(&set);
        type Change = fn(&mut History);
        let changed: [(&str, Change); 9] = [
            ("edited file", |h| h.rows[1].checksum = checksum("edited")),
            ("missing row (pending)", |h| drop(h.rows.remove(2))),
            ("row without a file", |h| h.rows.push(row(11, "x", true))),
            ("row below head without a file", |h| h.rows.push(row(5, "x", true))),
            ("failed", |h| h.rows[0].success = false),
            ("unfinished", |h| h.rows[0].finished = false),
            ("repeatable changed", |h| h.repeatables[0].checksum = checksum("old")),
            ("repeatable not applied", |h| h.repeatables.clear()),
            ("repeatable renamed", |h| h.repeatables[0].name = "other".into()),
        ];
        for (what, change) in changed {
            let mut h = history.clone();
            change(&mut h);
            assert!(!at_head(&set, &digest_of(&h)), "{what}");
        }
        assert!(!at_head(&MigrationSet::default(), &digest_of(&History::default())));
    }

    #[test]
    fn fresh_database_plans_everything_in_order() {
        let f = files(&["2_b.sql", "1_a.sql", "10_c.sql"]);
        let report = reconcile(&f, &[]);
        assert_eq!(versions(plan(&f, &report, &Target::Head)), vec![1, 2, 10]);
        assert_eq!(report.database_version, None);
        assert_eq!(report.head_version, Some(v(10)));
        assert!(problems(
            &report,
            &Check::BeforeRun {
                out_of_order: OutOfOrder::Refuse
            },
            "h"
        )
        .is_empty());
        assert_eq!(problems(&report, &Check::AtHead, "h").len(), 3);
    }

    #[test]
    fn classifies_every_state() {
        let f = files(&["1_a.sql", "2_b.sql", "3_c.sql", "5_e.sql"]);
        let rows = vec![
            row(1, "-- 1_a.sql", true),
            row(2, "edited", true),
            row(3, "-- 3_c.sql", false),
            row(4, "gone", true),
        ];
        let report = reconcile(&f, &rows);
        let states: Vec<&str> = report.migrations.iter().map(|e| e.state.as_str()).collect();
        assert_eq!(
            states,
            vec!["applied", "checksum_mismatch", "failed", "missing", "pending"]
        );
        assert_eq!(report.database_version, Some(v(4)));
        let before = problems(
            &report,
            &Check::BeforeRun {
                out_of_order: OutOfOrder::Refuse,
            },
            "\"h\"",
        );
        assert_eq!(before.len(), 3, "{before:?}");
        let failed = before.iter().find(|p| matches!(p, Problem::Failed { .. })).unwrap();
        assert!(
            failed
                .to_string()
                .contains("DELETE FROM \"h\" WHERE migration_version = '3'"),
            "{failed}"
        );
    }

    #[test]
    fn out_of_order_is_refused_unless_allowed() {
        let f = files(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        let rows = vec![row(1, "-- 1_a.sql", true), row(3, "-- 3_c.sql", true)];
        let report = reconcile(&f, &rows);
        let refused = problems(
            &report,
            &Check::BeforeRun {
                out_of_order: OutOfOrder::Refuse,
            },
            "h",
        );
        assert!(
            matches!(refused.as_slice(), [Problem::OutOfOrder { version, highest_applied, .. }]
                if *version == v(2) && *highest_applied == v(3)),
            "{refused:?}"
        );
        assert!(problems(
            &report,
            &Check::BeforeRun {
                out_of_order: OutOfOrder::Allow
            },
            "h"
        )
        .is_empty());
        assert_eq!(versions(plan(&f, &report, &Target::Head)), vec![2]);
    }

    #[test]
    fn at_head_means_no_problem() {
        let f = files(&["1_a.sql"]);
        let report = reconcile(&f, &[row(1, "-- 1_a.sql", true)]);
        assert!(problems(&report, &Check::AtHead, "h").is_empty());
        assert!(versions(plan(&f, &report, &Target::Head)).is_empty());
    }

    #[test]
    fn baseline_rows_count_as_applied() {
        let f = files(&["1_a.sql", "2_b.sql"]);
        let mut r = row(1, "-- 1_a.sql", true);
        r.kind = KIND_BASELINE.into();
        let report = reconcile(&f, &[r]);
        assert_eq!(report.migrations[0].state, State::Baseline);
        assert_eq!(versions(plan(&f, &report, &Target::Head)), vec![2]);
        assert!(problems(&report, &Check::AtTarget(v(1)), "h").is_empty());
        assert_eq!(problems(&report, &Check::AtHead, "h").len(), 1);
    }

    #[test]
    fn target_limits_the_plan_and_down_goes_newest_first() {
        let f = files(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        let report = reconcile(&f, &[]);
        assert_eq!(versions(plan(&f, &report, &Target::Version(v(2)))), vec![1, 2]);
        let set = build_set(
            ["1_a", "2_b", "3_c"]
                .iter()
                .flat_map(|n| {
                    [
                        (format!("{n}.sql"), format!("-- {n}.sql")),
                        (format!("{n}.down.sql"), "SELECT 1;".into()),
                    ]
                })
                .collect(),
        )
        .unwrap();
        let rows = applied_as_they_are(&set.files);
        let applied = reconcile(&set.files, &rows);
        let steps = down_plan(&set.files, &applied, &v(1), EmptyDowns::Refuse).unwrap();
        assert_eq!(
            steps
                .iter()
                .map(|r| r.file.version.as_int().unwrap())
                .collect::<Vec<_>>(),
            vec![3, 2]
        );
        assert!(down_plan(&set.files, &applied, &v(3), EmptyDowns::Refuse)
            .unwrap()
            .is_empty());
        // Without down scripts (or files), nothing is planned and each is named.
        let lacking = down_plan(&f, &reconcile(&f, &rows[..2]), &v(0), EmptyDowns::Refuse)
            .unwrap_err()
            .lacking;
        assert_eq!(lacking.len(), 2, "{lacking:?}");
        assert!(lacking[0].contains("2_b.sql (no .down.sql"), "{lacking:?}");
        let gone = down_plan(&set.files[..1], &applied, &v(0), EmptyDowns::Refuse)
            .unwrap_err()
            .lacking;
        assert!(gone.iter().any(|l| l == "version 3 (its file is missing)"), "{gone:?}");
    }

    /// Issue 15: an empty or comment-only down script is not a revert.
    #[test]
    fn empty_down_scripts_are_refused_unless_allowed() {
        let set = build_set(vec![
            ("1_a.sql".into(), "CREATE TABLE a ();".into()),
            ("1_a.down.sql".into(), "DROP TABLE a;".into()),
            ("2_b.sql".into(), "CREATE TABLE b ();".into()),
            ("2_b.down.sql".into(), "".into()),
            (
                "3_c.sql".into(),
                "-- migrate:up\nCREATE TABLE c ();\n-- migrate:down\n-- intentionally no rollback\n".into(),
            ),
        ])
        .unwrap();
        let rows = applied_as_they_are(&set.files);
        let report = reconcile(&set.files, &rows);
        let refused = down_plan(&set.files, &report, &v(0), EmptyDowns::Refuse).unwrap_err();
        assert_eq!(refused.empty, ["3_c.sql", "2_b.down.sql"]);
        assert!(refused.lacking.is_empty());
        assert!(refused.to_string().contains("--allow-empty"), "{refused}");
        let steps = down_plan(&set.files, &report, &v(0), EmptyDowns::AllowAsNoOp).unwrap();
        let effects: Vec<DownEffect> = steps.iter().map(|s| s.effect).collect();
        assert_eq!(effects, [DownEffect::Nothing, DownEffect::Nothing, DownEffect::Reverts]);
    }

    /// Seed 000: a version that ran in this run but is not recorded is
    /// NotRecorded; one that was never attempted is merely pending.
    #[test]
    fn confirm_names_versions_rolled_back_behind_our_back() {
        let set = build_set(vec![
            ("1_a.sql".into(), "-- 1_a.sql".into()),
            ("2_b.sql".into(), "-- 2_b.sql".into()),
        ])
        .unwrap();
        let only_first = History {
            rows: vec![row(1, "-- 1_a.sql", true)],
            repeatables: vec![],
            older_format: false,
        };
        let problems = confirm(&set, &only_first, &Target::Head, &[v(1), v(2)], &Rules::default(), "h").unwrap_err();
        assert!(
            matches!(problems.as_slice(), [Problem::NotRecorded { version, .. }] if *version == v(2)),
            "{problems:?}"
        );
        let problems = confirm(&set, &only_first, &Target::Head, &[v(1)], &Rules::default(), "h").unwrap_err();
        assert!(
            matches!(problems.as_slice(), [Problem::Pending { version, .. }] if *version == v(2)),
            "{problems:?}"
        );
        let (report, done) = confirm(
            &set,
            &only_first,
            &Target::Version(v(1)),
            &[v(1)],
            &Rules::default(),
            "h",
        )
        .unwrap();
        assert_eq!((report.database_version, done), (Some(v(1)), vec![v(1)]));
    }

    #[test]
    fn summaries_abbreviate_runs_of_versions() {
        let list = |ns: &[u64]| ns.iter().map(|n| v(*n)).collect::<Vec<_>>();
        assert_eq!(abbreviate(&[]), "");
        assert_eq!(abbreviate(&list(&[4])), "4");
        assert_eq!(abbreviate(&list(&[1, 2, 3, 4, 7, 9, 10])), "1-4, 7, 9-10");
        let dotted: Vec<Version> = ["1", "1.1", "1.2", "2"].iter().map(|t| t.parse().unwrap()).collect();
        assert_eq!(abbreviate(&dotted), "1, 1.1, 1.2, 2");
        let many: Vec<Version> = (1..=10_000).map(v).collect();
        assert_eq!(abbreviate(&many), "1-10000");
        let odd: Vec<Version> = (1..=40).map(|n| v(n * 2)).collect();
        assert_eq!(abbreviate(&odd), "2, 4, 6, ... (34 more), 76, 78, 80");
    }

    #[test]
    fn status_does_not_count_baseline_rows_as_problems() {
        let f = files(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        let mut base = row(1, "-- 1_a.sql", true);
        base.kind = KIND_BASELINE.into();
        let report = reconcile(&f, &[base, row(2, "-- 2_b.sql", true)]);
        assert_eq!(report.needing_attention(), 1);
    }

    #[test]
    fn at_head_includes_changed_repeatables_but_a_target_does_not() {
        let set = build_set(vec![
            ("1_a.sql".into(), "-- 1_a.sql".into()),
            ("R__v.sql".into(), "SELECT 1;".into()),
        ])
        .unwrap();
        let history = History {
            rows: vec![row(1, "-- 1_a.sql", true)],
            repeatables: vec![],
            older_format: false,
        };
        let (_, at_head) = problems_at(&set, &history, &Target::Head, &Rules::default(), "h");
        assert!(
            matches!(at_head.as_slice(), [Problem::RepeatablePending { .. }]),
            "{at_head:?}"
        );
        assert!(
            problems_at(&set, &history, &Target::Version(v(1)), &Rules::default(), "h")
                .1
                .is_empty()
        );
        assert_eq!(Check::after(&Target::Version(v(1))), Check::AtTarget(v(1)));
    }

    #[test]
    fn repeatables_rerun_when_their_checksum_changes() {
        let set = build_set(vec![(
            "R__v.sql".to_string(),
            "CREATE OR REPLACE VIEW v AS SELECT 1;".to_string(),
        )])
        .unwrap();
        let files = &set.repeatables;
        assert_eq!(repeatable_plan(files, &[]).len(), 1);
        let same = RepeatableRow {
            name: "v".into(),
            checksum: files[0].checksum.clone(),
            applied_at: String::new(),
        };
        assert!(repeatable_plan(files, &[same]).is_empty());
        let old = RepeatableRow {
            name: "v".into(),
            checksum: "old".into(),
            applied_at: String::new(),
        };
        assert_eq!(repeatable_problems(files, &[old]).len(), 1);
    }
}
