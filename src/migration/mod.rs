//! Migration files: naming rules, directives and checksums. Pure: names and
//! contents in, files or problems out (`crate::files` reads the directory).

pub mod directives;
pub mod layout;
pub mod version;

pub use version::Version;

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};

/// A migration as it is on disk. Its counterpart in the database is
/// [`crate::reconcile::HistoryRow`]; the two never share a type, so that code
/// cannot confuse "what we have" with "what was applied".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    pub version: Version,
    pub name: String,
    pub file_name: String,
    /// The text sent to the server: the file with CRLF normalised to LF.
    pub sql: String,
    pub checksum: String,
    pub transaction: TransactionMode,
    /// `-- schemagate:lock-timeout`: this file's own DDL lock timeout.
    pub lock_timeout: Option<std::time::Duration>,
    /// How to undo it, for `down`: a `.down.sql` file or a down section.
    /// Boxed: most files have none, and a set of 10,000 files is held in memory.
    pub down: Option<Box<DownScript>>,
    /// `-- schemagate:allow-lock <reason>`: the lock policy lets it through.
    pub allow_lock: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownScript {
    pub file_name: String,
    pub sql: String,
    pub transaction: TransactionMode,
}

/// Flyway's `R__<name>.sql`: applied after the versioned files whenever its
/// checksum changes (views, functions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatableFile {
    pub name: String,
    pub file_name: String,
    pub sql: String,
    pub checksum: String,
    pub transaction: TransactionMode,
    pub allow_lock: Option<String>,
}

/// Everything in the migration directory, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationSet {
    /// Ascending by version.
    pub files: Vec<MigrationFile>,
    /// Ascending by name.
    pub repeatables: Vec<RepeatableFile>,
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
    BadContent { file: String, reason: String },
    DuplicateVersion { version: Version, files: Vec<String> },
    DuplicateDown { version: Version, files: Vec<String> },
    OrphanDown { file: String },
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
            FileProblem::BadContent { file, reason } => write!(f, "{file}: {reason}"),
            FileProblem::DuplicateDown { version, files } => write!(
                f,
                "version {version} has more than one down migration: {} (keep one layout per version)",
                files.join(", ")
            ),
            FileProblem::OrphanDown { file } => write!(f, "{file}: a down migration without a matching up migration"),
        }
    }
}

/// What a file name says about the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameKind {
    Up {
        version: Version,
        name: String,
    },
    Down {
        version: Version,
    },
    Repeatable {
        name: String,
    },
    /// Not a `.sql` file: ignored, so READMEs and `schema.json` can live beside migrations.
    Ignored,
}

/// Parses a file name. `Err` carries the reason for the operator.
pub fn parse_name(file_name: &str) -> Result<NameKind, String> {
    let Some(stem) = file_name.strip_suffix(".sql") else {
        return Ok(NameKind::Ignored);
    };
    if let Some(name) = stem.strip_prefix("R__") {
        if name.is_empty() {
            return Err("the repeatable migration has no name after R__".into());
        }
        return Ok(NameKind::Repeatable { name: name.to_string() });
    }
    let (stem, down) = if let Some(s) = stem.strip_suffix(".down") {
        (s, true)
    } else {
        (stem.strip_suffix(".up").unwrap_or(stem), false)
    };
    let (version, name) = split_version(stem)?;
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

/// The version and the name of a stem. Flyway's `V<version>__<name>`, where
/// `_` inside the version stands for a dot (`V2_1__x` is version 2.1, as
/// Flyway reads it); otherwise a version of digits and dots, then `_` or
/// `__`, then the name (`0001_x`, `1.1__x`, `V3_x`).
fn split_version(stem: &str) -> Result<(Version, &str), String> {
    let flyway = stem
        .strip_prefix('V')
        .and_then(|body| body.split_once("__"))
        .filter(|(v, _)| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'_'));
    if let Some((version, name)) = flyway {
        return Ok((Version::parse_with(version, &['.', '_'])?, name));
    }
    let body = stem.strip_prefix('V').unwrap_or(stem);
    let end = body
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(body.len());
    if end == 0 {
        return Err("the name does not start with a version number".into());
    }
    let version = Version::parse_with(&body[..end], &['.'])?;
    let rest = &body[end..];
    let name = rest
        .strip_prefix("__")
        .or_else(|| rest.strip_prefix('_'))
        .ok_or_else(|| "the version must be followed by '_' or '__' and a name".to_string())?;
    Ok((version, name))
}

