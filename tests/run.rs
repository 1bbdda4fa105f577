//! `run`, `status`, `verify` and `new` against a real cluster: what lands in
//! the database, what lands in the history, and what the operator reads.

mod common;

use common::{example_migrations, migrations, shared, Sg};

#[test]
fn run_applies_the_example_set_and_a_rerun_is_a_no_op() {
    let db = shared().fresh_db();
    let r = db.sg(&example_migrations()).args(&["run"]).run();
    r.assert_code(0);
    r.stderr_has("applied 4 migration(s) [1-4]");
    r.stderr_has("database at version 4");
    assert!(r.stdout.is_empty(), "stdout is for command output only: {}", r.stdout);
    for t in ["users", "orders", "orders_user_id_idx", "order_totals"] {
        assert!(db.table_exists(t), "{t} missing");
    }
    assert_eq!(
        db.history(),
        vec![
            "1|create_users|true",
            "2|create_orders|true",
            "3|index_orders_by_user|true",
            "4|order_totals_view|true"
        ]
    );
    assert_eq!(
        db.psql("SELECT DISTINCT applied_by FROM schemagate_history"),
        "test-runner\n"
    );
    // The index built CONCURRENTLY is valid.
    assert_eq!(
        db.psql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'orders_user_id_idx'::regclass"),
        "t\n"
    );

    // No command means run; a second run changes nothing.
    let again = db.sg(&example_migrations()).run();
    again.assert_code(0);
    again.stderr_has("nothing to apply; database at version 4");
    assert_eq!(db.history().len(), 4);
}

#[test]
fn status_lists_states_in_text_and_json() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_a.sql", "CREATE TABLE a (id int);"),
        ("0002_b.sql", "CREATE TABLE b (id int);"),
    ]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    std::fs::write(dir.path().join("0003_c.sql"), "CREATE TABLE c (id int);").unwrap();

    let text = db.sg(dir.path()).args(&["status"]).run();
    text.assert_code(0);
    text.stdout_has("database version: 2, head version: 3");
    assert!(
        text.stdout.lines().any(|l| l.starts_with('3') && l.contains("pending")),
        "{}",
        text.stdout
    );
    // The columns line up under their headings.
    let lines: Vec<&str> = text.stdout.lines().collect();
    let name_at = lines[1].find("NAME").unwrap();
    for row in &lines[2..] {
        assert!(row[name_at..].starts_with(['a', 'b', 'c']), "{}", text.stdout);
    }

    let json = db.sg(dir.path()).args(&["status", "--format", "json"]).run();
    json.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("stdout is only the JSON document");
    // Versions are their canonical text (1.1 is a version too).
    assert_eq!(doc["database_version"], "2");
    assert_eq!(doc["head_version"], "3");
    assert_eq!(doc["migrations"][0]["version"], "1");
    let states: Vec<&str> = doc["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["applied", "applied", "pending"]);
    assert!(doc["migrations"][0]["applied_at"].as_str().unwrap().ends_with('Z'));
    assert!(doc["migrations"][2]["applied_at"].is_null());
    assert_eq!(doc["migrations"][0]["checksum"].as_str().unwrap().len(), 64);
}

#[test]
fn status_exits_zero_with_problems_and_never_creates_the_table() {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a (id int);")]);
    let r = db.sg(dir.path()).args(&["status", "--format", "json"]).run();
    r.assert_code(0);
    r.stdout_has("\"pending\"");
    assert!(!db.table_exists("schemagate_history"));
}

#[test]
fn verify_is_read_only_and_names_each_problem() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_a.sql", "CREATE TABLE a (id int);"),
        ("0002_b.sql", "CREATE TABLE b (id int);"),
    ]);
    let pending = db.sg(dir.path()).args(&["verify"]).run();
    pending.assert_code(6);
    pending.stderr_has("version 1 (0001_a.sql) is pending");
    pending.stderr_has("version 2 (0002_b.sql) is pending");
    assert!(
        !db.table_exists("schemagate_history"),
        "verify must not create the history table"
    );

    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    db.sg(dir.path()).args(&["verify"]).run().assert_code(0);

    // Edited after it was applied.
    std::fs::write(dir.path().join("0001_a.sql"), "CREATE TABLE a (id bigint);").unwrap();
    let edited = db.sg(dir.path()).args(&["verify"]).run();
    edited.assert_code(6);
    assert!(
        edited
            .stderr
            .contains("version 1 (0001_a.sql) was edited after it was applied"),
        "{}",
        edited.stderr
    );
    // run refuses too, before applying anything.
    std::fs::write(dir.path().join("0003_c.sql"), "CREATE TABLE c (id int);").unwrap();
    db.sg(dir.path()).args(&["run"]).run().assert_code(6);
    assert!(!db.table_exists("c"));

    // A file that is gone below the image's highest file. (A gone file
    // above it is a version from a newer release: tests/rollback.rs.)
    std::fs::remove_file(dir.path().join("0003_c.sql")).unwrap();
    std::fs::remove_file(dir.path().join("0001_a.sql")).unwrap();
    let missing = db.sg(dir.path()).args(&["verify"]).run();
    missing.assert_code(6);
    assert!(
        missing
            .stderr
            .contains("version 1 (a) is applied but its file is missing"),
        "{}",
        missing.stderr
    );
}

