//! Adopting and operating real databases, as pure functions: which version an
//! existing schema already has, what `repair` changes, and which versions
//! another tool's history stands for.

use std::collections::BTreeMap;
use std::fmt;

use crate::migration::{MigrationFile, Version};
use crate::reconcile::{Report, State};
use crate::sqltext::blank_comments;

/// What a statement does to a table, as far as adoption cares.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TableEffect {
    Create(String),
    Drop(String),
    Rename { from: String, to: String },
}

/// Tables a file creates, as `schema.table` (unquoted names folded to lower
/// case, `public` when no schema is given). Temporary tables are left out:
/// they are gone when the session ends.
pub fn created_tables(sql: &str) -> Vec<String> {
    table_effects(sql)
        .into_iter()
        .filter_map(|e| match e {
            TableEffect::Create(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// `CREATE TABLE`, `DROP TABLE` and `ALTER TABLE … RENAME TO`, in file order,
/// comments ignored. Only tables are looked at: it is cheap and enough to
/// recognise a schema made before schemagate, or what a `down` left behind.
fn table_effects(sql: &str) -> Vec<TableEffect> {
    let tokens = tokens(&blank_comments(sql));
    let word = |i: usize, w: &str| tokens.get(i).is_some_and(|t| t.eq_ignore_ascii_case(w));
    let mut out = Vec::new();
    for i in 0..tokens.len() {
        if word(i, "create") {
            let mut j = i + 1;
            let mut temporary = false;
            while let Some(k) = ["global", "local", "temporary", "temp", "unlogged"]
                .iter()
                .find(|k| word(j, k))
            {
                temporary |= *k != "unlogged";
                j += 1;
            }
            if !word(j, "table") || temporary {
                continue;
            }
            j += 1;
            if word(j, "if") && word(j + 1, "not") && word(j + 2, "exists") {
                j += 3;
            }
            out.extend(name_at(&tokens, j).map(|(name, _)| TableEffect::Create(name)));
        } else if word(i, "drop") && word(i + 1, "table") {
            let mut j = i + 2;
            if word(j, "if") && word(j + 1, "exists") {
                j += 2;
            }
            while let Some((name, next)) = name_at(&tokens, j) {
                out.push(TableEffect::Drop(name));
                if tokens.get(next).map(String::as_str) != Some(",") {
                    break;
                }
                j = next + 1;
            }
        } else if word(i, "alter") && word(i + 1, "table") {
            out.extend(rename_at(&tokens, i + 2));
        }
    }
    out
}

/// `[IF EXISTS] [ONLY] name RENAME TO new`, after `ALTER TABLE`.
fn rename_at(tokens: &[String], mut j: usize) -> Option<TableEffect> {
    let word = |i: usize, w: &str| tokens.get(i).is_some_and(|t| t.eq_ignore_ascii_case(w));
    if word(j, "if") && word(j + 1, "exists") {
        j += 2;
    }
    if word(j, "only") {
        j += 1;
    }
    let (from, next) = name_at(tokens, j)?;
    if !(word(next, "rename") && word(next + 1, "to")) {
        return None;
    }
    let (to, _) = name_at(tokens, next + 2)?;
    // RENAME TO keeps the schema: the new name is never qualified.
    let schema = from.split_once('.').map_or("public", |(s, _)| s);
    let to = format!("{schema}.{}", to.split_once('.').map_or(to.as_str(), |(_, t)| t));
    Some(TableEffect::Rename { from, to })
}

/// A possibly qualified name starting at token `i`, and the index after it.
fn name_at(tokens: &[String], i: usize) -> Option<(String, usize)> {
    let ident = |i: usize| tokens.get(i).filter(|t| is_ident(t));
    let first = ident(i)?;
    if tokens.get(i + 1).map(String::as_str) == Some(".") {
        if let Some(second) = ident(i + 2) {
            return Some((format!("{}.{}", fold(first), fold(second)), i + 3));
        }
    }
    Some((format!("public.{}", fold(first)), i + 1))
}

fn is_ident(t: &str) -> bool {
    t.starts_with('"') || t.starts_with(|c: char| c.is_alphabetic() || c == '_')
}

/// Unquoted names fold to lower case; quoted ones are taken as they are.
fn fold(part: &str) -> String {
    if part.starts_with('"') {
        part.trim_matches('"').replace("\"\"", "\"")
    } else {
        part.to_ascii_lowercase()
    }
}

/// Words (identifiers, keywords, numbers), quoted identifiers, and every
/// other character on its own.
fn tokens(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = sql.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let mut end = start + c.len_utf8();
        if c.is_whitespace() {
            continue;
        } else if c == '"' || c == '\'' {
            // A quoted identifier is one token; a string literal too, so that
            // the words inside it are not read as SQL.
            while let Some((i, d)) = chars.next() {
                end = i + d.len_utf8();
                if d == c && chars.next_if(|(_, n)| *n == c).is_none() {
                    break;
                }
            }
        } else if c.is_alphanumeric() || c == '_' {
            while let Some((i, d)) = chars.next_if(|(_, d)| d.is_alphanumeric() || *d == '_') {
                end = i + d.len_utf8();
            }
        }
        out.push(sql[start..end].to_string());
    }
    out
}

/// A table the migrations create, with the file that creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedTable {
    pub table: String,
    pub file: String,
}

impl fmt::Display for ExpectedTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.table, self.file)
    }
}