/// SHA-256 hex of the text with CRLF normalised to LF, so that a Windows
/// checkout (git `core.autocrlf`) does not look like an edited migration.
pub fn checksum(sql: &str) -> String {
    hex(&Sha256::digest(sql.as_bytes()))
}

/// Lowercase hex, without a `format!` per byte (every file of every run is
/// hashed).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// CRLF to LF, in place: a 50 MB migration must not be copied to be
/// normalised (loading one used to take four times its size).
pub fn normalize(text: String) -> String {
    if !text.contains("\r\n") {
        return text;
    }
    let mut bytes = text.into_bytes();
    let mut kept = 0;
    for i in 0..bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            continue;
        }
        bytes[kept] = bytes[i];
        kept += 1;
    }
    bytes.truncate(kept);
    String::from_utf8(bytes).expect("removing ASCII CRs keeps UTF-8 valid")
}

/// Windows editors start files with a UTF-8 byte order mark, which the
/// server would read as part of the first statement. It is taken off before
/// directives are read and before the SQL is sent, in place; the checksum is
/// of the file as it is, so taking it off changes no recorded checksum.
pub fn strip_bom(mut text: String) -> String {
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    text
}

/// `-- schemagate:lock-timeout <duration>` in the leading comments: how long
/// this file's statements may wait for a table lock before the attempt is
/// rolled back and retried (`0`: wait as long as it takes, for files that
/// must). `None` when the file does not say.
pub fn lock_timeout_directive(sql: &str) -> Result<Option<std::time::Duration>, String> {
    for line in leading_comments(sql) {
        if let Some(value) = line.strip_prefix(LOCK_TIMEOUT) {
            return crate::config::duration::parse_duration(value)
                .map(Some)
                .map_err(|e| format!("-- {LOCK_TIMEOUT}: {e}"));
        }
    }
    Ok(None)
}

const LOCK_TIMEOUT: &str = "schemagate:lock-timeout";

const NO_TRANSACTION: &str = "schemagate:no-transaction";
const ALLOW_LOCK: &str = "schemagate:allow-lock";

/// The leading comment block (the lines before the first statement), each
/// comment without its `--`, trimmed: where directives are read.
fn leading_comments(sql: &str) -> impl Iterator<Item = &str> {
    sql.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map_while(|line| line.strip_prefix("--"))
        .map(str::trim)
}

/// Reads the directive from the leading comment block: ours, or a peer's
/// (see `directives`).
pub fn transaction_mode(sql: &str) -> TransactionMode {
    if directives::peer_no_transaction(sql) || leading_comments(sql).any(|c| c == NO_TRANSACTION) {
        TransactionMode::None
    } else {
        TransactionMode::PerMigration
    }
}

/// `-- schemagate:allow-lock <reason>` in the leading comment block: the
/// lock policy lets the file through and logs the reason. The reason is
/// required, so that the exception explains itself in the deploy log.
pub fn allow_lock(sql: &str) -> Result<Option<String>, String> {
    let Some(rest) = leading_comments(sql).find_map(|c| c.strip_prefix(ALLOW_LOCK)) else {
        return Ok(None);
    };
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return Err(format!("unknown directive `-- {ALLOW_LOCK}{rest}`"));
    }
    match rest.trim() {
        "" => Err(format!(
            "`-- {ALLOW_LOCK}` needs a reason, which is logged when the file is let through"
        )),
        reason => Ok(Some(reason.to_string())),
    }
}

