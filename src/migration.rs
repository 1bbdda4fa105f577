//! Migration files: naming rules, directives and checksums. Parsing is pure
//! (names and contents in, files or problems out); `load_dir` is the only I/O.

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// A migration as it is on disk. Its counterpart in the database is
/// [`crate::history::HistoryRow`]; the two never share a type, so that code
/// cannot confuse "what we have" with "what was applied".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    pub version: i64,
    pub name: String,
    pub file_name: String,
    /// The text sent to the server: the file with CRLF normalised to LF.
    pub sql: String,
    pub checksum: String,
    pub transaction: TransactionMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionMode {
    /// The file and its history row commit together or not at all.
    PerMigration,
    /// `-- schemagate:no-transaction`: each statement runs on its own, as
    /// `CREATE INDEX CONCURRENTLY` requires.
    None,
}

/// Why a file in the migration directory cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    BadName { file: String, reason: String },
    DuplicateVersion { version: i64, files: Vec<String> },
    Unreadable { file: String, reason: String },
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileProblem::BadName { file, reason } => write!(
                f,
                "{file}: {reason} (expected <version>_<name>.sql, <version>__<name>.sql or V<version>__<name>.sql)"
            ),
            FileProblem::DuplicateVersion { version, files } => {
                write!(
                    f,
                    "version {version} is claimed by more than one file: {}",
                    files.join(", ")
                )
            }
            FileProblem::Unreadable { file, reason } => write!(f, "{file}: cannot be read: {reason}"),
        }
    }
}

/// What a file name says about the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameKind {
    Up {
        version: i64,
        name: String,
    },
    Down {
        version: i64,
    },
    /// Not a `.sql` file: ignored, so READMEs and `schema.json` can live beside migrations.
    Ignored,
}

/// Parses a file name. `Err` carries the reason for the operator.
pub fn parse_name(file_name: &str) -> Result<NameKind, String> {
    let Some(stem) = file_name.strip_suffix(".sql") else {
        return Ok(NameKind::Ignored);
    };
    let (stem, down) = if let Some(s) = stem.strip_suffix(".down") {
        (s, true)
    } else {
        (stem.strip_suffix(".up").unwrap_or(stem), false)
    };
    let body = stem.strip_prefix('V').unwrap_or(stem);
    let digits_end = body.find(|c: char| !c.is_ascii_digit()).unwrap_or(body.len());
    if digits_end == 0 {
        return Err("the name does not start with a version number".into());
    }
    let version: i64 = body[..digits_end]
        .parse()
        .map_err(|_| "the version number is too large".to_string())?;
    let rest = &body[digits_end..];
    let name = rest
        .strip_prefix("__")
        .or_else(|| rest.strip_prefix('_'))
        .ok_or_else(|| "the version must be followed by '_' or '__' and a name".to_string())?;
    if name.is_empty() {
        return Err("the name after the version is empty".into());
    }
    if down {
        return Ok(NameKind::Down { version });
    }
    Ok(NameKind::Up {
        version,
        name: name.to_string(),
    })
}

