//! Waiting, connecting and configuration: variables, secrets, exit codes.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{migrations, shared, Cluster, Sg, Tls, PASSWORD};

#[test]
fn wait_exits_zero_once_the_database_answers() {
    let cluster = shared();
    let r = Sg::new()
        .env("DATABASE_URL", &cluster.url("postgres"))
        .args(&["wait"])
        .run();
    r.assert_code(0);
    r.stderr_has("is ready");
}

#[test]
fn run_waits_for_a_database_that_starts_3s_later() {
    let cluster = Cluster::create(Tls::Off);
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a ();")]);
    let child = Sg::new()
        .env("DATABASE_URL", &cluster.url("postgres"))
        .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
        .env("SCHEMAGATE_WAIT_TIMEOUT", "60s")
        .args(&["run"])
        .spawn();
    std::thread::sleep(Duration::from_secs(3));
    cluster.start_server();
    let r = common::wait_output(child);
    r.assert_code(0);
    r.stderr_has("waiting for database postgres@127.0.0.1");
    r.stderr_has("Connection refused");
    assert_eq!(
        cluster.psql("postgres", "SELECT count(*) FROM schemagate_history"),
        "1\n"
    );
}

#[test]
fn a_listener_that_never_answers_times_out_with_exit_3() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let start = Instant::now();
    let r = Sg::new()
        .env(
            "DATABASE_URL",
            &format!("postgres://u:{PASSWORD}@127.0.0.1:{port}/db?sslmode=disable"),
        )
        .env("SCHEMAGATE_WAIT_TIMEOUT", "2s")
        .env("SCHEMAGATE_CONNECT_TIMEOUT", "500ms")
        .args(&["wait"])
        .run();
    r.assert_code(3);
    assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
    r.stderr_has("unreachable after waiting");
    r.stderr_has("no answer within");
    drop(listener);
}

#[test]
fn wait_timeout_zero_means_one_attempt() {
    let port = common::free_port();
    let start = Instant::now();
    let r = Sg::new()
        .env("DATABASE_URL", &format!("postgres://u@127.0.0.1:{port}/db"))
        .env("SCHEMAGATE_WAIT_TIMEOUT", "0")
        .args(&["wait"])
        .run();
    r.assert_code(3);
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_wrong_password_fails_fast_and_is_never_printed() {
    let cluster = shared();
    let secret = "Wr0ng-Pa55word-xyz";
    let term_log = tempfile::NamedTempFile::new().unwrap();
    let start = Instant::now();
    let r = Sg::new()
        .env(
            "DATABASE_URL",
            &format!("postgres://postgres:{secret}@127.0.0.1:{}/postgres", cluster.port),
        )
        .env("SCHEMAGATE_WAIT_TIMEOUT", "30s")
        .env("SCHEMAGATE_LOG", "trace")
        .env("SCHEMAGATE_TERMINATION_LOG", term_log.path().to_str().unwrap())
        .args(&["run", "--migrations-dir", "/nonexistent"])
        .run();
    // Invalid dir is found first (exit 2); with a valid one, auth fails fast (exit 3).
    r.assert_code(2);
    let dir = migrations(&[]);
    let r = Sg::new()
        .env(
            "DATABASE_URL",
            &format!("postgres://postgres:{secret}@127.0.0.1:{}/postgres", cluster.port),
        )
        .env("SCHEMAGATE_WAIT_TIMEOUT", "30s")
        .env("SCHEMAGATE_LOG", "trace")
        .env("SCHEMAGATE_TERMINATION_LOG", term_log.path().to_str().unwrap())
        .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
        .args(&["run"])
        .run();
    r.assert_code(3);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "auth failures must not be retried"
    );
    r.stderr_has("password authentication failed");
    r.never_says(secret);
    let written = std::fs::read_to_string(term_log.path()).unwrap();
    assert!(
        written.starts_with("exit 3: cannot connect to postgres@127.0.0.1"),
        "{written}"
    );
    assert!(!written.contains(secret));
}

