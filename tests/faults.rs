//! Production faults, each against the real component that produces it: a
//! server restarted, crashed, stopped or frozen (SIGSTOP) mid-run, a
//! streaming standby promoted, a multi-host list, PgBouncer in session and
//! transaction pooling, live traffic holding a table lock, a runner killed in
//! a no-transaction file, and a role without the privileges.

mod common;

use std::time::{Duration, Instant};

use common::faults::{PgBouncer, PoolMode, Restart};
use common::{eventually, migrations, wait_output, Cluster, Sg};

/// The server's backends of this database running `query_like`.
fn running(db: &common::TestDb, query_like: &str) -> bool {
    db.cluster
        .try_psql(
            &db.name,
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '{query_like}' \
                 AND pid <> pg_backend_pid()"
            ),
        )
        .stdout
        .starts_with(b"1")
}

fn slow_set() -> tempfile::TempDir {
    migrations(&[
        ("0001_a.sql", "CREATE TABLE a (id int);"),
        (
            "0002_slow.sql",
            "CREATE TABLE b (id int);\nSELECT pg_sleep(2.5);\nINSERT INTO b VALUES (1);",
        ),
        ("0003_c.sql", "CREATE TABLE c (id int);"),
    ])
}

/// A restart or a crash in the middle of a migration: the runner reconnects,
/// takes the lock again, reads the history again, and applies the
/// interrupted migration once (the server rolled it back). Exit 0.
#[test]
fn a_restart_or_a_crash_mid_migration_is_survived_and_nothing_is_applied_twice() {
    for how in [Restart::Fast, Restart::Crash] {
        let cluster = Cluster::start();
        let db = cluster.fresh_db();
        let dir = slow_set();
        let child = db.sg(dir.path()).env("SCHEMAGATE_WAIT_TIMEOUT", "30s").spawn();
        assert!(
            eventually(Duration::from_secs(20), || running(&db, "%pg_sleep%")),
            "0002 never started"
        );
        cluster.restart(how);
        let r = wait_output(child);
        r.assert_code(0)
            .stderr_has("lost the connection while applying 0002_slow.sql")
            .stderr_has("applied 0002_slow.sql");
        assert_eq!(db.history(), ["1|a|true", "2|slow|true", "3|c|true"], "{how:?}");
        assert_eq!(db.psql("SELECT count(*) FROM b"), "1\n", "{how:?}");
    }
}

/// A server that does not come back within the wait timeout is exit 3.
#[test]
fn a_server_that_stays_down_is_exit_3() {
    let cluster = Cluster::start();
    let db = cluster.fresh_db();
    let dir = slow_set();
    let child = db.sg(dir.path()).env("SCHEMAGATE_WAIT_TIMEOUT", "2s").spawn();
    assert!(eventually(Duration::from_secs(20), || running(&db, "%pg_sleep%")));
    cluster.stop();
    let r = wait_output(child);
    r.assert_code(3).stderr_has("unreachable after waiting");
}

/// `verify --wait`, the app Pods' gate, outlives a restart of the server.
#[test]
fn verify_wait_outlives_a_restart() {
    let cluster = Cluster::start();
    let db = cluster.fresh_db();
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a ();")]);
    let gate = db
        .sg(dir.path())
        .env("SCHEMAGATE_WAIT_TIMEOUT", "30s")
        .args(&["verify", "--wait"])
        .spawn();
    std::thread::sleep(Duration::from_millis(800));
    cluster.restart(Restart::Fast);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    let r = wait_output(gate);
    r.assert_code(0).stderr_has("database is at head");
}

/// The one-shot commands report a server lost after connecting as exit 3
/// (the operator's problem), not 1 (a bug).
#[test]
fn a_server_lost_during_verify_is_exit_3() {
    let cluster = Cluster::start();
    let db = cluster.fresh_db();
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a ();")]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    std::fs::create_dir(dir.path().join("verify")).unwrap();
    std::fs::write(dir.path().join("verify/slow.sql"), "SELECT pg_sleep(20) IS NULL;").unwrap();
    let child = db.sg(dir.path()).args(&["verify"]).spawn();
    assert!(eventually(Duration::from_secs(20), || running(&db, "%pg_sleep%")));
    cluster.restart(Restart::Fast);
    let r = wait_output(child);
    r.assert_code(3)
        .stderr_has("lost the connection to the database while running a verify script");
}

