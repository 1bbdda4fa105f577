//! `plan --locks` and the lock policy against a real cluster: what the server
//! says each statement locks, rewrites and scans (in a shadow whose tables
//! are empty), the shadow's life (`auto` dropped on every path, stale ones
//! cleaned, a given one checked), and `run` under `refuse`.

mod common;

use std::time::Duration;

use common::{eventually, migrations, shared, wait_output, TestDb};
use serde_json::Value;

const INIT: &str = "CREATE TABLE parent (id int PRIMARY KEY, name varchar(100), c int);\n\
                    CREATE TABLE child (id int PRIMARY KEY, parent_id int);\n";

/// One statement per file, so that each is its own transaction.
const CASES: &[(&str, &str)] = &[
    ("0002_index.sql", "CREATE INDEX parent_name ON parent (name);"),
    (
        "0003_index_concurrently.sql",
        "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY child_parent ON child (parent_id);",
    ),
    ("0004_add_column.sql", "ALTER TABLE parent ADD COLUMN d int DEFAULT 0;"),
    (
        "0005_volatile_default.sql",
        "ALTER TABLE parent ADD COLUMN t timestamptz DEFAULT clock_timestamp();",
    ),
    ("0006_bigint.sql", "ALTER TABLE parent ALTER COLUMN id TYPE bigint;"),
    (
        "0007_varchar.sql",
        "ALTER TABLE parent ALTER COLUMN name TYPE varchar(200);",
    ),
    ("0008_not_null.sql", "ALTER TABLE parent ALTER COLUMN c SET NOT NULL;"),
    (
        "0009_fk.sql",
        "ALTER TABLE child ADD CONSTRAINT child_fk FOREIGN KEY (parent_id) REFERENCES parent (id);",
    ),
    (
        "0010_fk_not_valid.sql",
        "ALTER TABLE child ADD CONSTRAINT child_fk2 FOREIGN KEY (parent_id) REFERENCES parent (id) NOT VALID;",
    ),
    ("0011_validate.sql", "ALTER TABLE child VALIDATE CONSTRAINT child_fk2;"),
    (
        "0012_backfill_under_the_same_lock.sql",
        "ALTER TABLE parent ADD COLUMN e int;\nUPDATE parent SET e = 1;",
    ),
    // Outside a transaction, and never waiting for the watcher's snapshot.
    (
        "0013_vacuum_full.sql",
        "-- schemagate:no-transaction\nVACUUM FULL child;",
    ),
];

/// A target at version 1 (the two tables, with rows and statistics) and the
/// cases pending.
fn target_with_cases(rows: u32) -> (TestDb<'static>, tempfile::TempDir) {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_init.sql", INIT)]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    db.psql(&format!(
        "INSERT INTO parent SELECT g, 'n', 1 FROM generate_series(1, {rows}) g; \
         INSERT INTO child SELECT g, g FROM generate_series(1, {rows}) g; ANALYZE parent; ANALYZE child"
    ));
    for (name, sql) in CASES {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    (db, dir)
}

/// `schemagate` on the target, with an `auto` shadow.
fn auto(db: &TestDb, dir: &std::path::Path) -> common::Sg {
    db.sg(dir).env("SCHEMAGATE_SHADOW_URL", "auto")
}

fn file<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == name)
        .unwrap_or_else(|| panic!("{name} is not in the report: {doc:#}"))
}

