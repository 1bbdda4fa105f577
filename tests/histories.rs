//! Issue 15: what an old, many-handed migration history meets on day one.
//! Each test reproduces one pattern with files written here: a gap in the
//! tables an adoption would rely on, down scripts that do nothing, other
//! tools' no-transaction directives, a statement that refuses a transaction,
//! server notices, and an error inside a `DO` block.

mod common;

use common::{migrations, shared};

/// Five versions, one table each.
fn five_tables() -> tempfile::TempDir {
    let files: Vec<(String, String)> = (1..=5)
        .map(|n| (format!("000{n}_t{n}.sql"), format!("CREATE TABLE t{n} (id int);\n")))
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    migrations(&refs)
}

/// The tables of 1-2 and 5 exist, those of 3-4 do not: version 5 must not be
/// advised (its predecessors are not there); version 2 is, and the table of 5
/// is named as one `run` would meet.
#[test]
fn baseline_advice_stops_at_a_gap() {
    let db = shared().fresh_db();
    let dir = five_tables();
    db.psql("CREATE TABLE t1 (id int); CREATE TABLE t2 (id int); CREATE TABLE t5 (id int)");
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(5);
    r.stderr_has("schemagate baseline --version 2 (every table the migrations up to it create exists)");
    r.stderr_has("tables of later migrations exist too (public.t5 (0005_t5.sql))");
    assert!(!r.stderr.contains("--version 5"), "{}", r.stderr);
    assert!(!db.table_exists("schemagate_history") || db.history().is_empty());
}

/// Only tables of later versions exist (what a `down --to 0` with broken down
/// scripts leaves): no version is advised, and present and missing are named.
#[test]
fn baseline_advice_says_when_no_version_qualifies() {
    let db = shared().fresh_db();
    let dir = five_tables();
    db.psql("CREATE TABLE t3 (id int); CREATE TABLE t5 (id int)");
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(5);
    r.stderr_has("No version can be adopted");
    r.stderr_has("Present: public.t3 (0003_t3.sql), public.t5 (0005_t5.sql); missing: public.t1 (0001_t1.sql), public.t2 (0002_t2.sql), public.t4 (0004_t4.sql)");
    assert!(!r.stderr.contains("baseline --version 3"), "{}", r.stderr);
    assert!(!r.stderr.contains("baseline --version 5"), "{}", r.stderr);
}
