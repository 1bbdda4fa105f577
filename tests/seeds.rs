//! The stories in `../shared/seeds/`, each as a test against the real binary
//! and a real cluster. The test names say which story.

mod common;

use common::{example_migrations, migrations, shared, status_states};

/// Seed 000: the migration "succeeds", the version never moves, the
/// container restarts every 600 ms. Here it is exit 6 on every attempt.
#[test]
fn seed_000_silent_rollback_is_caught_not_looped() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0004_v2_0_3.sql", "CREATE TABLE users (id int PRIMARY KEY);"),
        (
            "0005_v2_1_0.sql",
            "CREATE TABLE deployments (user_id int REFERENCES users (id));\nROLLBACK;\n",
        ),
    ]);
    for attempt in 0..3 {
        let r = db.sg(dir.path()).args(&["run"]).run();
        assert_eq!(r.code, 6, "attempt {attempt}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("version 5 (0005_v2_1_0.sql) ran without error but is not recorded"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(db.history(), vec!["4|v2_0_3|true"]);
    db.sg(dir.path()).args(&["verify"]).run().assert_code(6);
}

/// Seed 002, case 1: tables exist, no version recorded (DuplicateTableError).
#[test]
fn seed_002_tables_exist_but_no_version() {
    let db = shared().fresh_db();
    let dir = example_migrations();
    // The schema as an older deployment made it by hand: files 1 and 2, no history.
    for f in ["0001_create_users.sql", "0002_create_orders.sql"] {
        db.psql(&std::fs::read_to_string(dir.join(f)).unwrap());
    }
    let r = db.sg(&dir).args(&["run"]).run();
    r.assert_code(5);
    r.stderr_has("schemagate baseline --version 2");
    let b = db.sg(&dir).args(&["baseline", "--version", "2"]).run();
    b.assert_code(0);
    assert_eq!(b.stdout, "baseline 1 create_users\nbaseline 2 create_orders\n");
    assert_eq!(
        status_states(db.sg(&dir)),
        vec!["1:baseline", "2:baseline", "3:pending", "4:pending"]
    );
    assert_eq!(db.psql("SELECT DISTINCT kind FROM schemagate_history"), "baseline\n");
    db.sg(&dir).args(&["run"]).run().assert_code(0);
    assert_eq!(
        status_states(db.sg(&dir)),
        vec!["1:baseline", "2:baseline", "3:applied", "4:applied"]
    );
    // Baselined versions are applied, not problems (status used to count them).
    let status = db.sg(&dir).args(&["status"]).run();
    status.stderr_has("4 migration(s), 0 not applied or with problems");
    // A second baseline is refused: the history is no longer empty.
    let again = db.sg(&dir).args(&["baseline", "--version", "4"]).run();
    again.assert_code(2);
    again.stderr_has("already has 4 row(s)");
}

/// Seed 002, case 2: the recorded version points at a file that is gone.
#[test]
fn seed_002_version_references_a_missing_file() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_initial.sql", "CREATE TABLE a (id int);"),
        ("0002_gone.sql", "CREATE TABLE b (id int);"),
        ("0003_last.sql", "CREATE TABLE c (id int);"),
    ]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    // Gone below the highest file: above it, the version would be a newer
    // release's (warned, not an error; tests/rollback.rs).
    std::fs::remove_file(dir.path().join("0002_gone.sql")).unwrap();
    let v = db.sg(dir.path()).args(&["verify"]).run();
    v.assert_code(6);
    v.stderr_has("version 2 (gone) is applied but its file is missing");
    let note = db.sg(dir.path()).args(&["repair"]).run();
    note.assert_code(0);
    note.stdout_has("--forget-missing");
    let dry = db
        .sg(dir.path())
        .args(&["repair", "--forget-missing", "--dry-run"])
        .run();
    dry.assert_code(0);
    assert_eq!(
        dry.stdout,
        "would: version 2 (gone): delete the row of a file that no longer exists\n"
    );
    assert_eq!(db.history().len(), 3, "--dry-run writes nothing");
    let fix = db.sg(dir.path()).args(&["repair", "--forget-missing"]).run();
    fix.assert_code(0);
    assert_eq!(
        fix.stdout,
        "version 2 (gone): delete the row of a file that no longer exists\n"
    );
    assert_eq!(db.history(), vec!["1|initial|true", "3|last|true"]);
    db.sg(dir.path()).args(&["verify"]).run().assert_code(0);
    assert!(db.table_exists("b"), "repair touches the history only");
}

/// Seed 002, case 3: the database's version does not match the files.
#[test]
fn seed_002_version_does_not_match() {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_initial.sql", "CREATE TABLE a (id int);")]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    std::fs::write(
        dir.path().join("0001_initial.sql"),
        "-- reviewed\nCREATE TABLE a (id int);",
    )
    .unwrap();
    db.sg(dir.path()).args(&["verify"]).run().assert_code(6);
    assert_eq!(status_states(db.sg(dir.path())), vec!["1:checksum_mismatch"]);
    let fix = db.sg(dir.path()).args(&["repair"]).run();
    fix.assert_code(0);
    assert!(
        fix.stdout.starts_with("version 1 (0001_initial.sql): checksum "),
        "{}",
        fix.stdout
    );
    db.sg(dir.path()).args(&["verify"]).run().assert_code(0);
}