/// A hot standby is "not ready yet": `run` waits, and exits 3 saying so at
/// the timeout; promoting it during the wait lets the run finish.
#[test]
fn a_standby_is_waited_for_and_a_promotion_ends_the_wait() {
    let primary = Cluster::start();
    let db = primary.fresh_db();
    let standby = primary.standby();
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a ();")]);
    let on_standby = |wait: &str| {
        Sg::new()
            .env("DATABASE_URL", &standby.url(&db.name))
            .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
            .env("SCHEMAGATE_WAIT_TIMEOUT", wait)
    };
    let r = on_standby("2s").args(&["run"]).run();
    r.assert_code(3).stderr_has("read-only standby");
    let child = on_standby("30s").args(&["run"]).spawn();
    std::thread::sleep(Duration::from_millis(1500));
    standby.promote();
    let r = wait_output(child);
    r.assert_code(0).stderr_has("applied 1 migration(s)");
    assert_eq!(standby.psql(&db.name, "SELECT to_regclass('a') IS NOT NULL"), "t\n");
}

/// `host=a,b,c` with target_session_attrs: a dead server and a standby are
/// passed over for the primary, as libpq does (Patroni, CloudNativePG).
#[test]
fn a_multi_host_list_finds_the_primary() {
    let primary = Cluster::start();
    let db = primary.fresh_db();
    let standby = primary.standby();
    let dead = common::free_port();
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a ();")]);
    for attrs in ["read-write", "primary"] {
        let url = format!(
            "postgres://postgres:{}@127.0.0.1:{dead},127.0.0.1:{},127.0.0.1:{}/{}?target_session_attrs={attrs}",
            common::PASSWORD,
            standby.port,
            primary.port,
            db.name
        );
        let r = Sg::new()
            .env("DATABASE_URL", &url)
            .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
            .args(&["run"])
            .run();
        r.assert_code(0);
    }
    assert!(db.table_exists("a"));
    let bad = Sg::new()
        .env("DATABASE_URL", "postgres://h1,h2/d?target_session_attrs=standby")
        .args(&["run"])
        .run();
    bad.assert_code(2)
        .stderr_has("DATABASE_URL")
        .stderr_has("'standby' is not supported");
}

/// SIGTERM while the server is frozen (SIGSTOP: a storage stall, a
/// partition): the cancel request cannot be answered, yet the exit comes
/// within 5 s, with 143.
#[test]
fn sigterm_with_a_frozen_server_exits_143_within_5_seconds() {
    let cluster = Cluster::start();
    let db = cluster.fresh_db();
    let dir = migrations(&[("0001_slow.sql", "SELECT pg_sleep(60);")]);
    let mut child = db.sg(dir.path()).spawn();
    assert!(eventually(Duration::from_secs(20), || running(&db, "%pg_sleep%")));
    cluster.freeze();
    let start = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let exited = eventually(Duration::from_secs(10), || child.try_wait().unwrap().is_some());
    let took = start.elapsed();
    cluster.thaw();
    assert!(exited, "still running 10 s after SIGTERM");
    let r = wait_output(child);
    r.assert_code(143);
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
}

/// Live traffic: an idle-in-transaction session holds a lock on the table a
/// migration alters. The ALTER waits at most the DDL lock timeout per
/// attempt, so the application's queries on that table never queue behind
/// it for long; each retry names the blocker; the migration applies once the
/// blocker is gone.
#[test]
fn ddl_behind_an_idle_transaction_retries_without_stalling_the_application() {
    let cluster = Cluster::start();
    let db = cluster.fresh_db();
    let dir = with_table_t(&db);
    std::fs::write(dir.path().join("0002_alter.sql"), "ALTER TABLE t ADD COLUMN c int;").unwrap();
    let blocker = hold_table(&db, "t", 4);
    let child = db
        .sg(dir.path())
        .env("SCHEMAGATE_DDL_LOCK_TIMEOUT", "500ms")
        .env("SCHEMAGATE_LOCK_TIMEOUT", "60s")
        .spawn();
    // The application keeps reading t: no read may wait anywhere near the
    // blocker's 4 s (statement_timeout 1.5 s turns a stall into a failure).
    let reads = application_reads(&db, "t", Duration::from_secs(3));
    let r = wait_output(child);
    blocker.join().unwrap();
    r.assert_code(0)
        .stderr_has("0002_alter.sql: waited 500ms for a table lock")
        .stderr_has("application_name 'blocker'")
        .stderr_has("idle in transaction")
        .stderr_has("SELECT * FROM t")
        .stderr_has("applied 1 migration(s)");
    assert!(reads.iter().all(|ok| *ok), "an application read stalled: {reads:?}");
    assert!(reads.len() >= 5, "{reads:?}");
    assert_eq!(
        db.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'c'"),
        "1\n"
    );
}

