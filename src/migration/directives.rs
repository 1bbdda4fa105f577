//! Other tools' ways of saying "run this file without a transaction", read
//! where those tools read them, so that a history written for them runs here
//! as it ran there. dbmate's and goose's live in their section markers
//! (`layout`); these are the rest:
//!
//! - morph (Mattermost): `-- morph:nontransactional` in the leading comments;
//! - sqlx: `-- no-transaction` as the file's first line (sqlx checks that the
//!   text starts with it);
//! - Flyway: `executeInTransaction=false` in a script configuration file,
//!   `V1__x.sql.conf` beside `V1__x.sql`.

use super::{FileProblem, MigrationSet, TransactionMode, NO_TRANSACTION};

const MORPH: &str = "morph:nontransactional";
const SQLX: &str = "-- no-transaction";

/// Whether morph's or sqlx's directive turns the transaction off.
pub fn peer_no_transaction(sql: &str) -> bool {
    if sql.lines().next().is_some_and(|first| first.trim_end() == SQLX) {
        return true;
    }
    sql.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map_while(|l| l.strip_prefix("--"))
        .any(|comment| comment.trim() == MORPH)
}

/// Reads a Flyway script configuration file. `Ok(None)` when it does not
/// say; an error for a setting schemagate cannot honour, rather than
/// running the script other than as written.
pub fn script_config(text: &str) -> Result<Option<TransactionMode>, String> {
    let mut mode = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            return Err(format!("line {}: expected `key=value`", n + 1));
        };
        let value = value.trim();
        match key.trim() {
            "executeInTransaction" => {
                mode = Some(match value.to_ascii_lowercase().as_str() {
                    "false" => TransactionMode::None,
                    "true" => TransactionMode::PerMigration,
                    _ => return Err(format!("line {}: executeInTransaction must be true or false", n + 1)),
                })
            }
            "encoding" if matches!(value.to_ascii_uppercase().as_str(), "UTF-8" | "UTF8") => {}
            "encoding" => return Err(format!("line {}: schemagate reads migrations as UTF-8 only", n + 1)),
            other => return Err(format!("line {}: {other} is not a setting schemagate supports", n + 1)),
        }
    }
    Ok(mode)
}

/// Applies each `<script>.conf` to the script of that name (an up file, a
/// `.down.sql` file or a repeatable). A configuration without its script is
/// a problem: its script was probably renamed, and the setting would be lost.
pub fn apply_script_configs(set: &mut MigrationSet, configs: Vec<(String, String)>) -> Vec<FileProblem> {
    let mut problems = Vec::new();
    for (conf_name, text) in configs {
        let bad = |reason: String| FileProblem::BadContent {
            file: conf_name.clone(),
            reason,
        };
        let script = conf_name.strip_suffix(".conf").unwrap_or(&conf_name);
        let Some(slot) = transaction_slot(set, script) else {
            problems.push(bad(format!(
                "a Flyway script configuration without its script {script}"
            )));
            continue;
        };
        match script_config(&text) {
            Ok(Some(mode)) => *slot = mode,
            Ok(None) => {}
            Err(reason) => problems.push(bad(reason)),
        }
    }
    problems
}

fn transaction_slot<'a>(set: &'a mut MigrationSet, script: &str) -> Option<&'a mut TransactionMode> {
    for f in &mut set.files {
        if f.file_name == script {
            return Some(&mut f.transaction);
        }
        if let Some(down) = f.down.as_mut().filter(|d| d.file_name == script) {
            return Some(&mut down.transaction);
        }
    }
    set.repeatables
        .iter_mut()
        .find(|r| r.file_name == script)
        .map(|r| &mut r.transaction)
}

/// What to do about SQLSTATE 25001 (a statement that cannot run inside a
/// transaction block) in `file`.
pub fn no_transaction_advice(file: &str, mode: TransactionMode) -> String {
    match mode {
        TransactionMode::PerMigration => format!(
            "this statement cannot run inside a transaction: add `-- {NO_TRANSACTION}` as the first line of {file} \
             (or the directive of its layout: `-- migrate:up transaction:false`, `-- +goose NO TRANSACTION`, \
             `-- morph:nontransactional`, sqlx's `-- no-transaction`, or `executeInTransaction=false` in \
             {file}.conf), so that its statements run one by one"
        ),
        TransactionMode::None => "this statement cannot run inside a transaction, and was sent together with others \
             (a goose StatementBegin/StatementEnd block, say), which PostgreSQL runs as one implicit transaction: \
             give it a statement of its own"
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::{build_set, transaction_mode};

    const NONE: TransactionMode = TransactionMode::None;
    const PM: TransactionMode = TransactionMode::PerMigration;

    #[test]
    fn morph_counts_in_the_leading_comments() {
        assert_eq!(
            transaction_mode("-- morph:nontransactional\nCREATE INDEX CONCURRENTLY i ON t (a);"),
            NONE
        );
        assert_eq!(
            transaction_mode("-- index for search\n--morph:nontransactional\nSELECT 1;"),
            NONE
        );
        assert_eq!(transaction_mode("SELECT 1;\n-- morph:nontransactional\n"), PM);
    }

    #[test]
    fn sqlx_counts_on_the_first_line_only() {
        assert_eq!(transaction_mode("-- no-transaction\nVACUUM;"), NONE);
        assert_eq!(transaction_mode("-- no-transaction  \r\nVACUUM;"), NONE);
        assert_eq!(transaction_mode("-- header\n-- no-transaction\nVACUUM;"), PM);
        assert_eq!(transaction_mode("-- no-transactions please\nVACUUM;"), PM);
    }

    #[test]
    fn flyway_script_configs() {
        assert_eq!(
            script_config("# built online\nexecuteInTransaction=false\n"),
            Ok(Some(NONE))
        );
        assert_eq!(
            script_config("executeInTransaction = TRUE\nencoding=UTF-8"),
            Ok(Some(PM))
        );
        assert_eq!(script_config(""), Ok(None));
        assert!(script_config("shouldExecute=false")
            .unwrap_err()
            .contains("shouldExecute"));
        assert!(script_config("encoding=ISO_8859_1").unwrap_err().contains("UTF-8"));
        assert!(script_config("executeInTransaction=no").unwrap_err().contains("line 1"));
    }

    #[test]
    fn script_configs_attach_to_their_script_or_are_refused() {
        let set = build_set(vec![
            ("V1__idx.sql".into(), "CREATE INDEX CONCURRENTLY i ON t (a);".into()),
            ("V1__idx.sql.conf".into(), "executeInTransaction=false\n".into()),
            ("V2__t.sql".into(), "CREATE TABLE t ();".into()),
        ])
        .unwrap();
        assert_eq!(set.files[0].transaction, NONE);
        assert_eq!(set.files[1].transaction, PM);
        let problems = build_set(vec![
            ("V2__t.sql".into(), "CREATE TABLE t ();".into()),
            ("V1__gone.sql.conf".into(), "executeInTransaction=false\n".into()),
        ])
        .unwrap_err();
        assert!(
            problems[0]
                .to_string()
                .contains("V1__gone.sql.conf: a Flyway script configuration without its script V1__gone.sql"),
            "{problems:?}"
        );
    }
}
