//! The history table itself: Flyway's dotted versions, the in-place upgrade
//! of a table written by the previous release, what happens when a newer
//! release's table meets this one, and a server log free of ERROR lines.

mod common;

use common::{migrations, shared, status_states, Cluster};

/// The table exactly as schemagate 0.1 created it (format 1, no marker).
const FORMAT_1_TABLE: &str = "CREATE TABLE schemagate_history (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version      bigint      UNIQUE,
    name         text        NOT NULL,
    checksum     text        NOT NULL,
    kind         text        NOT NULL DEFAULT 'sql',
    applied_at   timestamptz NOT NULL DEFAULT now(),
    execution_ms bigint      NOT NULL DEFAULT 0,
    success      boolean     NOT NULL,
    applied_by   text        NOT NULL DEFAULT '')";

/// `V1.1__x.sql` and `V2_1__x.sql` (Flyway reads `_` inside the version as a
/// dot) are versions 1.1 and 2.1, applied part by part in numeric order.
#[test]
fn flyway_dotted_and_underscored_versions_apply_in_order() {
    let db = shared().fresh_db();
    let log = "CREATE TABLE IF NOT EXISTS log (n serial, v text); INSERT INTO log (v) VALUES";
    let dir = migrations(&[
        ("V10__ten.sql", &format!("{log} ('10');")),
        ("V2_1__under.sql", &format!("{log} ('2.1');")),
        ("V1__one.sql", &format!("{log} ('1');")),
        ("V1.1__more.sql", &format!("{log} ('1.1');")),
        ("V2__two.sql", &format!("{log} ('2');")),
    ]);
    let r = db.sg(dir.path()).args(&["run", "--target", "2"]).run();
    r.assert_code(0).stderr_has("applied 3 migration(s) [1, 1.1, 2]");
    assert_eq!(db.psql("SELECT string_agg(v, ',' ORDER BY n) FROM log"), "1,1.1,2\n");
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert_eq!(
        db.psql("SELECT string_agg(v, ',' ORDER BY n) FROM log"),
        "1,1.1,2,2.1,10\n"
    );
    assert_eq!(
        db.history(),
        [
            "1|one|true",
            "1.1|more|true",
            "2|two|true",
            "2.1|under|true",
            "10|ten|true"
        ]
    );
    assert_eq!(
        status_states(db.sg(dir.path())),
        ["1:applied", "1.1:applied", "2:applied", "2.1:applied", "10:applied"]
    );
    // A dotted version below the highest applied one is out of order.
    std::fs::write(dir.path().join("V2.0.5__late.sql"), "SELECT 1;").unwrap();
    let late = db.sg(dir.path()).args(&["run"]).run();
    late.assert_code(6)
        .stderr_has("version 2.0.5 (V2.0.5__late.sql) is pending but lower than the highest applied version 10");
}

/// Flyway's own history, with dotted versions, imports as the same versions.
#[test]
fn import_from_flyway_maps_dotted_versions_exactly() {
    let db = shared().fresh_db();
    db.psql(
        "CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), \
         description varchar(200), type varchar(20), script varchar(1000), checksum int, installed_by varchar(100), \
         installed_on timestamp DEFAULT now(), execution_time int, success boolean); \
         INSERT INTO flyway_schema_history VALUES (1, '1', 'one', 'SQL', 'V1__one.sql', 0, 'x', now(), 1, true), \
         (2, '1.1', 'more', 'SQL', 'V1.1__more.sql', 0, 'x', now(), 1, true), \
         (3, '2.1', 'under', 'SQL', 'V2_1__under.sql', 0, 'x', now(), 1, true)",
    );
    let dir = migrations(&[
        ("V1__one.sql", "SELECT 1;"),
        ("V1.1__more.sql", "SELECT 1;"),
        ("V2_1__under.sql", "SELECT 1;"),
        ("V3__three.sql", "CREATE TABLE three ();"),
    ]);
    let r = db.sg(dir.path()).args(&["import", "--from", "flyway"]).run();
    r.assert_code(0);
    assert_eq!(r.stdout, "baseline 1 one\nbaseline 1.1 more\nbaseline 2.1 under\n");
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert!(db.table_exists("three"));
    assert_eq!(
        status_states(db.sg(dir.path())),
        ["1:baseline", "1.1:baseline", "2.1:baseline", "3:applied"]
    );
}