/// What `run` advises on an empty history over existing tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advice {
    /// Every table that the files up to `version` leave exists: `baseline
    /// --version` this. `later` are tables of later files that exist too,
    /// which `run` would then meet (42P07, or worse, an `IF NOT EXISTS` that
    /// skips a table of another shape).
    Baseline {
        version: Version,
        later: Vec<ExpectedTable>,
    },
    /// No version qualifies: the tables that the files leave at head, as
    /// present and missing.
    NoVersion {
        present: Vec<ExpectedTable>,
        missing: Vec<ExpectedTable>,
    },
}

/// The tables that files leave, replayed in order: each with the file that
/// created it, and how many of them do not exist.
#[derive(Debug, Default)]
struct Expected {
    tables: BTreeMap<String, String>,
    missing: usize,
}

impl Expected {
    fn apply(&mut self, file: &MigrationFile, existing: &[String]) {
        let exists = |t: &String| existing.contains(t);
        for effect in table_effects(&file.sql) {
            let (gone, new) = match effect {
                TableEffect::Create(t) => (None, Some((t, file.file_name.clone()))),
                TableEffect::Drop(t) => (Some(t), None),
                TableEffect::Rename { from, to } => {
                    let created_by = self.tables.get(&from).cloned();
                    (Some(from), created_by.map(|f| (to, f)))
                }
            };
            if let Some(t) = gone {
                if self.tables.remove(&t).is_some() && !exists(&t) {
                    self.missing -= 1;
                }
            }
            if let Some((t, f)) = new {
                let absent = !exists(&t);
                if self.tables.insert(t, f).is_none() && absent {
                    self.missing += 1;
                }
            }
        }
    }

    fn after(files: &[MigrationFile], existing: &[String]) -> Expected {
        let mut e = Expected::default();
        files.iter().for_each(|f| e.apply(f, existing));
        e
    }

    fn listed(&self, existing: &[String], present: bool) -> Vec<ExpectedTable> {
        self.tables
            .iter()
            .filter(|(t, _)| existing.contains(t) == present)
            .map(|(t, f)| ExpectedTable {
                table: t.clone(),
                file: f.clone(),
            })
            .collect()
    }
}

/// Which version `baseline --version` should be given, if any. A version
/// qualifies only when its file creates a table and every table that the
/// files up to it leave exists: one table of version 43 says nothing about
/// versions 1-42, whose tables a down script may have dropped.
pub fn advice(files: &[MigrationFile], existing: &[String]) -> Advice {
    let mut replay = Expected::default();
    let mut qualifying = None;
    for (i, f) in files.iter().enumerate() {
        replay.apply(f, existing);
        if replay.missing == 0 && !created_tables(&f.sql).is_empty() {
            qualifying = Some(i);
        }
    }
    let Some(i) = qualifying else {
        return Advice::NoVersion {
            present: replay.listed(existing, true),
            missing: replay.listed(existing, false),
        };
    };
    Advice::Baseline {
        version: files[i].version.clone(),
        later: left_behind(files, &files[i].version, existing),
    }
}

/// After `down --to` `to`: tables that a later file creates, that the files
/// up to `to` do not leave, and that exist still.
pub fn left_behind(files: &[MigrationFile], to: &Version, existing: &[String]) -> Vec<ExpectedTable> {
    let kept = files.partition_point(|f| &f.version <= to);
    let expected = Expected::after(&files[..kept], existing);
    let mut left = Expected::default();
    for f in &files[kept..] {
        for t in created_tables(&f.sql) {
            if !expected.tables.contains_key(&t) && existing.contains(&t) {
                left.tables.entry(t).or_insert_with(|| f.file_name.clone());
            }
        }
    }
    left.listed(existing, true)
}

