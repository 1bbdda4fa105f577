//! Adopting and operating real databases, as pure functions: which version an
//! existing schema already has, what `repair` changes, and which versions
//! another tool's history stands for.

use std::collections::BTreeMap;
use std::fmt;

use crate::migration::{MigrationFile, Version};
use crate::reconcile::{Report, State};

/// Tables a file creates, as `schema.table` (unquoted names folded to lower
/// case, `public` when no schema is given). Only `CREATE TABLE` is looked at:
/// it is cheap and enough to recognise a schema made before schemagate.
pub fn created_tables(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let words: Vec<&str> = sql.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if !w.eq_ignore_ascii_case("create") {
            continue;
        }
        let mut j = i + 1;
        while j < words.len()
            && ["unlogged", "temporary", "temp"]
                .iter()
                .any(|k| words[j].eq_ignore_ascii_case(k))
        {
            j += 1;
        }
        if !words.get(j).is_some_and(|t| t.eq_ignore_ascii_case("table")) {
            continue;
        }
        j += 1;
        if words.get(j).is_some_and(|t| t.eq_ignore_ascii_case("if")) {
            j += 3; // IF NOT EXISTS
        }
        if let Some(name) = words
            .get(j)
            .map(|n| n.split('(').next().unwrap_or(n))
            .filter(|n| !n.is_empty())
        {
            out.push(qualify(name));
        }
    }
    out
}

fn qualify(name: &str) -> String {
    let fold = |part: &str| {
        if part.starts_with('"') {
            part.trim_matches('"').replace("\"\"", "\"")
        } else {
            part.to_ascii_lowercase()
        }
    };
    match name.split_once('.') {
        Some((schema, table)) => format!("{}.{}", fold(schema), fold(table)),
        None => format!("public.{}", fold(name)),
    }
}

/// The highest version whose created tables all exist already: what
/// `baseline --version` should be given.
pub fn adoptable_version(files: &[MigrationFile], existing: &[String]) -> Option<Version> {
    files
        .iter()
        .filter(|f| {
            let tables = created_tables(&f.sql);
            !tables.is_empty() && tables.iter().all(|t| existing.contains(t))
        })
        .map(|f| f.version.clone())
        .max()
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
    }

    #[test]
    fn adoptable_version_is_the_highest_fully_present_one() {
        let f = files();
        assert_eq!(adoptable_version(&f, &["public.users".into()]), Some(v(1)));
        assert_eq!(
            adoptable_version(&f, &["public.users".into(), "app.Orders".into()]),
            Some(v(2))
        );
        assert_eq!(adoptable_version(&f, &["public.other".into()]), None);
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