#[test]
fn verify_wait_polls_until_another_runner_reaches_head() {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a (id int);")]);
    let waiter = db
        .sg(dir.path())
        .args(&["verify", "--wait"])
        .env("SCHEMAGATE_WAIT_TIMEOUT", "30s")
        .spawn();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    let r = common::wait_output(waiter);
    r.assert_code(0);
    r.stderr_has("database is at head: version 1");

    let never = db.sg(dir.path()).env("SCHEMAGATE_MIGRATIONS_DIR", "/nonexistent-dir");
    never.args(&["verify"]).run().assert_code(2);
    let short = migrations(&[("0001_a.sql", "CREATE TABLE a (id int);"), ("0002_b.sql", "SELECT 1;")]);
    let timed_out = db
        .sg(short.path())
        .args(&["verify", "--wait", "--wait-timeout", "1s"])
        .run();
    timed_out.assert_code(6);
    timed_out.stderr_has("version 2 (0002_b.sql) is pending");
}

#[test]
fn a_syntax_error_on_line_3_rolls_back_the_whole_file() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_ok.sql", "CREATE TABLE ok (id int);"),
        (
            "0002_broken.sql",
            "CREATE TABLE first_statement (id int);\n-- then\nSELEC 1;\n",
        ),
        ("0003_later.sql", "CREATE TABLE later (id int);"),
    ]);
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(5);
    assert!(
        r.stderr
            .contains("migration 0002_broken.sql failed at line 3, column 1"),
        "{}",
        r.stderr
    );
    r.stderr_has("syntax error at or near \"SELEC\"");
    r.stderr_has("SQLSTATE 42601");
    r.stderr_has("rolled back");
    assert!(db.table_exists("ok"));
    assert!(
        !db.table_exists("first_statement"),
        "the first statement must be rolled back"
    );
    assert!(!db.table_exists("later"), "later migrations must not be attempted");
    assert_eq!(db.history(), vec!["1|ok|true"]);
}

#[test]
fn plpgsql_errors_report_the_internal_query_and_context() {
    let db = shared().fresh_db();
    let body = "DO $$\nBEGIN\n  PERFORM * FROM no_such_table;\nEND\n$$;\n";
    let dir = migrations(&[("0001_do.sql", body)]);
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(5);
    r.stderr_has("relation \"no_such_table\" does not exist");
    r.stderr_has("internal query: SELECT * FROM no_such_table");
    r.stderr_has("context: PL/pgSQL function inline_code_block line 3");
}

#[test]
fn no_transaction_files_run_statement_by_statement_and_failures_block() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_t.sql", "CREATE TABLE t (a int, b int);"),
        (
            "0002_idx.sql",
            "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY t_a ON t (a);\nCREATE INDEX CONCURRENTLY t_b ON t (nope);\n",
        ),
    ]);
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(5);
    r.stderr_has("0002_idx.sql failed at line 3");
    r.stderr_has("without a transaction");
    assert!(db.table_exists("t_a"), "the first statement stays applied");
    assert_eq!(db.history(), vec!["1|t|true", "2|idx|false"]);

    // The failed row blocks run and verify, and says how to clear it.
    for cmd in ["run", "verify"] {
        let blocked = db.sg(dir.path()).args(&[cmd]).run();
        blocked.assert_code(6);
        assert!(
            blocked
                .stderr
                .contains("DELETE FROM \"public\".\"schemagate_history\" WHERE migration_version = '2'"),
            "{}",
            blocked.stderr
        );
    }
    // Fixed by hand as the message says, a rerun completes.
    std::fs::write(dir.path().join("0002_idx.sql"), "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_a ON t (a);\nCREATE INDEX CONCURRENTLY t_b ON t (b);\n").unwrap();
    db.psql("DELETE FROM schemagate_history WHERE migration_version = '2'");
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert!(db.table_exists("t_b"));
}