/// One change `repair` makes to the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepairAction {
    UpdateChecksum {
        version: Version,
        file: String,
        from: String,
        to: String,
    },
    DeleteFailed {
        version: Version,
        name: String,
    },
    /// A no-transaction migration that started and never finished.
    DeleteIncomplete {
        version: Version,
        name: String,
    },
    ForgetMissing {
        version: Version,
        name: String,
    },
}

impl RepairAction {
    pub fn version(&self) -> &Version {
        match self {
            RepairAction::UpdateChecksum { version, .. }
            | RepairAction::DeleteFailed { version, .. }
            | RepairAction::DeleteIncomplete { version, .. }
            | RepairAction::ForgetMissing { version, .. } => version,
        }
    }
}

impl fmt::Display for RepairAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RepairAction::UpdateChecksum {
                version,
                file,
                from,
                to,
            } => {
                write!(f, "version {version} ({file}): checksum {from} -> {to}")
            }
            RepairAction::DeleteFailed { version, name } => {
                write!(f, "version {version} ({name}): delete the failed (success=false) row")
            }
            RepairAction::DeleteIncomplete { version, name } => write!(
                f,
                "version {version} ({name}): delete the row of a no-transaction migration that never finished"
            ),
            RepairAction::ForgetMissing { version, name } => {
                write!(
                    f,
                    "version {version} ({name}): delete the row of a file that no longer exists"
                )
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingRows {
    Keep,
    Forget,
}

pub fn repair_plan(report: &Report, missing: MissingRows) -> Vec<RepairAction> {
    report
        .migrations
        .iter()
        .filter_map(|e| match e.state {
            State::ChecksumMismatch => Some(RepairAction::UpdateChecksum {
                version: e.version.clone(),
                file: e.file_name.clone().unwrap_or_default(),
                from: e.recorded_checksum.clone().unwrap_or_default(),
                to: e.checksum.clone(),
            }),
            State::Failed => Some(RepairAction::DeleteFailed {
                version: e.version.clone(),
                name: e.name.clone(),
            }),
            State::Incomplete => Some(RepairAction::DeleteIncomplete {
                version: e.version.clone(),
                name: e.name.clone(),
            }),
            State::Missing if missing == MissingRows::Forget => Some(RepairAction::ForgetMissing {
                version: e.version.clone(),
                name: e.name.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// Another tool whose history can be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Alembic,
    Flyway,
    GolangMigrate,
    Dbmate,
    Sqlx,
}

impl Tool {
    pub fn table(self) -> &'static str {
        match self {
            Tool::Alembic => "alembic_version",
            Tool::Flyway => "flyway_schema_history",
            Tool::GolangMigrate | Tool::Dbmate => "schema_migrations",
            Tool::Sqlx => "_sqlx_migrations",
        }
    }
}

/// A row of the other tool's history: its id for the migration, and whether
/// it succeeded (golang-migrate's `dirty` is the opposite of success).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignRow {
    pub id: String,
    pub success: bool,
}

/// `--mapping FILE`: one `their-id = our-version` per line, `#` comments.
pub fn parse_mapping(text: &str) -> Result<BTreeMap<String, Version>, String> {
    let mut map = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (id, version) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected `id = version`", n + 1))?;
        let version = version.trim().parse().map_err(|e| format!("line {}: {e}", n + 1))?;
        map.insert(id.trim().to_string(), version);
    }
    Ok(map)
}

/// Another tool's id as our version: through the mapping, or read as a
/// version as it is (Flyway's `1.1` is version 1.1 here too).
fn to_version(id: &str, mapping: &BTreeMap<String, Version>) -> Result<Version, String> {
    if let Some(v) = mapping.get(id) {
        return Ok(v.clone());
    }
    id.parse().map_err(|_| {
        format!("'{id}' is not a schemagate version number; map it in the --mapping file (`{id} = <version>`)")
    })
}

/// The schemagate versions the other tool's history stands for, to record
/// as baseline. `Err` says why the import is refused.
pub fn import_plan(
    tool: Tool,
    rows: &[ForeignRow],
    mapping: &BTreeMap<String, Version>,
    files: &[MigrationFile],
) -> Result<Vec<Version>, String> {
    if let Some(bad) = rows.iter().find(|r| !r.success) {
        return Err(match tool {
            Tool::GolangMigrate => format!(
                "golang-migrate marks version {} as dirty: its last migration failed part-way, so the schema is in an \
                 unknown state. Fix the database by hand, run `migrate force <version>` for the version the schema \
                 really is at, then import again",
                bad.id
            ),
            _ => format!(
                "{} records version {} as failed; repair it with that tool first",
                tool.table(),
                bad.id
            ),
        });
    }
    let versions: Vec<Version> = match tool {
        Tool::Alembic | Tool::GolangMigrate => {
            let current = single_head(tool, rows)?;
            let v = to_version(current, mapping)?;
            files.iter().map(|f| f.version.clone()).filter(|f| *f <= v).collect()
        }
        Tool::Flyway | Tool::Dbmate | Tool::Sqlx => rows
            .iter()
            .map(|r| to_version(&r.id, mapping))
            .collect::<Result<_, _>>()?,
    };
    let unknown: Vec<String> = versions
        .iter()
        .filter(|v| !files.iter().any(|f| f.version == **v))
        .map(Version::to_string)
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "version(s) {} are in {} but have no migration file",
            unknown.join(", "),
            tool.table()
        ));
    }
    if versions.is_empty() {
        return Err(format!(
            "{} names no version that matches a migration file",
            tool.table()
        ));
    }
    Ok(versions)
}