#[test]
fn secrets_from_files_and_postgres_variables() {
    let cluster = shared();
    let db = cluster.fresh_db();
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a ();")]);
    let pw = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pw.path(), format!("{PASSWORD}\n")).unwrap();
    let r = Sg::new()
        .env("POSTGRES_HOST", "127.0.0.1")
        .env("POSTGRES_PORT", &cluster.port.to_string())
        .env("POSTGRES_USER", "postgres")
        .env("POSTGRES_PASSWORD_FILE", pw.path().to_str().unwrap())
        .env("POSTGRES_DB", &db.name)
        .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
        .args(&["run"])
        .run();
    r.assert_code(0);
    r.stderr_has("(from POSTGRES_* variables)");
    assert_eq!(db.history(), vec!["1|a|true"]);

    let url_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(url_file.path(), format!("{}\n", db.url())).unwrap();
    let r = Sg::new()
        .env("DATABASE_URL_FILE", url_file.path().to_str().unwrap())
        .env("POSTGRES_HOST", "ignored.invalid")
        .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
        .args(&["verify"])
        .run();
    r.assert_code(0);
    r.stderr_has("(from DATABASE_URL_FILE)");
    r.never_says(PASSWORD);

    // libpq key=value strings work too.
    let kv = format!(
        "host=127.0.0.1 port={} user=postgres password='{PASSWORD}' dbname={}",
        cluster.port, db.name
    );
    Sg::new()
        .env("DATABASE_URL", &kv)
        .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
        .args(&["verify"])
        .run()
        .assert_code(0);
}

#[test]
fn configuration_errors_are_exit_2_and_name_the_variable() {
    let cases: &[(&str, &str, &str)] = &[
        ("SCHEMAGATE_WAIT_TIMEOUT", "soon", "SCHEMAGATE_WAIT_TIMEOUT"),
        ("SCHEMAGATE_CONNECT_TIMEOUT", "5 parsecs", "SCHEMAGATE_CONNECT_TIMEOUT"),
        ("SCHEMAGATE_LOCK_TIMEOUT", "-1", "SCHEMAGATE_LOCK_TIMEOUT"),
        ("SCHEMAGATE_LOG_FORMAT", "xml", "SCHEMAGATE_LOG_FORMAT"),
        ("SCHEMAGATE_LOG", "[[[", "SCHEMAGATE_LOG"),
        ("SCHEMAGATE_OUT_OF_ORDER", "perhaps", "SCHEMAGATE_OUT_OF_ORDER"),
        ("SCHEMAGATE_CREATE_DATABASE", "perhaps", "SCHEMAGATE_CREATE_DATABASE"),
        ("SCHEMAGATE_HISTORY_TABLE", "a.b.c", "SCHEMAGATE_HISTORY_TABLE"),
        (
            "SCHEMAGATE_MIGRATONS_DIR",
            "x",
            "did you mean SCHEMAGATE_MIGRATIONS_DIR",
        ),
        ("DATABASE_URL", "mysql://root:hunter2@h/db", "DATABASE_URL"),
        ("DATABASE_URL", "postgres://root:hunter2@h:99999/db", "port '99999'"),
        (
            "DATABASE_URL_FILE",
            "/nonexistent/url",
            "DATABASE_URL_FILE: cannot read /nonexistent/url",
        ),
        ("POSTGRES_PASSWORD_FILE", "/nonexistent/pw", "POSTGRES_PASSWORD_FILE"),
        ("POSTGRES_PORT", "abc", "POSTGRES_PORT"),
        ("POSTGRES_SSLMODE", "sometimes", "POSTGRES_SSLMODE"),
    ];
    for (var, value, expected) in cases {
        let r = Sg::new().env(var, value).args(&["run"]).run();
        assert_eq!(r.code, 2, "{var}={value}: {}", r.stderr);
        assert!(
            r.stderr.contains(expected),
            "{var}={value}: expected '{expected}' in {}",
            r.stderr
        );
        r.never_says("hunter2");
    }
    let flag = Sg::new()
        .env("SCHEMAGATE_WAIT_TIMEOUT", "1s")
        .args(&["wait", "--wait-timeout", "later"])
        .run();
    flag.assert_code(2);
    flag.stderr_has("--wait-timeout");
    let both = Sg::new()
        .env("POSTGRES_PASSWORD", "a")
        .env("POSTGRES_PASSWORD_FILE", "/x")
        .args(&["run"])
        .run();
    both.assert_code(2);
    both.stderr_has("not both");
}