#[test]
fn create_index_concurrently_without_the_directive_fails_cleanly() {
    let db = shared().fresh_db();
    let dir = migrations(&[(
        "0001_t.sql",
        "CREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY t_a ON t (a);",
    )]);
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(5);
    r.stderr_has("cannot run inside a transaction block");
    assert!(!db.table_exists("t"));
}

#[test]
fn a_silent_rollback_is_exit_6_every_time_never_a_loop_of_exit_0() {
    // Seed 000: the migration "succeeded" but the version never moved.
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_a.sql", "CREATE TABLE a (id int);"),
        ("0002_sneaky.sql", "CREATE TABLE b (id int);\nROLLBACK;\n"),
    ]);
    for _ in 0..2 {
        let r = db.sg(dir.path()).args(&["run"]).run();
        r.assert_code(6);
        assert!(
            r.stderr
                .contains("version 2 (0002_sneaky.sql) ran without error but is not recorded"),
            "{}",
            r.stderr
        );
    }
    assert!(!db.table_exists("b"));
    assert_eq!(db.history(), vec!["1|a|true"]);
}

#[test]
fn existing_tables_without_history_suggest_a_baseline() {
    // Seed 002, case 1: the tables exist but no version is recorded. Nothing is
    // run (no DuplicateTableError loop); the message names the baseline to take.
    let db = shared().fresh_db();
    db.psql("CREATE TABLE users (id int); CREATE TABLE orders (id int)");
    let r = db.sg(&example_migrations()).args(&["run"]).run();
    r.assert_code(5);
    assert!(
        r.stderr
            .contains("the database already has tables (public.orders, public.users)"),
        "{}",
        r.stderr
    );
    r.stderr_has("schemagate baseline --version 2");
    assert_eq!(db.history().len(), 0);
}

/// A 42P07 on the first file of an empty history still points at a baseline
/// (tables created in a schema `run` does not look at, e.g. by the file itself).
#[test]
fn relation_exists_on_an_empty_history_hints_at_a_baseline() {
    let db = shared().fresh_db();
    db.psql("CREATE SCHEMA app; CREATE TABLE app.t (id int)");
    db.psql("DROP TABLE app.t; CREATE VIEW app.t AS SELECT 1 AS id");
    let dir = migrations(&[("0001_t.sql", "CREATE TABLE app.t (id int);")]);
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(5);
    r.stderr_has("SQLSTATE 42P07");
    r.stderr_has("schemagate baseline --version");
}

#[test]
fn crlf_files_match_their_lf_checksum() {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a (\r\n  id int\r\n);\r\n")]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    std::fs::write(dir.path().join("0001_a.sql"), "CREATE TABLE a (\n  id int\n);\n").unwrap();
    db.sg(dir.path()).args(&["verify"]).run().assert_code(0);
}

#[test]
fn out_of_order_files_are_refused_unless_allowed() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_a.sql", "CREATE TABLE a ();"),
        ("0003_c.sql", "CREATE TABLE c ();"),
    ]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    std::fs::write(dir.path().join("0002_b.sql"), "CREATE TABLE b ();").unwrap();
    let refused = db.sg(dir.path()).args(&["run"]).run();
    refused.assert_code(6);
    assert!(
        refused
            .stderr
            .contains("version 2 (0002_b.sql) is pending but lower than the highest applied version 3"),
        "{}",
        refused.stderr
    );
    assert!(!db.table_exists("b"));
    db.sg(dir.path())
        .args(&["run"])
        .env("SCHEMAGATE_OUT_OF_ORDER", "true")
        .run()
        .assert_code(0);
    assert!(db.table_exists("b"));
    assert_eq!(db.history().len(), 3);
}

#[test]
fn invalid_migration_sets_are_exit_2_before_touching_the_database() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_a.sql", ""),
        ("1_dup.sql", ""),
        ("oops.sql", ""),
        ("notes.md", "ignored"),
    ]);
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(2);
    assert!(
        r.stderr
            .contains("version 1 is claimed by more than one file: 0001_a.sql, 1_dup.sql"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("oops.sql: the name does not start with a version number"),
        "{}",
        r.stderr
    );
    assert!(!db.table_exists("schemagate_history"));
    // Also when the database is not there at all: the file check does not wait for it.
    let r = Sg::new()
        .env(
            "DATABASE_URL",
            &format!("postgres://u@127.0.0.1:{}/x", common::free_port()),
        )
        .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
        .args(&["run"])
        .run();
    r.assert_code(2);
}