fn single_head(tool: Tool, rows: &[ForeignRow]) -> Result<&str, String> {
    match rows {
        [one] => Ok(&one.id),
        [] => Err(format!("{} is empty: nothing to import", tool.table())),
        many => {
            let ids: Vec<&str> = many.iter().map(|r| r.id.as_str()).collect();
            Err(format!(
                "{} has multiple heads ({}); merge them (alembic merge) so there is one current revision, then import again",
                tool.table(),
                ids.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::build_set;

    fn files() -> Vec<MigrationFile> {
        build_set(vec![
            ("0001_users.sql".into(), "CREATE TABLE users (id int);".into()),
            (
                "0002_orders.sql".into(),
                "CREATE TABLE IF NOT EXISTS app.\"Orders\"(id int);".into(),
            ),
            ("0003_idx.sql".into(), "CREATE INDEX i ON users (id);".into()),
        ])
        .unwrap()
        .files
    }

    fn v(n: u64) -> Version {
        Version::from_int(n)
    }

    fn row(id: &str) -> ForeignRow {
        ForeignRow {
            id: id.into(),
            success: true,
        }
    }

    #[test]
    fn finds_created_tables() {
        assert_eq!(
            created_tables("create unlogged table Foo (a int); CREATE TABLE IF NOT EXISTS s.\"Bar\"(x int)"),
            vec!["public.foo", "s.Bar"]
        );
        assert!(created_tables("CREATE INDEX i ON t (a)").is_empty());
        assert!(created_tables("CREATE TEMP TABLE scratch (a int); CREATE GLOBAL TEMPORARY TABLE g ()").is_empty());
        assert_eq!(created_tables("CREATE TABLE temp (a int)"), vec!["public.temp"]);
        assert!(created_tables("-- CREATE TABLE old (a int)\nCOMMENT ON TABLE x IS 'create table y';").is_empty());
    }

    #[test]
    fn drops_and_renames_change_what_is_expected() {
        assert_eq!(
            table_effects("DROP TABLE IF EXISTS a, s.b CASCADE; ALTER TABLE IF EXISTS ONLY s.c RENAME TO d;"),
            vec![
                TableEffect::Drop("public.a".into()),
                TableEffect::Drop("s.b".into()),
                TableEffect::Rename {
                    from: "s.c".into(),
                    to: "s.d".into()
                },
            ]
        );
        assert!(table_effects("ALTER TABLE t RENAME COLUMN a TO b").is_empty());
    }

    fn tables(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| format!("public.{n}")).collect()
    }

    fn five() -> Vec<MigrationFile> {
        build_set(
            (1..=5)
                .map(|n| (format!("000{n}_t{n}.sql"), format!("CREATE TABLE t{n} (id int);")))
                .collect(),
        )
        .unwrap()
        .files
    }

    #[test]
    fn advice_is_the_highest_fully_present_version() {
        let f = files();
        let advised = |existing: &[String]| match advice(&f, existing) {
            Advice::Baseline { version, later } if later.is_empty() => Some(version),
            other => panic!("{other:?}"),
        };
        assert_eq!(advised(&["public.users".into()]), Some(v(1)));
        assert_eq!(advised(&["public.users".into(), "app.Orders".into()]), Some(v(2)));
    }

    /// Issue 15: the tables of 1-2 and 5 exist, those of 3-4 do not. Version 5
    /// is not adoptable (its predecessors' tables are missing); 2 is, and the
    /// table of 5 is named as one `run` would meet.
    #[test]
    fn a_gap_stops_the_advice_before_it() {
        let advised = advice(&five(), &tables(&["t1", "t2", "t5"]));
        let Advice::Baseline { version, later } = advised else {
            panic!("{advised:?}")
        };
        assert_eq!(version, v(2));
        assert_eq!(
            later.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["public.t5 (0005_t5.sql)"]
        );
    }

    #[test]
    fn no_version_qualifies_when_the_first_tables_are_missing() {
        let advised = advice(&five(), &tables(&["t3", "t5", "unrelated"]));
        let Advice::NoVersion { present, missing } = advised else {
            panic!("{advised:?}")
        };
        let names = |l: &[ExpectedTable]| l.iter().map(|t| t.table.clone()).collect::<Vec<_>>();
        assert_eq!(names(&present), tables(&["t3", "t5"]));
        assert_eq!(names(&missing), tables(&["t1", "t2", "t4"]));
        assert_eq!(missing[0].file, "0001_t1.sql");
    }

    #[test]
    fn a_table_dropped_later_is_not_expected_after_the_drop() {
        let f = build_set(vec![
            ("0001_a.sql".into(), "CREATE TABLE a (); CREATE TABLE tmp ();".into()),
            ("0002_b.sql".into(), "DROP TABLE tmp; CREATE TABLE b ();".into()),
            (
                "0003_c.sql".into(),
                "ALTER TABLE b RENAME TO c; CREATE TABLE d ();".into(),
            ),
        ])
        .unwrap()
        .files;
        let advised = advice(&f, &tables(&["a", "c", "d"]));
        assert!(
            matches!(&advised, Advice::Baseline { version, .. } if *version == v(3)),
            "{advised:?}"
        );
        let advised = advice(&f, &tables(&["a", "b"]));
        assert!(
            matches!(&advised, Advice::Baseline { version, .. } if *version == v(2)),
            "{advised:?}"
        );
    }

    #[test]
    fn tables_left_behind_by_a_down() {
        let left = left_behind(&five(), &v(2), &tables(&["t1", "t2", "t4", "other"]));
        assert_eq!(
            left.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["public.t4 (0004_t4.sql)"]
        );
        assert!(left_behind(&five(), &v(5), &tables(&["t4"])).is_empty());
    }

    #[test]
    fn mapping_files() {
        let m = parse_mapping("# alembic\nae1027a6acf = 1\n  27c6a30d7c24=2 # second\n").unwrap();
        assert_eq!(m.get("27c6a30d7c24"), Some(&v(2)));
        assert!(parse_mapping("x = y").unwrap_err().contains("line 1"));
    }

    #[test]
    fn import_plans_per_tool() {
        let f = files();
        let none = BTreeMap::new();
        assert_eq!(
            import_plan(Tool::GolangMigrate, &[row("2")], &none, &f),
            Ok(vec![v(1), v(2)])
        );
        assert_eq!(
            import_plan(Tool::Sqlx, &[row("1"), row("3")], &none, &f),
            Ok(vec![v(1), v(3)])
        );
        let dirty = import_plan(
            Tool::GolangMigrate,
            &[ForeignRow {
                id: "2".into(),
                success: false,
            }],
            &none,
            &f,
        );
        assert!(dirty.unwrap_err().contains("dirty"));
        let heads = import_plan(Tool::Alembic, &[row("abc"), row("def")], &none, &f).unwrap_err();
        assert!(heads.contains("multiple heads (abc, def)"), "{heads}");
        assert!(import_plan(Tool::Alembic, &[row("abc")], &none, &f)
            .unwrap_err()
            .contains("--mapping"));
        let mapping = parse_mapping("abc = 2").unwrap();
        assert_eq!(
            import_plan(Tool::Alembic, &[row("abc")], &mapping, &f),
            Ok(vec![v(1), v(2)])
        );
        assert!(import_plan(Tool::Flyway, &[row("7")], &none, &f)
            .unwrap_err()
            .contains("no migration file"));
        assert!(import_plan(Tool::Flyway, &[row("1.1")], &none, &f)
            .unwrap_err()
            .contains("1.1"));
    }
}
