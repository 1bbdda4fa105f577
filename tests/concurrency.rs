//! Several runners at once, the lock, and signals: SIGTERM, SIGINT, SIGKILL.

mod common;

use std::time::{Duration, Instant};

use common::{eventually, migrations, shared, wait_output, TestDb};

const SLOW: &str = "CREATE TABLE slow_marker (id int);\nSELECT pg_sleep(30);\n";

fn lock_holders(db: &TestDb) -> String {
    db.psql(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
}

fn kill(child: &std::process::Child, signal: i32) {
    unsafe { libc::kill(child.id() as i32, signal) };
}

/// Waits until a runner is inside the pg_sleep migration.
fn wait_for_sleep(db: &TestDb) {
    let found = eventually(Duration::from_secs(20), || {
        db.psql(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND state = 'active' \
             AND datname = current_database() AND pid <> pg_backend_pid()",
        ) == "1\n"
    });
    assert!(found, "the slow migration never started");
}

#[test]
fn eight_runs_at_once_all_succeed_and_apply_each_migration_once() {
    let db = shared().fresh_db();
    let files: Vec<(String, String)> = (1..=20)
        .map(|i| (format!("{i:04}_t{i}.sql"), format!("CREATE TABLE t{i} (id int);")))
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let dir = migrations(&refs);
    let children: Vec<_> = (0..8).map(|_| db.sg(dir.path()).args(&["run"]).spawn()).collect();
    for child in children {
        wait_output(child).assert_code(0);
    }
    assert_eq!(
        db.psql("SELECT count(*), count(DISTINCT migration_version) FROM schemagate_history"),
        "20|20\n"
    );
    assert_eq!(lock_holders(&db), "0\n");
}

#[test]
fn lock_timeout_is_exit_4_and_names_the_holder() {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_slow.sql", SLOW)]);
    let holder = db.sg(dir.path()).args(&["run"]).spawn();
    wait_for_sleep(&db);
    let start = Instant::now();
    let r = db.sg(dir.path()).args(&["run", "--lock-timeout", "1s"]).run();
    r.assert_code(4);
    assert!(start.elapsed() < Duration::from_secs(10));
    r.stderr_has("migration lock not acquired within");
    r.stderr_has("application_name 'schemagate'");
    kill(&holder, libc::SIGTERM);
    wait_output(holder).assert_code(143);
}

#[test]
fn sigterm_during_a_migration_cancels_it_rolls_back_and_exits_143() {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_fast.sql", "CREATE TABLE fast ();"), ("0002_slow.sql", SLOW)]);
    let child = db.sg(dir.path()).args(&["run"]).spawn();
    wait_for_sleep(&db);
    let start = Instant::now();
    kill(&child, libc::SIGTERM);
    let r = wait_output(child);
    r.assert_code(143);
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    r.stderr_has("interrupted by SIGTERM");
    assert!(
        !db.table_exists("slow_marker"),
        "the cancelled migration must roll back"
    );
    assert_eq!(db.history(), vec!["1|fast|true"]);
    assert!(
        eventually(Duration::from_secs(5), || lock_holders(&db) == "0\n"),
        "lock still held"
    );
    // The next run picks up where it stopped.
    std::fs::write(dir.path().join("0002_slow.sql"), "CREATE TABLE slow_marker (id int);").unwrap();
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
}

#[test]
fn sigint_during_a_migration_exits_130() {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_slow.sql", SLOW)]);
    let child = db.sg(dir.path()).args(&["run"]).spawn();
    wait_for_sleep(&db);
    kill(&child, libc::SIGINT);
    let r = wait_output(child);
    r.assert_code(130);
    assert!(!db.table_exists("slow_marker"));
    assert!(db.history().is_empty());
}

#[test]
fn sigterm_while_waiting_for_the_database_exits_at_once() {
    let port = common::free_port();
    let child = common::Sg::new()
        .env("DATABASE_URL", &format!("postgres://u@127.0.0.1:{port}/db"))
        .env("SCHEMAGATE_WAIT_TIMEOUT", "60s")
        .args(&["wait"])
        .spawn();
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    kill(&child, libc::SIGTERM);
    wait_output(child).assert_code(143);
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn sigkill_mid_migration_frees_the_lock_within_seconds() {
    // The server notices the dead client through client_connection_check_interval
    // and ends its session, releasing the advisory lock and rolling back.
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_slow.sql", SLOW)]);
    let child = db.sg(dir.path()).args(&["run"]).spawn();
    wait_for_sleep(&db);
    kill(&child, libc::SIGKILL);
    let _ = wait_output(child);
    let start = Instant::now();
    assert!(
        eventually(Duration::from_secs(10), || lock_holders(&db) == "0\n"),
        "lock not freed within 10 s"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(!db.table_exists("slow_marker"));
    std::fs::write(dir.path().join("0001_slow.sql"), "CREATE TABLE slow_marker (id int);").unwrap();
    let r = db.sg(dir.path()).args(&["run", "--lock-timeout", "5s"]).run();
    r.assert_code(0);
}

#[test]
fn a_waiting_runner_takes_over_when_the_holder_finishes() {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_pause.sql", "SELECT pg_sleep(2);\nCREATE TABLE paused ();")]);
    let first = db.sg(dir.path()).args(&["run"]).spawn();
    assert!(eventually(Duration::from_secs(10), || lock_holders(&db) == "1\n"));
    let second = db.sg(dir.path()).args(&["run"]).run();
    second.assert_code(0);
    second.stderr_has("waiting for the migration lock held by pid");
    second.stderr_has("nothing to apply");
    wait_output(first).assert_code(0);
    assert_eq!(db.history().len(), 1);
}

#[test]
fn a_waiting_runner_does_not_deadlock_a_concurrent_index_build() {
    // Found by tests/e2e (--scale migrate=3): a waiter blocked inside
    // pg_advisory_lock holds a snapshot that CREATE INDEX CONCURRENTLY waits
    // for, while the waiter waits for the lock: a deadlock (40P01).
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_t.sql", "CREATE TABLE t (a int);\nSELECT pg_sleep(1.5);"),
        (
            "0002_idx.sql",
            "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY t_a ON t (a);",
        ),
    ]);
    let children: Vec<_> = (0..3).map(|_| db.sg(dir.path()).args(&["run"]).spawn()).collect();
    for child in children {
        wait_output(child).assert_code(0);
    }
    assert_eq!(db.history(), vec!["1|t|true", "2|idx|true"]);
}