#[test]
fn a_custom_history_table_in_another_schema() {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a ();")]);
    let r = db
        .sg(dir.path())
        .args(&["run", "--history-table", "ops.Deploy History"])
        .run();
    r.assert_code(0);
    assert_eq!(db.history_of("ops.\"Deploy History\""), vec!["1|a|true"]);
    assert!(!db.table_exists("schemagate_history"));
    db.sg(dir.path())
        .env("SCHEMAGATE_HISTORY_TABLE", "ops.Deploy History")
        .args(&["verify"])
        .run()
        .assert_code(0);
    // A hostile name is just a strange table name.
    let evil = "x\"; DROP TABLE a; --";
    let db = shared().fresh_db();
    db.psql("CREATE TABLE a ()");
    let none = migrations(&[]);
    db.sg(none.path())
        .env("SCHEMAGATE_HISTORY_TABLE", evil)
        .args(&["run"])
        .run()
        .assert_code(0);
    assert!(db.table_exists("a"));
    assert_eq!(
        db.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'x\"; DROP TABLE a; --'"),
        "1\n"
    );
}

#[test]
fn create_database_when_asked() {
    let cluster = shared();
    let name = format!("created_{}", std::process::id());
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a ();")]);
    let sg = || {
        Sg::new()
            .env("DATABASE_URL", &cluster.url(&name))
            .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
    };
    let missing = sg().args(&["run"]).run();
    missing.assert_code(3);
    missing.stderr_has("SCHEMAGATE_CREATE_DATABASE=true");
    sg().env("SCHEMAGATE_CREATE_DATABASE", "true")
        .args(&["run"])
        .run()
        .assert_code(0);
    assert_eq!(cluster.psql(&name, "SELECT count(*) FROM schemagate_history"), "1\n");
}

#[test]
fn new_creates_the_next_numbered_file() {
    let dir = migrations(&[("0001_a.sql", ""), ("0009_b.sql", "")]);
    let r = Sg::new()
        .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
        .args(&["new", "Add Orders"])
        .run();
    r.assert_code(0);
    let created = dir.path().join("0010_add_orders.sql");
    assert_eq!(r.stdout.trim(), created.to_str().unwrap());
    let text = std::fs::read_to_string(&created).unwrap();
    assert!(text.starts_with("-- add_orders\n"), "{text}");
    // The header describes the directive without switching it on.
    assert_eq!(
        schemagate::migration::transaction_mode(&text),
        schemagate::migration::TransactionMode::PerMigration
    );

    let fresh = tempfile::tempdir().unwrap();
    let sub = fresh.path().join("db/migrations");
    Sg::new()
        .args(&["new", "init", "--migrations-dir", sub.to_str().unwrap()])
        .run()
        .assert_code(0);
    assert!(sub.join("0001_init.sql").exists());
    Sg::new()
        .args(&["new", "!!!", "--migrations-dir", sub.to_str().unwrap()])
        .run()
        .assert_code(2);
}

#[test]
fn an_empty_migration_directory_is_fine() {
    let db = shared().fresh_db();
    let dir = migrations(&[]);
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(0);
    r.stderr_has("nothing to apply");
    db.sg(dir.path()).args(&["verify"]).run().assert_code(0);
}

/// `schemagate status | head`: the reader closes the pipe early. That is a
/// normal end (exit 0), not a panic reported as an internal error (exit 1).
#[test]
fn status_into_a_closed_pipe_is_a_normal_end() {
    use std::io::Read;
    let db = shared().fresh_db();
    let dir = tempfile::tempdir().unwrap();
    // Pending versions are listed too: 3000 lines, far more than a pipe holds.
    for v in 1..=3000 {
        std::fs::write(dir.path().join(format!("{v:05}_m.sql")), "SELECT 1;").unwrap();
    }
    let mut child = db.sg(dir.path()).args(&["status"]).spawn();
    let mut head = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    let r = common::wait_output(child);
    r.assert_code(0);
    assert!(!r.stderr.contains("internal error"), "{}", r.stderr);
    assert!(String::from_utf8_lossy(&head).starts_with("database version: none"));
}