/// (lock, rewritten, scanned) of `relation` in the file's statement at `line`.
fn effect(doc: &Value, name: &str, line: u64, relation: &str) -> (String, bool, bool) {
    let statement = file(doc, name)["statements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["line"] == line)
        .unwrap_or_else(|| panic!("{name} has no statement at line {line}"));
    let e = statement["relations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["relation"] == relation)
        .unwrap_or_else(|| panic!("{name} line {line} does not touch {relation}: {statement:#}"));
    (
        e["lock"].as_str().unwrap_or("not observed").to_string(),
        e["rewritten"].as_bool().unwrap(),
        e["scanned"].as_bool().unwrap(),
    )
}

fn shadow_name(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| l.contains("created the shadow database "))
        .unwrap_or_else(|| panic!("no shadow was created:\n{stderr}"));
    line.rsplit(' ').next().unwrap().to_string()
}

fn database_exists(name: &str) -> bool {
    shared().psql(
        "postgres",
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
    ) == "1\n"
}

#[test]
fn each_case_locks_rewrites_and_scans_as_the_server_measures() {
    let (db, dir) = target_with_cases(500);
    let r = auto(&db, dir.path())
        .args(&["plan", "--locks", "--format", "json"])
        .run();
    r.assert_code(0);
    let doc: Value = serde_json::from_str(&r.stdout).expect("stdout is one JSON document");
    let share = |lock: &str, rewritten, scanned| (lock.to_string(), rewritten, scanned);
    let cases = [
        ("0002_index.sql", 1, "public.parent", share("SHARE", false, true)),
        (
            "0003_index_concurrently.sql",
            2,
            "public.child",
            share("SHARE UPDATE EXCLUSIVE", false, true),
        ),
        (
            "0004_add_column.sql",
            1,
            "public.parent",
            share("ACCESS EXCLUSIVE", false, false),
        ),
        (
            "0005_volatile_default.sql",
            1,
            "public.parent",
            share("ACCESS EXCLUSIVE", true, true),
        ),
        (
            "0006_bigint.sql",
            1,
            "public.parent",
            share("ACCESS EXCLUSIVE", true, true),
        ),
        (
            "0007_varchar.sql",
            1,
            "public.parent",
            share("ACCESS EXCLUSIVE", false, false),
        ),
        (
            "0008_not_null.sql",
            1,
            "public.parent",
            share("ACCESS EXCLUSIVE", false, true),
        ),
        // A foreign key's validation scans the referencing table.
        (
            "0009_fk.sql",
            1,
            "public.child",
            share("SHARE ROW EXCLUSIVE", false, true),
        ),
        (
            "0009_fk.sql",
            1,
            "public.parent",
            share("SHARE ROW EXCLUSIVE", false, false),
        ),
        (
            "0010_fk_not_valid.sql",
            1,
            "public.child",
            share("SHARE ROW EXCLUSIVE", false, false),
        ),
        (
            "0010_fk_not_valid.sql",
            1,
            "public.parent",
            share("SHARE ROW EXCLUSIVE", false, false),
        ),
        (
            "0011_validate.sql",
            1,
            "public.child",
            share("SHARE UPDATE EXCLUSIVE", false, true),
        ),
        // The UPDATE scans under the ACCESS EXCLUSIVE line 1 took.
        (
            "0012_backfill_under_the_same_lock.sql",
            2,
            "public.parent",
            share("ACCESS EXCLUSIVE", false, true),
        ),
    ];
    for (name, line, relation, expected) in cases {
        assert_eq!(
            effect(&doc, name, line, relation),
            expected,
            "{name} line {line} on {relation}"
        );
    }
    let backfill = &file(&doc, "0012_backfill_under_the_same_lock.sql")["statements"][1]["relations"][0];
    assert_eq!(backfill["since_line"], 1);
    let vacuum = &file(&doc, "0013_vacuum_full.sql")["statements"][0];
    assert_eq!(vacuum["locks_observed"], false);
    // Its locks are whatever a sample caught while it ran, often nothing.
    let (lock, rewritten, _) = effect(&doc, "0013_vacuum_full.sql", 2, "public.child");
    assert!(["not observed", "ACCESS EXCLUSIVE"].contains(&lock.as_str()), "{lock}");
    assert!(rewritten, "VACUUM FULL rewrites");
    // Sizes are the target's; the shadow's tables are empty.
    let size = &file(&doc, "0002_index.sql")["statements"][0]["relations"][0]["size"];
    assert_eq!(
        (size["source"].as_str(), size["rows"].as_f64()),
        (Some("on_target"), Some(500.0))
    );
    assert!(size["bytes"].as_i64().unwrap() > 8192);
    assert_eq!(doc["target"]["version"], "1");
    assert_eq!(doc["shadow"]["auto"], true);
}

#[test]
fn verdicts_follow_the_threshold_and_the_target_is_only_read() {
    let (db, dir) = target_with_cases(500);
    let before = db.psql("SELECT count(*) FROM pg_class; SELECT count(*) FROM schemagate_history");
    let r = auto(&db, dir.path())
        .env("SCHEMAGATE_LOCK_POLICY_MAX_ROWS", "100")
        .args(&["plan", "--locks"])
        .run();
    r.assert_code(0);
    r.stdout_has("target at version 1, sizes from the target; policy warn, max rows 100");
    r.stdout_has("0002_index.sql (version 2, transactional)\n  line 1: CREATE INDEX parent_name ON parent (name)\n");
    r.stdout_has("    public.parent: SHARE (blocks writes), scanned; ~500 rows, ");
    r.stdout_has("  verdict: dangerous: 0002_index.sql line 1: SHARE lock on public.parent (~500 rows, ");
    r.stdout_has("safer: CREATE INDEX CONCURRENTLY");
    r.stdout_has("safer: ADD CONSTRAINT … NOT VALID here, then ALTER TABLE … VALIDATE CONSTRAINT");
    r.stdout_has("safer: add a new column, backfill it in batches");
    r.stdout_has("safer: ADD CONSTRAINT … CHECK (column IS NOT NULL) NOT VALID");
    r.stdout_has("safer: move this statement to a migration of its own: the lock taken at line 1");
    r.stdout_has(
        "  line 2: VACUUM FULL child\n    ran outside a transaction and never waited for the watching session: \
         only locks a sample caught are shown\n    public.child: ",
    );
    r.stdout_has("verdict: dangerous: 0013_vacuum_full.sql line 2: ");
    let verdicts: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("  verdict: ")).collect();
    let safe = verdicts.iter().filter(|l| l.starts_with("  verdict: safe")).count();
    // CONCURRENTLY, ADD COLUMN … DEFAULT 0, varchar(200), NOT VALID, VALIDATE.
    assert_eq!((verdicts.len(), safe), (12, 5), "{}", r.stdout);
    // Nothing was written to the target.
    assert_eq!(
        db.psql("SELECT count(*) FROM pg_class; SELECT count(*) FROM schemagate_history"),
        before
    );
    assert!(!database_exists(&shadow_name(&r.stderr)), "the auto shadow was dropped");

    let small = auto(&db, dir.path())
        .env("SCHEMAGATE_LOCK_POLICY_MAX_ROWS", "500")
        .args(&["plan", "--locks"])
        .run();
    small.assert_code(0);
    assert!(!small.stdout.contains("verdict: dangerous"), "{}", small.stdout);
}