/// Builds the migration set from (file name, contents) pairs. Every problem
/// is collected, not just the first, so one run shows the operator all of them.
pub fn build_set(entries: Vec<(String, String)>) -> Result<MigrationSet, Vec<FileProblem>> {
    let mut problems = Vec::new();
    let mut set = MigrationSet::default();
    let mut down_files: BTreeMap<Version, Vec<DownScript>> = BTreeMap::new();
    let (configs, entries): (Vec<_>, Vec<_>) = entries.into_iter().partition(|(n, _)| n.ends_with(".sql.conf"));
    // Sized once: growing a vector of 10,000 files doubles it in place, and the
    // old and new buffers together were a third of a no-op run's peak heap.
    set.files.reserve_exact(entries.len());
    for (file_name, raw) in entries {
        let text = normalize(raw);
        let bad_content = |reason: String| FileProblem::BadContent {
            file: file_name.clone(),
            reason,
        };
        match parse_name(&file_name) {
            Ok(NameKind::Up { version, name }) => match up_file(version, name, &file_name, text) {
                Ok(f) => set.files.push(f),
                Err(reason) => problems.push(bad_content(reason)),
            },
            Ok(NameKind::Down { version }) => {
                let text = strip_bom(text);
                let transaction = transaction_mode(&text);
                down_files.entry(version).or_default().push(DownScript {
                    file_name,
                    sql: text,
                    transaction,
                });
            }
            Ok(NameKind::Repeatable { name }) => {
                let checksum = checksum(&text);
                let text = strip_bom(text);
                match allow_lock(&text) {
                    Ok(allow_lock) => set.repeatables.push(RepeatableFile {
                        name,
                        checksum,
                        transaction: transaction_mode(&text),
                        allow_lock,
                        file_name,
                        sql: text,
                    }),
                    Err(reason) => problems.push(bad_content(reason)),
                }
            }
            Ok(NameKind::Ignored) => {}
            Err(reason) => problems.push(FileProblem::BadName {
                file: file_name,
                reason,
            }),
        }
    }
    // Unstable (no scratch buffer the size of the set): no two files have the
    // same name, so the order is the same.
    set.files
        .sort_unstable_by(|a, b| a.version.cmp(&b.version).then_with(|| a.file_name.cmp(&b.file_name)));
    set.repeatables.sort_by(|a, b| a.name.cmp(&b.name));
    problems.extend(duplicates(&set.files));
    problems.extend(attach_downs(&mut set.files, down_files));
    problems.extend(directives::apply_script_configs(&mut set, configs));
    if problems.is_empty() {
        Ok(set)
    } else {
        Err(problems)
    }
}

fn up_file(version: Version, name: String, file_name: &str, text: String) -> Result<MigrationFile, String> {
    let checksum = checksum(&text);
    let text = strip_bom(text);
    let lock_timeout = lock_timeout_directive(&text)?;
    let allow_lock = allow_lock(&text)?;
    let mode = transaction_mode(&text);
    let s = layout::sections(text, mode)?;
    let down = s.down.map(|sql| {
        Box::new(DownScript {
            file_name: file_name.to_string(),
            sql,
            transaction: s.down_transaction,
        })
    });
    Ok(MigrationFile {
        version,
        name,
        file_name: file_name.to_string(),
        checksum,
        transaction: s.up_transaction,
        lock_timeout,
        sql: s.up,
        down,
        allow_lock,
    })
}

fn duplicates(files: &[MigrationFile]) -> Vec<FileProblem> {
    files
        .chunk_by(|a, b| a.version == b.version)
        .filter(|group| group.len() > 1)
        .map(|group| FileProblem::DuplicateVersion {
            version: group[0].version.clone(),
            files: group.iter().map(|f| f.file_name.clone()).collect(),
        })
        .collect()
}