/// SHA-256 hex of the text with CRLF normalised to LF, so that a Windows
/// checkout (git `core.autocrlf`) does not look like an edited migration.
pub fn checksum(sql: &str) -> String {
    let digest = Sha256::digest(sql.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn normalize(raw: &str) -> String {
    raw.replace("\r\n", "\n")
}

const NO_TRANSACTION: &str = "schemagate:no-transaction";

/// Reads the directive from the leading comment block (the lines before the
/// first statement).
pub fn transaction_mode(sql: &str) -> TransactionMode {
    for line in sql.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(comment) = line.strip_prefix("--") else {
            break;
        };
        if comment.trim() == NO_TRANSACTION {
            return TransactionMode::None;
        }
    }
    TransactionMode::PerMigration
}

/// Builds the migration set from (file name, contents) pairs. Every problem
/// is collected, not just the first, so one run shows the operator all of them.
pub fn build_set(entries: Vec<(String, String)>) -> Result<Vec<MigrationFile>, Vec<FileProblem>> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for (file_name, raw) in entries {
        match parse_name(&file_name) {
            Ok(NameKind::Up { version, name }) => {
                let sql = normalize(&raw);
                files.push(MigrationFile {
                    version,
                    name,
                    checksum: checksum(&sql),
                    transaction: transaction_mode(&sql),
                    file_name,
                    sql,
                });
            }
            Ok(NameKind::Down { .. } | NameKind::Ignored) => {}
            Err(reason) => problems.push(FileProblem::BadName {
                file: file_name,
                reason,
            }),
        }
    }
    files.sort_by(|a, b| a.version.cmp(&b.version).then_with(|| a.file_name.cmp(&b.file_name)));
    for group in files.chunk_by(|a, b| a.version == b.version) {
        if group.len() > 1 {
            problems.push(FileProblem::DuplicateVersion {
                version: group[0].version,
                files: group.iter().map(|f| f.file_name.clone()).collect(),
            });
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(problems)
    }
}

/// Reads every entry of the (flat) migration directory. Subdirectories such as
/// `verify/` are skipped.
pub fn load_dir(dir: &Path) -> Result<Vec<MigrationFile>, crate::Error> {
    let invalid = |problems| crate::Error::InvalidMigrations {
        dir: dir.to_path_buf(),
        problems,
    };
    let read_dir = std::fs::read_dir(dir).map_err(|e| {
        crate::Error::config(
            "SCHEMAGATE_MIGRATIONS_DIR",
            format!("cannot read migration directory {}: {e}", dir.display()),
        )
    })?;
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for entry in read_dir {
        let entry = entry.map_err(|e| crate::Error::io(dir, &e))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if !file_name.ends_with(".sql") || entry.path().is_dir() {
            continue;
        }
        match std::fs::read_to_string(entry.path()) {
            Ok(text) => entries.push((file_name, text)),
            Err(e) => problems.push(FileProblem::Unreadable {
                file: file_name,
                reason: e.to_string(),
            }),
        }
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    build_set(entries).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(version: i64, name: &str) -> NameKind {
        NameKind::Up {
            version,
            name: name.into(),
        }
    }

    #[test]
    fn accepts_the_documented_layouts() {
        assert_eq!(parse_name("0001_init.sql"), Ok(up(1, "init")));
        assert_eq!(parse_name("0002__add_users.sql"), Ok(up(2, "add_users")));
        assert_eq!(parse_name("V3__flyway.sql"), Ok(up(3, "flyway")));
        assert_eq!(parse_name("20240101120000_ts.sql"), Ok(up(20240101120000, "ts")));
        assert_eq!(parse_name("0004_x.up.sql"), Ok(up(4, "x")));
        assert_eq!(parse_name("0004_x.down.sql"), Ok(NameKind::Down { version: 4 }));
        assert_eq!(parse_name("README.md"), Ok(NameKind::Ignored));
        assert_eq!(parse_name("schema.json"), Ok(NameKind::Ignored));
    }

    #[test]
    fn rejects_names_without_a_version_or_name() {
        assert!(parse_name("init.sql").is_err());
        assert!(parse_name("0001.sql").is_err());
        assert!(parse_name("0001-init.sql").is_err());
        assert!(parse_name("0001_.sql").is_err());
        assert!(parse_name("99999999999999999999_big.sql").is_err());
    }

    #[test]
    fn checksum_ignores_crlf() {
        assert_eq!(checksum(&normalize("a;\r\nb;\r\n")), checksum("a;\nb;\n"));
        assert_eq!(
            checksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn directive_only_counts_in_the_leading_comments() {
        assert_eq!(
            transaction_mode("-- add an index\n-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t(a);"),
            TransactionMode::None
        );
        assert_eq!(
            transaction_mode("SELECT 1;\n-- schemagate:no-transaction\n"),
            TransactionMode::PerMigration
        );
    }

    #[test]
    fn lists_every_bad_name_and_duplicate() {
        let entries = vec![
            ("0001_a.sql".to_string(), String::new()),
            ("1_b.sql".to_string(), String::new()),
            ("oops.sql".to_string(), String::new()),
            ("notes.txt".to_string(), String::new()),
        ];
        let problems = build_set(entries).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| p.to_string().contains("oops.sql")));
        let dup = problems
            .iter()
            .find(|p| matches!(p, FileProblem::DuplicateVersion { .. }))
            .unwrap();
        assert!(dup.to_string().contains("0001_a.sql, 1_b.sql"), "{dup}");
    }

    #[test]
    fn orders_numerically_not_lexically() {
        let entries = vec![
            ("10_c.sql".to_string(), String::new()),
            ("9_b.sql".to_string(), String::new()),
            ("0001_a.sql".to_string(), String::new()),
        ];
        let files = build_set(entries).unwrap();
        let versions: Vec<i64> = files.iter().map(|f| f.version).collect();
        assert_eq!(versions, vec![1, 9, 10]);
    }
}