/// When the lock budget runs out: exit 5 naming the blocker, nothing applied.
#[test]
fn a_blocker_that_outlives_the_lock_budget_is_exit_5_naming_it_with_nothing_applied() {
    let cluster = Cluster::start();
    let db = cluster.fresh_db();
    let dir = with_table_t(&db);
    std::fs::write(
        dir.path().join("0002_alter.sql"),
        "CREATE TABLE side (id int);\nALTER TABLE t ADD COLUMN c int;",
    )
    .unwrap();
    let blocker = hold_table(&db, "t", 8);
    let r = db
        .sg(dir.path())
        .env("SCHEMAGATE_DDL_LOCK_TIMEOUT", "500ms")
        .env("SCHEMAGATE_LOCK_TIMEOUT", "2s")
        .run();
    blocker.join().unwrap();
    r.assert_code(5)
        .stderr_has("migration 0002_alter.sql failed")
        .stderr_has("SQLSTATE 55P03")
        .stderr_has("gave up after")
        .stderr_has("application_name 'blocker'")
        .stderr_has("Nothing of 0002_alter.sql was applied");
    assert!(!db.table_exists("side"));
    assert_eq!(db.history(), ["1|t|true"]);
}

/// `-- schemagate:lock-timeout 0`: a file that must wait, waits, with no
/// retries.
#[test]
fn a_file_can_choose_to_wait_for_its_locks() {
    let cluster = Cluster::start();
    let db = cluster.fresh_db();
    let dir = with_table_t(&db);
    std::fs::write(
        dir.path().join("0002_alter.sql"),
        "-- schemagate:lock-timeout 0\nALTER TABLE t ADD COLUMN c int;",
    )
    .unwrap();
    let blocker = hold_table(&db, "t", 2);
    let r = db.sg(dir.path()).env("SCHEMAGATE_DDL_LOCK_TIMEOUT", "200ms").run();
    blocker.join().unwrap();
    r.assert_code(0);
    assert!(!r.stderr.contains("waited"), "{}", r.stderr);
}

/// A runner SIGKILLed in the middle of a no-transaction file leaves its
/// started row; the next run refuses (exit 6) instead of running the file
/// again from the top, names the file and the repair step; after the
/// operator's fix, `repair` clears the row.
#[test]
fn a_no_transaction_file_interrupted_by_a_kill_is_never_silently_run_again() {
    let cluster = Cluster::start();
    let db = cluster.fresh_db();
    let dir = migrations(&[
        ("0001_log.sql", "CREATE TABLE log (n int);"),
        (
            "0002_steps.sql",
            "-- schemagate:no-transaction\nINSERT INTO log VALUES (1);\nSELECT pg_sleep(30);\nINSERT INTO log VALUES (2);",
        ),
    ]);
    let mut child = db.sg(dir.path()).spawn();
    assert!(eventually(Duration::from_secs(20), || running(&db, "%pg_sleep%")));
    child.kill().unwrap();
    let _ = child.wait();
    assert!(eventually(Duration::from_secs(10), || !running(&db, "%pg_sleep%")));
    let again = db.sg(dir.path()).run();
    again
        .assert_code(6)
        .stderr_has("version 2 (0002_steps.sql) ran without a transaction")
        .stderr_has("never finished")
        .stderr_has("schemagate repair");
    assert_eq!(
        db.psql("SELECT string_agg(n::text, ',') FROM log"),
        "1\n",
        "the file ran again"
    );
    let status = db.sg(dir.path()).args(&["status"]).run();
    assert!(
        status.stdout.lines().any(|l| l.contains("incomplete")),
        "{}",
        status.stdout
    );
    db.sg(dir.path()).args(&["verify"]).run().assert_code(6);
    // The operator finishes the file by hand, then clears the row.
    db.psql("INSERT INTO log VALUES (2)");
    let repair = db.sg(dir.path()).args(&["repair"]).run();
    repair.assert_code(0).stdout_has("never finished");
    assert_eq!(db.history(), ["1|log|true"]);
}

/// PostgreSQL 15 lets only the owner create in `public`: a role without
/// the privilege gets exit 3 with the object and the GRANT, not exit 1.
#[test]
fn a_missing_privilege_is_exit_3_with_the_grant_to_give() {
    let cluster = Cluster::start();
    let db = cluster.fresh_db();
    db.psql("CREATE ROLE no_create LOGIN PASSWORD 'pw-no-create'");
    let dir = migrations(&[("0001_a.sql", "SELECT 1;")]);
    let url = format!(
        "postgres://no_create:pw-no-create@127.0.0.1:{}/{}",
        cluster.port, db.name
    );
    let r = Sg::new()
        .env("DATABASE_URL", &url)
        .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
        .args(&["run"])
        .run();
    r.assert_code(3)
        .stderr_has("creating the history table \"public\".\"schemagate_history\"")
        .stderr_has("permission denied for schema public")
        .stderr_has("GRANT CREATE ON SCHEMA \"public\"")
        .never_says("pw-no-create");
}