#[test]
fn usage_errors_are_exit_2_and_help_is_exit_0() {
    let r = Sg::new().args(&["frobnicate"]).run();
    r.assert_code(2);
    let r = Sg::new().args(&["status", "--format", "yaml"]).run();
    r.assert_code(2);
    let help = Sg::new().args(&["--help"]).run();
    help.assert_code(0);
    assert!(
        help.stdout.contains("verify") && help.stdout.contains("--lock-timeout"),
        "{}",
        help.stdout
    );
}

#[test]
fn a_missing_database_is_exit_3_at_once() {
    let cluster = shared();
    let start = Instant::now();
    let dir = migrations(&[]);
    let r = Sg::new()
        .env("DATABASE_URL", &cluster.url("no_such_db"))
        .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
        .args(&["run"])
        .run();
    r.assert_code(3);
    r.stderr_has("database \"no_such_db\" does not exist");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn json_logs_and_the_termination_log() {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a ();")]);
    let term = tempfile::NamedTempFile::new().unwrap();
    let r = db
        .sg(dir.path())
        .env("SCHEMAGATE_LOG_FORMAT", "json")
        .env("SCHEMAGATE_TERMINATION_LOG", term.path().to_str().unwrap())
        .args(&["run"])
        .run();
    r.assert_code(0);
    for line in r.stderr.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["fields"]["message"].is_string(), "{line}");
    }
    r.stderr_has("applied 1 migration(s)");
    let written = std::fs::read_to_string(term.path()).unwrap();
    assert!(written.starts_with("exit 0: applied 1 migration(s) [1]"), "{written}");
    assert_eq!(written.lines().count(), 1);

    // Failures are summarised in one line, too.
    std::fs::write(dir.path().join("0002_bad.sql"), "SELECT 1;\nSELEC 2;").unwrap();
    db.sg(dir.path())
        .env("SCHEMAGATE_TERMINATION_LOG", term.path().to_str().unwrap())
        .args(&["run"])
        .run()
        .assert_code(5);
    let written = std::fs::read_to_string(term.path()).unwrap();
    assert!(
        written.starts_with("exit 5: migration 0002_bad.sql failed at line 2, column 1"),
        "{written}"
    );
    assert_eq!(written.lines().count(), 1);
}

#[test]
fn application_name_defaults_to_schemagate_and_the_url_wins() {
    let db = shared().fresh_db();
    let dir = migrations(&[(
        "0001_a.sql",
        "CREATE TABLE app AS SELECT current_setting('application_name') AS name;",
    )]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert_eq!(db.psql("SELECT name FROM app"), "schemagate\n");
    let dir2 = migrations(&[(
        "0001_a.sql",
        "CREATE TABLE app2 AS SELECT current_setting('application_name') AS name;",
    )]);
    let db = shared().fresh_db();
    let url = format!("{}?application_name=deployer", db.url());
    Sg::new()
        .env("DATABASE_URL", &url)
        .env("SCHEMAGATE_MIGRATIONS_DIR", dir2.path().to_str().unwrap())
        .env("SCHEMAGATE_HISTORY_TABLE", "h2")
        .args(&["run"])
        .run()
        .assert_code(0);
    assert_eq!(db.psql("SELECT name FROM app2"), "deployer\n");
}

#[test]
fn rust_log_is_honoured_when_schemagate_log_is_unset() {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a ();")]);
    // Restore points off: on this cluster without WAL archiving, `auto`
    // would rightly warn.
    let quiet = db
        .sg(dir.path())
        .env("RUST_LOG", "warn")
        .env("SCHEMAGATE_RESTORE_POINT", "off")
        .args(&["run"])
        .run();
    quiet.assert_code(0);
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
    let loud = db
        .sg(dir.path())
        .env("RUST_LOG", "warn")
        .env("SCHEMAGATE_LOG", "info")
        .args(&["run"])
        .run();
    loud.stderr_has("nothing to apply");
}

/// A table of that name that schemagate did not make is refused, named,
/// with its columns (exit 2, nothing written), by writers and readers alike.
#[test]
fn a_table_of_that_name_that_is_not_a_history_is_refused_naming_it() {
    let db = shared().fresh_db();
    db.psql("CREATE TABLE schemagate_history (x int)");
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a ();")]);
    for command in ["run", "verify", "status"] {
        let r = db.sg(dir.path()).args(&[command]).run();
        r.assert_code(2);
        r.stderr_has(
            "the history table \"public\".\"schemagate_history\" exists but is not a schemagate history table",
        );
        r.stderr_has("columns [x]");
    }
    assert!(!db.table_exists("a"));
}