/// Pairs `.down.sql` files with their up files. Two downs for one version
/// (a file and a section, say) are ambiguous; a down without an up is a
/// broken chain.
fn attach_downs(files: &mut [MigrationFile], downs: BTreeMap<Version, Vec<DownScript>>) -> Vec<FileProblem> {
    let mut problems = Vec::new();
    for (version, mut scripts) in downs {
        let Some(up) = files.iter_mut().find(|f| f.version == version) else {
            problems.extend(
                scripts
                    .into_iter()
                    .map(|d| FileProblem::OrphanDown { file: d.file_name }),
            );
            continue;
        };
        if scripts.len() > 1 || up.down.is_some() {
            let mut names: Vec<String> = scripts.iter().map(|d| d.file_name.clone()).collect();
            if let Some(section) = &up.down {
                names.insert(0, format!("{} (down section)", section.file_name));
            }
            problems.push(FileProblem::DuplicateDown { version, files: names });
            continue;
        }
        up.down = scripts.pop().map(Box::new);
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(version: &str, name: &str) -> NameKind {
        NameKind::Up {
            version: version.parse().unwrap(),
            name: name.into(),
        }
    }

    #[test]
    fn accepts_the_documented_layouts() {
        assert_eq!(parse_name("0001_init.sql"), Ok(up("1", "init")));
        assert_eq!(parse_name("0002__add_users.sql"), Ok(up("2", "add_users")));
        assert_eq!(parse_name("V3__flyway.sql"), Ok(up("3", "flyway")));
        assert_eq!(parse_name("20240101120000_ts.sql"), Ok(up("20240101120000", "ts")));
        assert_eq!(parse_name("0004_x.up.sql"), Ok(up("4", "x")));
        assert_eq!(
            parse_name("0004_x.down.sql"),
            Ok(NameKind::Down {
                version: Version::from_int(4)
            })
        );
        assert_eq!(parse_name("README.md"), Ok(NameKind::Ignored));
        assert_eq!(parse_name("schema.json"), Ok(NameKind::Ignored));
        assert_eq!(
            parse_name("R__views.sql"),
            Ok(NameKind::Repeatable { name: "views".into() })
        );
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
    fn checksum_is_lowercase_sha256_hex() {
        assert_eq!(
            checksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }

    #[test]
    fn checksum_ignores_crlf() {
        assert_eq!(checksum(&normalize("a;\r\nb;\r\n".into())), checksum("a;\nb;\n"));
        assert_eq!(normalize("\r\r\n\r".into()), "\r\n\r");
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
    fn allow_lock_needs_a_reason_and_only_counts_in_the_leading_comments() {
        let sql = "-- add an index\n--   schemagate:allow-lock  table has 200 rows  \nCREATE INDEX i ON t(a);";
        assert_eq!(allow_lock(sql), Ok(Some("table has 200 rows".into())));
        assert_eq!(
            allow_lock("CREATE INDEX i ON t(a);\n-- schemagate:allow-lock late\n"),
            Ok(None)
        );
        assert!(allow_lock("-- schemagate:allow-lock\nSELECT 1;")
            .unwrap_err()
            .contains("needs a reason"));
        assert!(allow_lock("-- schemagate:allow-locks x\n")
            .unwrap_err()
            .contains("unknown directive"));
        let problems = build_set(vec![(
            "0001_a.sql".into(),
            "-- schemagate:allow-lock \nSELECT 1;".into(),
        )]);
        assert!(problems.unwrap_err()[0]
            .to_string()
            .starts_with("0001_a.sql: `-- schemagate:allow-lock` needs"));
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
        let set = build_set(entries).unwrap();
        let versions: Vec<String> = set.files.iter().map(|f| f.version.to_string()).collect();
        assert_eq!(versions, ["1", "9", "10"]);
    }

    #[test]
    fn down_files_and_sections_attach_to_their_version() {
        let entries = vec![
            ("0001_a.up.sql".to_string(), "CREATE TABLE a ();".to_string()),
            ("0001_a.down.sql".to_string(), "DROP TABLE a;".to_string()),
            (
                "0002_b.sql".to_string(),
                "-- migrate:up\nCREATE TABLE b ();\n-- migrate:down\nDROP TABLE b;\n".to_string(),
            ),
            (
                "R__views.sql".to_string(),
                "CREATE OR REPLACE VIEW v AS SELECT 1;".to_string(),
            ),
        ];
        let set = build_set(entries).unwrap();
        assert_eq!(set.files[0].down.as_ref().unwrap().sql, "DROP TABLE a;");
        assert!(set.files[1].down.as_ref().unwrap().sql.contains("DROP TABLE b;"));
        assert!(!set.files[1].sql.contains("DROP TABLE b;"));
        assert_eq!(set.repeatables[0].name, "views");
    }

    #[test]
    fn ambiguous_layouts_are_refused() {
        let entries = vec![
            (
                "0002_b.sql".to_string(),
                "-- migrate:up\nCREATE TABLE b ();\n-- migrate:down\nDROP TABLE b;\n".to_string(),
            ),
            ("0002_b.down.sql".to_string(), "DROP TABLE b;".to_string()),
            ("0003_c.down.sql".to_string(), "DROP TABLE c;".to_string()),
        ];
        let problems: Vec<String> = build_set(entries).unwrap_err().iter().map(|p| p.to_string()).collect();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("version 2 has more than one down migration")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("0003_c.down.sql: a down migration without")),
            "{problems:?}"
        );
    }
}
