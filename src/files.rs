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
///
/// Every run reads every file (the no-op run compares their checksums with
/// the history), so this is on the path of every pod restart: the directory's
/// own entry types are used (no `stat` per file), each file is read without
/// asking its size first, and large directories are read by several threads.
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
    let mut wanted = Vec::new();
    for entry in read_dir {
        let entry = entry.map_err(|e| Error::io(dir, &e))?;
        let os_name = entry.file_name();
        let file_name = os_name.to_string_lossy().into_owned();
        // `.sql.conf`: Flyway's per-script settings, read beside their script.
        let sql = file_name.ends_with(".sql") || file_name.ends_with(".sql.conf");
        if sql && !is_dir(&entry) {
            // The name as it is on disk only when it is not UTF-8 (rare): no
            // path per file is kept, each reader joins them as it goes.
            let raw = (os_name.to_str() != Some(file_name.as_str())).then_some(os_name);
            wanted.push((file_name, raw));
        }
    }
    let mut entries = Vec::with_capacity(wanted.len());
    let mut problems = Vec::new();
    for (file_name, text) in read_all(dir, wanted) {
        match text {
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

/// Whether a directory entry is a directory, from the type the directory
/// listing carries; a symbolic link is followed, as opening it would be.
fn is_dir(entry: &std::fs::DirEntry) -> bool {
    match entry.file_type() {
        Ok(t) if !t.is_symlink() => t.is_dir(),
        _ => entry.path().is_dir(),
    }
}

/// Below this many files, one thread reads them all.
const PARALLEL_FROM: usize = 64;

/// A file to read: its name, and the name as it is on disk when that is not UTF-8.
type Wanted = (String, Option<std::ffi::OsString>);

/// Reads the files, in order, on up to four threads for a large directory.
fn read_all(dir: &Path, files: Vec<Wanted>) -> Vec<(String, std::io::Result<String>)> {
    let threads = if files.len() < PARALLEL_FROM {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
    };
    if threads == 1 {
        return read_chunk(dir, files);
    }
    let per = files.len().div_ceil(threads);
    let mut chunks = Vec::with_capacity(threads);
    let mut rest = files;
    while rest.len() > per {
        let tail = rest.split_off(per);
        chunks.push(std::mem::replace(&mut rest, tail));
    }
    chunks.push(rest);
    let mut chunks = chunks.into_iter();
    let first = chunks.next().unwrap_or_default();
    std::thread::scope(|scope| {
        let others: Vec<_> = chunks.map(|c| scope.spawn(move || read_chunk(dir, c))).collect();
        let mut out = read_chunk(dir, first);
        for handle in others {
            match handle.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

fn read_chunk(dir: &Path, files: Vec<Wanted>) -> Vec<(String, std::io::Result<String>)> {
    let mut scratch = vec![0; 16 * 1024];
    let mut path = dir.to_path_buf();
    files
        .into_iter()
        .map(|(name, raw)| {
            path.push(raw.as_deref().unwrap_or(name.as_ref()));
            let text = read_text(&path, &mut scratch);
            path.pop();
            (name, text)
        })
        .collect()
}

/// One file as UTF-8 text: open, read, close, and no `stat` for a small file
/// (`std::fs::read_to_string` asks for the size first, one more system call
/// per file). `scratch` is reused from file to file; a file larger than it
/// is read into a buffer of its own size, so a 50 MB migration costs about
/// 50 MB, not a doubled scratch buffer plus a copy (tests/large.rs).
fn read_text(path: &Path, scratch: &mut [u8]) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let filled = fill(&mut file, scratch)?;
    let bytes = if filled < scratch.len() {
        scratch[..filled].to_vec()
    } else {
        let size = file.metadata().map_or(0, |m| m.len() as usize);
        let mut bytes = Vec::with_capacity(size.max(filled) + 1);
        bytes.extend_from_slice(scratch);
        file.read_to_end(&mut bytes)?;
        bytes
    };
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

/// Reads until `buf` is full or the file ends; how many bytes were read.
fn fill(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::FileProblem;

    #[test]
    fn a_large_directory_is_read_whole_and_in_order_by_several_threads() {
        let dir = tempfile::tempdir().unwrap();
        for n in 1..=300 {
            std::fs::write(dir.path().join(format!("{n:04}_t.sql")), format!("SELECT {n};")).unwrap();
        }
        // A file larger than the reader's scratch buffer.
        let big = "SELECT 1;\n".repeat(20_000);
        std::fs::write(dir.path().join("0301_big.sql"), &big).unwrap();
        std::fs::create_dir(dir.path().join("verify")).unwrap();
        std::fs::create_dir(dir.path().join("dir.sql")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("verify"), dir.path().join("link.sql")).unwrap();
        let set = load_migrations(dir.path()).unwrap();
        assert_eq!(set.files.len(), 301);
        assert_eq!(set.files[41].sql, "SELECT 42;");
        assert_eq!(set.files[300].sql, big);
    }

    #[test]
    fn a_file_that_is_not_utf8_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1_a.sql"), b"SELECT '\xff';").unwrap();
        std::fs::write(dir.path().join("2_b.sql"), "SELECT 1;").unwrap();
        match load_migrations(dir.path()) {
            Err(Error::InvalidMigrations { problems, .. }) => assert_eq!(
                problems,
                vec![FileProblem::Unreadable {
                    file: "1_a.sql".into(),
                    reason: "stream did not contain valid UTF-8".into()
                }]
            ),
            other => panic!("{:?}", other.map(|s| s.files.len())),
        }
    }
}