/// Four runners at once through PgBouncer, in session and in transaction
/// pooling: each exits 0, each migration is applied once, no advisory lock
/// is left on a pooled server connection, and a fifth run takes the lock at
/// once. A no-transaction file runs through the pooler too.
#[test]
fn four_runners_through_pgbouncer_in_either_pooling_mode() {
    for mode in [PoolMode::Transaction, PoolMode::Session] {
        let cluster = Cluster::start();
        let db = cluster.fresh_db();
        let bouncer = PgBouncer::start(&cluster, mode, "");
        let dir = migrations(&[
            ("0001_a.sql", "CREATE TABLE a (id int);\nSELECT pg_sleep(0.5);"),
            (
                "0002_idx.sql",
                "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);",
            ),
            ("0003_b.sql", "CREATE TABLE b (id int);"),
        ]);
        let through = || {
            Sg::new()
                .env("DATABASE_URL", &bouncer.url(&db.name))
                .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
        };
        let runners: Vec<_> = (0..4).map(|_| through().args(&["run"]).spawn()).collect();
        let codes: Vec<i32> = runners.into_iter().map(|c| wait_output(c).code).collect();
        assert_eq!(codes, [0, 0, 0, 0], "{mode:?}: {}", bouncer.log());
        assert_eq!(db.history(), ["1|a|true", "2|idx|true", "3|b|true"], "{mode:?}");
        assert_eq!(
            db.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"),
            "0\n",
            "{mode:?}: a lock was left behind"
        );
        std::fs::write(dir.path().join("0004_c.sql"), "CREATE TABLE c ();").unwrap();
        let fifth = through().args(&["run"]).run();
        fifth.assert_code(0).stderr_has("applied 1 migration(s) [4]");
        assert!(
            !fifth.stderr.contains("waiting for the migration lock"),
            "{}",
            fifth.stderr
        );
        through().args(&["verify"]).run().assert_code(0);
        through().args(&["status"]).run().assert_code(0);
    }
}

/// With `--create-database`, a server (here a pooler whose entry points at
/// another database) that keeps saying the database does not exist after it
/// was created made the wait loop spin with no sleep and no end.
#[test]
fn create_database_does_not_spin_when_the_database_stays_missing() {
    let cluster = Cluster::start();
    let entry = format!(
        "app = host={} port={} dbname=nowhere",
        cluster.root.display(),
        cluster.port
    );
    let bouncer = PgBouncer::start(&cluster, PoolMode::Session, &entry);
    let start = Instant::now();
    let r = Sg::new()
        .env("DATABASE_URL", &bouncer.url("app"))
        .env("SCHEMAGATE_CREATE_DATABASE", "true")
        .env("SCHEMAGATE_WAIT_TIMEOUT", "2s")
        .args(&["wait"])
        .run();
    r.assert_code(3).stderr_has("does not exist");
    assert!(start.elapsed() < Duration::from_secs(15), "{:?}", start.elapsed());
}

/// Table `t` with a row, made by migration 1 and applied; the directory.
fn with_table_t(db: &common::TestDb) -> tempfile::TempDir {
    let dir = migrations(&[("0001_t.sql", "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);")]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    dir
}

/// `BEGIN; SELECT * FROM <table>;`, then idle in transaction for `seconds`,
/// then COMMIT: the classic blocker, in a session named `blocker`.
fn hold_table(db: &common::TestDb, table: &str, seconds: u64) -> std::thread::JoinHandle<()> {
    use std::io::Write;
    let mut child = std::process::Command::new(common::pg_bin().join("psql"))
        .args(["-X", "-q", "-h"])
        .arg(&db.cluster.root)
        .args(["-p", &db.cluster.port.to_string(), "-U", "postgres", "-d", &db.name])
        .env("PGAPPNAME", "blocker")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "BEGIN;\nSELECT * FROM {table};").unwrap();
    stdin.flush().unwrap();
    assert!(eventually(Duration::from_secs(10), || db.psql(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'blocker' AND state = 'idle in transaction'"
    ) == "1\n"));
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(seconds));
        let _ = writeln!(stdin, "COMMIT;");
        drop(stdin);
        let _ = child.wait();
    })
}

/// Reads of `table` for `during`, each allowed 1.5 s: whether each succeeded.
fn application_reads(db: &common::TestDb, table: &str, during: Duration) -> Vec<bool> {
    let start = Instant::now();
    let mut results = Vec::new();
    while start.elapsed() < during {
        let out = db.cluster.try_psql(
            &db.name,
            &format!("SET statement_timeout = '1500ms'; SELECT count(*) FROM {table}"),
        );
        results.push(out.status.success());
        std::thread::sleep(Duration::from_millis(200));
    }
    results
}