/// A target whose pending file builds an index on a table of 200 rows.
fn target_with_pending_index(pending: &str) -> (TestDb<'static>, tempfile::TempDir) {
    let db = shared().fresh_db();
    let dir = migrations(&[(
        "0001_orders.sql",
        "CREATE TABLE orders (id int PRIMARY KEY, status text);",
    )]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    db.psql("INSERT INTO orders SELECT g, 'new' FROM generate_series(1, 200) g; ANALYZE orders");
    std::fs::write(dir.path().join("0002_index.sql"), pending).unwrap();
    (db, dir)
}

#[test]
fn run_under_refuse_exits_2_names_the_danger_and_applies_nothing() {
    let (db, dir) = target_with_pending_index("-- status lookups\nCREATE INDEX orders_status ON orders (status);\n");
    let refuse = |db: &TestDb, dir: &std::path::Path| {
        auto(db, dir)
            .env("SCHEMAGATE_LOCK_POLICY", "refuse")
            .env("SCHEMAGATE_LOCK_POLICY_MAX_ROWS", "100")
            .args(&["run"])
            .run()
    };
    let r = refuse(&db, dir.path());
    r.assert_code(2)
        .stderr_has("refused: SCHEMAGATE_LOCK_POLICY=refuse")
        .stderr_has("nothing was applied")
        .stderr_has("0002_index.sql line 2: SHARE lock on public.orders (~200 rows, ")
        .stderr_has("blocks writes while the table is scanned in full; safer: CREATE INDEX CONCURRENTLY")
        .stderr_has("-- schemagate:allow-lock <reason>");
    assert_eq!(db.history(), ["1|orders|true"]);
    assert!(!db.table_exists("orders_status"));
    assert!(!database_exists(&shadow_name(&r.stderr)));

    // The same file, let through with a reason, which is logged.
    let allowed = "-- schemagate:allow-lock orders is tiny in every environment\n\
                   CREATE INDEX orders_status ON orders (status);\n";
    std::fs::write(dir.path().join("0002_index.sql"), allowed).unwrap();
    let r = refuse(&db, dir.path());
    r.assert_code(0)
        .stderr_has("0002_index.sql let through by -- schemagate:allow-lock: orders is tiny in every environment")
        .stderr_has("allowed: 0002_index.sql line 2: SHARE lock on public.orders");
    assert!(db.table_exists("orders_status"));
}

#[test]
fn run_under_warn_logs_the_findings_and_applies() {
    let (db, dir) = target_with_pending_index("CREATE INDEX orders_status ON orders (status);\n");
    let r = auto(&db, dir.path())
        .env("SCHEMAGATE_LOCK_POLICY_MAX_ROWS", "100")
        .args(&["run"])
        .run();
    r.assert_code(0)
        .stderr_has("WARN lock policy: 0002_index.sql line 1: SHARE lock on public.orders")
        .stderr_has("applied 1 migration(s) [2]");
    assert!(db.table_exists("orders_status"));
    // `verify` is unaffected by the policy.
    auto(&db, dir.path())
        .env("SCHEMAGATE_LOCK_POLICY", "refuse")
        .args(&["verify"])
        .run()
        .assert_code(0);
}

#[test]
fn refuse_without_a_shadow_is_a_configuration_error_before_anything_is_applied() {
    let (db, dir) = target_with_pending_index("CREATE INDEX orders_status ON orders (status);\n");
    db.sg(dir.path())
        .env("SCHEMAGATE_LOCK_POLICY", "refuse")
        .args(&["run"])
        .run()
        .assert_code(2)
        .stderr_has("SCHEMAGATE_LOCK_POLICY: refuse needs SCHEMAGATE_SHADOW_URL");
    assert_eq!(db.history(), ["1|orders|true"]);
    db.sg(dir.path())
        .args(&["plan", "--locks"])
        .run()
        .assert_code(2)
        .stderr_has("plan --locks needs a shadow database");
}

#[test]
fn a_given_shadow_is_used_left_in_place_and_refused_once_not_empty() {
    let (db, dir) = target_with_pending_index("CREATE INDEX orders_status ON orders (status);\n");
    let scratch = shared().fresh_db();
    let plan = || {
        db.sg(dir.path())
            .env("SCHEMAGATE_SHADOW_URL", &scratch.url())
            .args(&["plan", "--locks"])
            .run()
    };
    let r = plan();
    r.assert_code(0)
        .stdout_has(&format!(
            "lock check in shadow database {} (given, PostgreSQL ",
            scratch.name
        ))
        .stdout_has("public.orders: SHARE (blocks writes), scanned; ~200 rows");
    assert!(
        scratch.table_exists("orders_status"),
        "the given shadow holds the measured schema"
    );
    assert!(!db.table_exists("orders_status"));
    plan()
        .assert_code(2)
        .stderr_has(&format!(
            "SCHEMAGATE_SHADOW_URL: the shadow database {} is not empty (",
            scratch.name
        ))
        .stderr_has("relation public.orders");
}

#[test]
fn a_shadow_url_that_reaches_the_target_is_refused() {
    let (db, dir) = target_with_pending_index("CREATE INDEX orders_status ON orders (status);\n");
    let alias = db.url().replace("127.0.0.1", "localhost");
    db.sg(dir.path())
        .env("SCHEMAGATE_SHADOW_URL", &alias)
        .args(&["plan", "--locks"])
        .run()
        .assert_code(2)
        .stderr_has("SCHEMAGATE_SHADOW_URL: connects to the target database itself");
    db.sg(dir.path())
        .env("SCHEMAGATE_SHADOW_URL", &db.url())
        .args(&["plan", "--locks"])
        .run()
        .assert_code(2)
        .stderr_has("names the target database itself");
    assert!(!db.table_exists("orders_status"));
}

#[test]
fn from_a_version_the_target_is_not_consulted_and_unknown_sizes_count_as_big() {
    let dir = migrations(&[
        (
            "0001_orders.sql",
            "CREATE TABLE orders (id int PRIMARY KEY, status text);",
        ),
        ("0002_index.sql", "CREATE INDEX orders_status ON orders (status);"),
        (
            "0003_new_table.sql",
            "CREATE TABLE audit (id int);\nCREATE INDEX audit_id ON audit (id);",
        ),
    ]);
    let scratch = shared().fresh_db();
    // A target nobody listens on: it is never contacted.
    let nowhere = format!("postgres://postgres@127.0.0.1:{}/nowhere", common::free_port());
    let sg = || {
        common::Sg::new()
            .env("DATABASE_URL", &nowhere)
            .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
            .env("SCHEMAGATE_SHADOW_URL", &scratch.url())
            .env("SCHEMAGATE_WAIT_TIMEOUT", "0")
    };
    let r = sg()
        .env("SCHEMAGATE_LOCK_POLICY", "refuse")
        .args(&["plan", "--locks", "--from", "1"])
        .run();
    r.assert_code(2)
        .stdout_has("shadow prepared up to --from 1; target not consulted, sizes unknown (counted as big)")
        .stdout_has("public.orders: SHARE (blocks writes), scanned; size unknown: target not consulted")
        .stderr_has("refused: SCHEMAGATE_LOCK_POLICY=refuse")
        .stderr_has("`run` would apply nothing")
        .stderr_has("0002_index.sql line 1: SHARE lock on public.orders (size unknown: target not consulted)");
    // A table created by a pending file is new: nothing uses it yet.
    assert!(
        r.stdout.contains(
            "0003_new_table.sql (version 3, transactional)\n  line 1: CREATE TABLE audit (id int)\n    no new lock"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("  line 2: CREATE INDEX audit_id ON audit (id)\n    no new lock"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_failure_in_the_shadow_is_exit_5_and_drops_the_auto_shadow() {
    let (db, dir) = target_with_pending_index("CREATE INDEX orders_status ON orders (no_such_column);\n");
    let r = auto(&db, dir.path()).args(&["plan", "--locks"]).run();
    r.assert_code(5)
        .stderr_has("migration 0002_index.sql failed in the shadow database schemagate_shadow_")
        .stderr_has("column \"no_such_column\" does not exist")
        .stderr_has("nothing was changed on the target");
    assert!(!database_exists(&shadow_name(&r.stderr)));
}

#[test]
fn the_auto_shadow_is_dropped_on_sigterm() {
    let (db, dir) = target_with_pending_index("SELECT pg_sleep(61);\n");
    let child = auto(&db, dir.path()).args(&["plan", "--locks"]).spawn();
    let mut name = String::new();
    let sleeping = eventually(Duration::from_secs(20), || {
        name = shared().psql(
            "postgres",
            "SELECT datname FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(61)%' \
             AND datname LIKE 'schemagate\\_shadow\\_%'",
        );
        !name.trim().is_empty()
    });
    assert!(sleeping, "the pending file never ran in a shadow");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let r = wait_output(child);
    r.assert_code(143).stderr_has("interrupted by SIGTERM");
    assert!(
        !database_exists(name.trim()),
        "{} was left behind:\n{}",
        name.trim(),
        r.stderr
    );
}

#[test]
fn stale_auto_shadows_are_dropped_and_recent_ones_kept() {
    let (db, dir) = target_with_pending_index("CREATE INDEX orders_status ON orders (status);\n");
    let now: i64 = shared()
        .psql("postgres", "SELECT date_part('epoch', now())::int8")
        .trim()
        .parse()
        .unwrap();
    let stale = format!("schemagate_shadow_{}_0123456789ab", now - 3600);
    let recent = format!("schemagate_shadow_{}_0123456789ab", now - 60);
    for name in [&stale, &recent] {
        shared().psql("postgres", &format!("CREATE DATABASE {name}"));
    }
    let r = auto(&db, dir.path()).args(&["plan", "--locks"]).run();
    r.assert_code(0);
    // Another test's auto run, in parallel on this cluster, may have dropped
    // it first; either way it is gone once this run has started.
    assert!(!database_exists(&stale), "{}", r.stderr);
    let said = format!("dropped the stale shadow database {stale}, left by a run that was killed");
    assert!(r.stderr.contains(&said) || !r.stderr.contains(&stale), "{}", r.stderr);
    assert!(
        database_exists(&recent),
        "a shadow this recent may belong to a run that has not connected yet"
    );
    shared().psql("postgres", &format!("DROP DATABASE {recent}"));
}