/// Seed 002, case 4: a fresh database just migrates.
#[test]
fn seed_002_fresh_database() {
    let db = shared().fresh_db();
    db.sg(&example_migrations()).args(&["run"]).run().assert_code(0);
    assert_eq!(db.history().len(), 4);
}

/// Seed 002's `--check-only`: `verify` and `plan` look and write nothing.
#[test]
fn seed_002_check_only_mode_writes_nothing() {
    let db = shared().fresh_db();
    let dir = example_migrations();
    db.sg(&dir).args(&["verify"]).run().assert_code(6);
    let plan = db.sg(&dir).args(&["plan"]).run();
    plan.assert_code(0);
    assert!(
        plan.stdout
            .starts_with("database version: none; 4 migration(s) to apply\n"),
        "{}",
        plan.stdout
    );
    plan.stdout_has("3  0003_index_orders_by_user.sql  sha256:");
    plan.stdout_has("no-transaction");
    let dry = db.sg(&dir).args(&["run", "--dry-run", "--sql"]).run();
    dry.assert_code(0);
    dry.stdout_has("CREATE TABLE users (");
    assert!(!db.table_exists("schemagate_history"));
    assert!(!db.table_exists("users"));
}

/// Seed 004: two files claiming the same version (our "multiple heads").
#[test]
fn seed_004_two_files_with_one_version_are_named() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0002_add_oauth.sql", "SELECT 1;"),
        ("0002_forum_tables.sql", "SELECT 1;"),
        ("0001_init.sql", ""),
    ]);
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(2);
    assert!(
        r.stderr
            .contains("version 2 is claimed by more than one file: 0002_add_oauth.sql, 0002_forum_tables.sql"),
        "{}",
        r.stderr
    );
}

/// Seed 004: upgrade and downgrade to a given version, and stamp.
#[test]
fn seed_004_upgrade_downgrade_to_a_version_and_stamp() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_user.up.sql", "CREATE TABLE \"user\" (id int PRIMARY KEY);"),
        ("0001_user.down.sql", "DROP TABLE \"user\";"),
        ("0002_server.sql", "-- migrate:up\nCREATE TABLE server (owner int REFERENCES \"user\" (id));\n-- migrate:down\nDROP TABLE server;\n"),
        ("0003_server_user.sql", "-- +goose Up\nCREATE TABLE server_user (id int);\n-- +goose Down\nDROP TABLE server_user;\n"),
    ]);
    db.sg(dir.path()).args(&["run", "--target", "2"]).run().assert_code(0);
    assert_eq!(
        status_states(db.sg(dir.path())),
        vec!["1:applied", "2:applied", "3:pending"]
    );
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert!(db.table_exists("server_user"));
    let down = db.sg(dir.path()).args(&["down", "--to", "1"]).run();
    down.assert_code(0);
    assert_eq!(down.stdout, "reverted 3 server_user\nreverted 2 server\n");
    assert!(!db.table_exists("server_user") && !db.table_exists("server") && db.table_exists("\"user\""));
    assert_eq!(db.history(), vec!["1|user|true"]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert_eq!(db.history().len(), 3);

    // Stamp: a database made by hand, recorded as at version 2.
    let stamped = shared().fresh_db();
    stamped.psql("CREATE TABLE \"user\" (id int PRIMARY KEY); CREATE TABLE server (owner int)");
    stamped
        .sg(dir.path())
        .args(&["baseline", "--version", "2"])
        .run()
        .assert_code(0);
    stamped.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert_eq!(
        stamped.history(),
        vec!["1|user|true", "2|server|true", "3|server_user|true"]
    );
}

/// Seed 003: fail-fast, idempotent rerun, down one step, up again.
#[test]
fn seed_003_fail_fast_idempotent_down_one_step_and_up_again() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_songs.up.sql", "CREATE TABLE songs (id int);"),
        ("0001_songs.down.sql", "DROP TABLE songs;"),
        (
            "0002_sketch.up.sql",
            "ALTER TABLE songs ADD COLUMN sketch_id uuid;\nCREATE INDEX ix_songs_sketch_id ON songs (sketch_idd);",
        ),
        (
            "0002_sketch.down.sql",
            "DROP INDEX ix_songs_sketch_id;\nALTER TABLE songs DROP COLUMN sketch_id;",
        ),
    ]);
    // Fail fast: the broken migration stops the run with exit 5, nothing half-done.
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(5);
    assert!(
        r.stderr
            .contains("migration 0002_sketch.up.sql failed: column \"sketch_idd\" does not exist"),
        "{}",
        r.stderr
    );
    assert_eq!(
        db.psql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'sketch_id'"),
        "0\n"
    );
    std::fs::write(
        dir.path().join("0002_sketch.up.sql"),
        "ALTER TABLE songs ADD COLUMN sketch_id uuid;\nCREATE INDEX ix_songs_sketch_id ON songs (sketch_id);",
    )
    .unwrap();
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    // Idempotent: a restart of the migration container changes nothing.
    let again = db.sg(dir.path()).args(&["run"]).run();
    again.assert_code(0);
    again.stderr_has("nothing to apply");
    // Down one step, verify reports it, up again.
    db.sg(dir.path()).args(&["down", "--to", "1"]).run().assert_code(0);
    assert_eq!(
        db.psql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'sketch_id'"),
        "0\n"
    );
    db.sg(dir.path()).args(&["verify"]).run().assert_code(6);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    db.sg(dir.path()).args(&["verify"]).run().assert_code(0);
}
