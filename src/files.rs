//! Filesystem I/O, the way `db/` is database I/O: reading the migration
//! directory, the expected schema and the verify scripts, and writing a file
//! whole. What the contents mean is decided by the pure modules.

use std::path::{Path, PathBuf};

use crate::config::schema::ExpectedSchema;
use crate::error::Error;
use crate::migration::{build_set, normalize, FileProblem, MigrationSet};
use crate::schema::Snapshot;

/// A verify script as read from disk.
pub struct Script {
    /// As the operator finds it: `verify/orders.sql`.
    pub name: String,
    pub sql: String,
}

/// Reads every entry of the (flat) migration directory. Subdirectories such as
/// `verify/` are skipped.
pub fn load_migrations(dir: &Path) -> Result<MigrationSet, Error> {
    let invalid = |problems| Error::InvalidMigrations {
        dir: dir.to_path_buf(),
        problems,
    };
    let read_dir = std::fs::read_dir(dir).map_err(|e| {
        Error::config(
            "SCHEMAGATE_MIGRATIONS_DIR",
            format!("cannot read migration directory {}: {e}", dir.display()),
        )
    })?;
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for entry in read_dir {
        let entry = entry.map_err(|e| Error::io(dir, &e))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        // `.sql.conf`: Flyway's per-script settings, read beside their script.
        let wanted = file_name.ends_with(".sql") || file_name.ends_with(".sql.conf");
        if !wanted || entry.path().is_dir() {
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
pub fn load_scripts(dir: &Path) -> Result<Vec<Script>, Error> {
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
                sql: normalize(sql),
            })
        })
        .collect()
}

/// Writes beside the target and renames, so a reader never sees half a file.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), Error> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, &e)
    })
}