/// A table written by schemagate 0.1 (format 1, bigint versions): read-only
/// commands read it as it is, the first writer upgrades it in place under
/// the lock, keeping every row, and a 0.1 binary can no longer read it.
#[test]
fn a_format_1_table_is_read_as_it_is_and_upgraded_in_place_by_the_first_writer() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_a.sql", "CREATE TABLE a ();"),
        ("0002_b.sql", "CREATE TABLE b ();"),
        ("0003_c.sql", "CREATE TABLE c ();"),
    ]);
    let sha = |name: &str| sha256_of(&std::fs::read_to_string(dir.path().join(name)).unwrap());
    db.psql(FORMAT_1_TABLE);
    db.psql(&format!(
        "CREATE TABLE a (); CREATE TABLE b (); \
         INSERT INTO schemagate_history (version, name, checksum, kind, applied_at, execution_ms, success, applied_by) \
         VALUES (1, 'a', '{}', 'baseline', '2025-01-02 03:04:05+00', 0, true, 'old-pod'), \
                (2, 'b', '{}', 'sql', '2025-01-03 03:04:05+00', 7, true, 'old-pod'), \
                (NULL, 'views', 'cafe', 'repeatable', '2025-01-03 03:04:06+00', 1, true, 'old-pod')",
        sha("0001_a.sql"),
        sha("0002_b.sql"),
    ));
    // Read-only commands read format 1 as it is and change nothing.
    let pending = db.sg(dir.path()).args(&["verify"]).run();
    pending.assert_code(6).stderr_has("version 3 (0003_c.sql) is pending");
    assert_eq!(
        status_states(db.sg(dir.path())),
        ["1:baseline", "2:applied", "3:pending"]
    );
    assert_eq!(db.psql("SELECT obj_description('schemagate_history'::regclass)"), "\n");

    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(0)
        .stderr_has("upgraded the history table \"public\".\"schemagate_history\" to format 2")
        .stderr_has("applied 1 migration(s) [3]");
    assert!(db.table_exists("c"));
    assert_eq!(
        db.psql(
            "SELECT migration_version || ' ' || kind || ' ' || applied_at || ' ' || applied_by || ' ' || \
             (finished_at IS NOT NULL) FROM schemagate_history WHERE migration_version IN ('1', '2') \
             ORDER BY migration_version"
        ),
        "1 baseline 2025-01-02 03:04:05+00 old-pod true\n2 sql 2025-01-03 03:04:05+00 old-pod true\n"
    );
    assert_eq!(
        db.psql("SELECT count(*) FROM schemagate_history WHERE migration_version IS NULL AND name = 'views'"),
        "1\n"
    );
    assert!(db
        .psql("SELECT obj_description('schemagate_history'::regclass)")
        .starts_with("schemagate history format=2 compatible=2;"));
    // What the 0.1 binary reads first no longer exists, so it stops there
    // (exit 1 on 'column "version" does not exist') and never writes.
    let old_read = db.cluster.try_psql(&db.name, "SELECT version FROM schemagate_history");
    assert!(!old_read.status.success());
    assert!(String::from_utf8_lossy(&old_read.stderr).contains("column \"version\" does not exist"));
    db.sg(dir.path()).args(&["verify"]).run().assert_code(0);
}

/// A table written by a newer release is used when its marker says this
/// release can handle it, and refused, naming both formats, when not.
#[test]
fn a_newer_format_is_used_when_compatible_and_refused_otherwise() {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a ();")]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    std::fs::write(dir.path().join("0002_b.sql"), "CREATE TABLE b ();").unwrap();

    db.psql("COMMENT ON TABLE schemagate_history IS 'schemagate history format=3 compatible=2; newer'");
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert!(db.table_exists("b"));

    db.psql("COMMENT ON TABLE schemagate_history IS 'schemagate history format=3 compatible=3; newer'");
    std::fs::write(dir.path().join("0003_c.sql"), "CREATE TABLE c ();").unwrap();
    for command in ["run", "verify", "status"] {
        let r = db.sg(dir.path()).args(&[command]).run();
        r.assert_code(2)
            .stderr_has("has history format 3 (readable from format 3 on), written by a newer schemagate")
            .stderr_has("this one knows format 2");
    }
    assert!(!db.table_exists("c"));
    assert_eq!(db.history().len(), 2);
}

/// DBAs watch the server log for ERROR lines: a first run (no history table
/// yet) and a no-op run must leave none.
#[test]
fn a_fresh_run_and_a_no_op_run_leave_no_error_in_the_server_log() {
    let cluster = Cluster::start();
    let db = cluster.fresh_db();
    let dir = migrations(&[
        ("0001_a.sql", "CREATE TABLE a (id int);"),
        (
            "0002_b.sql",
            "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);",
        ),
    ]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    db.sg(dir.path()).args(&["verify"]).run().assert_code(0);
    db.sg(dir.path()).args(&["status"]).run().assert_code(0);
    let log = cluster.server_log();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR:")).collect();
    assert!(
        errors.is_empty(),
        "the server log has ERROR lines:\n{}",
        errors.join("\n")
    );
}

fn sha256_of(text: &str) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The no-op run is decided by a digest the server computes over the history
/// and the same digest over the files (dotted versions, a repeatable, a
/// non-ASCII name included); any difference reads the rows, so an edited
/// file is still reported as edited.
#[test]
fn the_no_op_run_compares_digests_and_reads_the_rows_only_when_they_differ() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("V1__one.sql", "CREATE TABLE one ();"),
        ("V1.1__more.sql", "CREATE TABLE more ();"),
        ("V10__ten.sql", "CREATE TABLE ten ();"),
        ("R__vues_été.sql", "CREATE OR REPLACE VIEW v AS SELECT 1 AS x;"),
    ]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    db.sg(dir.path())
        .env("SCHEMAGATE_LOG", "debug")
        .args(&["run"])
        .run()
        .assert_code(0)
        .stderr_has("history digest matches the files (4 rows)")
        .stderr_has("nothing to apply; database at version 10");
    std::fs::write(dir.path().join("V1.1__more.sql"), "CREATE TABLE more (x int);").unwrap();
    db.sg(dir.path())
        .env("SCHEMAGATE_LOG", "debug")
        .args(&["run"])
        .run()
        .assert_code(6)
        .stderr_has("history digest differs from the files: reading the rows")
        .stderr_has("version 1.1 (V1.1__more.sql) was edited after it was applied");
}
