//! Importing other tools' histories, reading their file layouts, and the
//! operator commands' refusals.

mod common;

use common::{migrations, shared, TestDb};

fn three_files() -> tempfile::TempDir {
    migrations(&[
        ("0001_a.sql", "CREATE TABLE a (id int);"),
        ("0002_b.sql", "CREATE TABLE b (id int);"),
        ("0003_c.sql", "CREATE TABLE c (id int);"),
    ])
}

/// A database where tables a and b were made by another tool.
fn adopted(setup: &str) -> TestDb<'static> {
    let db = shared().fresh_db();
    db.psql("CREATE TABLE a (id int); CREATE TABLE b (id int)");
    db.psql(setup);
    db
}

#[test]
fn import_from_golang_migrate_and_refuse_a_dirty_state() {
    let dir = three_files();
    let db = adopted("CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); INSERT INTO schema_migrations VALUES (2, false)");
    let r = db.sg(dir.path()).args(&["import", "--from", "golang-migrate"]).run();
    r.assert_code(0);
    assert_eq!(r.stdout, "baseline 1 a\nbaseline 2 b\n");
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert!(db.table_exists("c"));

    let dirty = adopted("CREATE TABLE schema_migrations (version bigint, dirty boolean); INSERT INTO schema_migrations VALUES (2, true)");
    let r = dirty.sg(dir.path()).args(&["import", "--from", "golang-migrate"]).run();
    r.assert_code(2);
    assert!(
        r.stderr.contains("marks version 2 as dirty") && r.stderr.contains("migrate force"),
        "{}",
        r.stderr
    );
    assert!(!dirty.table_exists("schemagate_history") || dirty.history().is_empty());
}

#[test]
fn import_from_flyway_and_sqlx_and_dbmate() {
    let dir = three_files();
    let flyway = adopted(
        "CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), description varchar(200), \
         type varchar(20), script varchar(1000), checksum int, installed_by varchar(100), installed_on timestamp DEFAULT now(), \
         execution_time int, success boolean); \
         INSERT INTO flyway_schema_history VALUES (1, '1', 'a', 'SQL', 'V1__a.sql', 0, 'x', now(), 1, true), \
         (2, '2', 'b', 'SQL', 'V2__b.sql', 0, 'x', now(), 1, true), (3, NULL, 'views', 'SQL', 'R__views.sql', 0, 'x', now(), 1, true)",
    );
    let r = flyway.sg(dir.path()).args(&["import", "--from", "flyway"]).run();
    r.assert_code(0);
    assert_eq!(flyway.history(), vec!["1|a|true", "2|b|true"]);

    let sqlx = adopted(
        "CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text, installed_on timestamptz DEFAULT now(), \
         success boolean, checksum bytea, execution_time bigint); INSERT INTO _sqlx_migrations VALUES (1, 'a', now(), true, '', 1), (2, 'b', now(), true, '', 1)",
    );
    sqlx.sg(dir.path())
        .args(&["import", "--from", "sqlx"])
        .run()
        .assert_code(0);
    assert_eq!(sqlx.history().len(), 2);

    let failed = adopted(
        "CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text, installed_on timestamptz DEFAULT now(), \
         success boolean, checksum bytea, execution_time bigint); INSERT INTO _sqlx_migrations VALUES (1, 'a', now(), false, '', 1)",
    );
    let r = failed.sg(dir.path()).args(&["import", "--from", "sqlx"]).run();
    r.assert_code(2);
    r.stderr_has("records version 1 as failed");

    let dbmate = adopted("CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY); INSERT INTO schema_migrations VALUES ('1'), ('2')");
    dbmate
        .sg(dir.path())
        .args(&["import", "--from", "dbmate"])
        .run()
        .assert_code(0);
    assert_eq!(dbmate.history().len(), 2);
}

#[test]
fn import_from_alembic_with_a_mapping_and_refuse_multiple_heads() {
    let dir = three_files();
    let db = adopted("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); INSERT INTO alembic_version VALUES ('27c6a30d7c24')");
    let unmapped = db.sg(dir.path()).args(&["import", "--from", "alembic"]).run();
    unmapped.assert_code(2);
    assert!(
        unmapped
            .stderr
            .contains("'27c6a30d7c24' is not a schemagate version number"),
        "{}",
        unmapped.stderr
    );
    let mapping = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        mapping.path(),
        "# alembic revision = schemagate version\nae1027a6acf = 1\n27c6a30d7c24 = 2\n",
    )
    .unwrap();
    let r = db
        .sg(dir.path())
        .args(&[
            "import",
            "--from",
            "alembic",
            "--mapping",
            mapping.path().to_str().unwrap(),
        ])
        .run();
    r.assert_code(0);
    assert_eq!(db.history(), vec!["1|a|true", "2|b|true"]);
    assert_eq!(db.psql("SELECT DISTINCT kind FROM schemagate_history"), "baseline\n");

    let heads = adopted("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); INSERT INTO alembic_version VALUES ('abc'), ('def')");
    let r = heads.sg(dir.path()).args(&["import", "--from", "alembic"]).run();
    r.assert_code(2);
    r.stderr_has("multiple heads (abc, def)");

    let none = shared().fresh_db();
    let r = none.sg(dir.path()).args(&["import", "--from", "alembic"]).run();
    r.assert_code(2);
    r.stderr_has("there is no alembic_version table");
}

#[test]
fn down_refuses_without_a_down_script_and_changes_nothing() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_a.up.sql", "CREATE TABLE a ();"),
        ("0001_a.down.sql", "DROP TABLE a;"),
        ("0002_b.sql", "CREATE TABLE b ();"),
        ("0003_c.up.sql", "CREATE TABLE c ();"),
        ("0003_c.down.sql", "DROP TABLE c;"),
    ]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    let r = db.sg(dir.path()).args(&["down", "--to", "0"]).run();
    r.assert_code(2);
    r.stderr_has("0002_b.sql (no .down.sql file or down section)");
    assert!(
        db.table_exists("c"),
        "nothing is reverted when any down script is missing"
    );
    assert_eq!(db.history().len(), 3);
    let r = db.sg(dir.path()).args(&["down", "--to", "2"]).run();
    r.assert_code(0);
    assert!(!db.table_exists("c"));
}

#[test]
fn a_failing_down_script_rolls_back_with_its_row() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_a.up.sql", "CREATE TABLE a ();"),
        ("0001_a.down.sql", "DROP TABLE a;\nDROP TABLEE nope;"),
    ]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    let r = db.sg(dir.path()).args(&["down", "--to", "0"]).run();
    r.assert_code(5);
    r.stderr_has("0001_a.down.sql failed at line 2");
    assert!(db.table_exists("a"));
    assert_eq!(db.history(), vec!["1|a|true"]);
}

#[test]
fn peer_layouts_without_transactions() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("20240101000000_t.sql", "-- migrate:up\nCREATE TABLE t (a int, b int);\n\n-- migrate:down\nDROP TABLE t;\n"),
        (
            "20240102000000_idx_a.sql",
            "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY t_a ON t (a);\n-- migrate:down\nDROP INDEX t_a;\n",
        ),
        (
            "20240103000000_idx_b.sql",
            "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY t_b ON t (b);\n-- +goose Down\nDROP INDEX CONCURRENTLY t_b;\n",
        ),
        (
            "20240104000000_fn.sql",
            "-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION one() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END; $$;\n-- +goose StatementEnd\n\n-- +goose Down\nDROP FUNCTION one();\n",
        ),
    ]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert!(db.table_exists("t_a") && db.table_exists("t_b"));
    assert_eq!(db.psql("SELECT one()"), "1\n");
    db.sg(dir.path())
        .args(&["down", "--to", "20240101000000"])
        .run()
        .assert_code(0);
    assert!(!db.table_exists("t_a") && !db.table_exists("t_b"));
    assert_eq!(db.psql("SELECT count(*) FROM pg_proc WHERE proname = 'one'"), "0\n");
}

#[test]
fn repeatable_migrations_run_after_versioned_ones_and_again_when_changed() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("V1__t.sql", "CREATE TABLE t (a int);"),
        ("R__views.sql", "CREATE OR REPLACE VIEW v AS SELECT a FROM t;"),
    ]);
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(0);
    r.stderr_has("applied 2 migration(s) [1, R__views.sql]");
    let nothing = db.sg(dir.path()).args(&["run"]).run();
    nothing.stderr_has("nothing to apply");
    std::fs::write(
        dir.path().join("R__views.sql"),
        "CREATE OR REPLACE VIEW v AS SELECT a, a + 1 AS b FROM t;",
    )
    .unwrap();
    let v = db.sg(dir.path()).args(&["verify"]).run();
    v.assert_code(6);
    assert!(
        v.stderr
            .contains("repeatable migration R__views.sql changed since it was last applied"),
        "{}",
        v.stderr
    );
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert_eq!(
        db.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'v'"),
        "2\n"
    );
    assert_eq!(
        db.psql("SELECT count(*) FROM schemagate_history WHERE kind = 'repeatable'"),
        "1\n"
    );
    db.sg(dir.path()).args(&["verify"]).run().assert_code(0);
}

#[test]
fn ambiguous_layouts_are_exit_2_and_say_why() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        (
            "0001_a.sql",
            "-- migrate:up\nCREATE TABLE a ();\n-- +goose Down\nDROP TABLE a;\n",
        ),
        (
            "0002_b.sql",
            "-- migrate:up\nCREATE TABLE b ();\n-- migrate:down\nDROP TABLE b;\n",
        ),
        ("0002_b.down.sql", "DROP TABLE b;"),
    ]);
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(2);
    assert!(
        r.stderr
            .contains("0001_a.sql: mixes dbmate (-- migrate:) and goose (-- +goose) markers"),
        "{}",
        r.stderr
    );
    r.stderr_has("version 2 has more than one down migration");
}

#[test]
fn repair_deletes_failed_rows_and_prints_them() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_t.sql", "CREATE TABLE t (a int);"),
        (
            "0002_i.sql",
            "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (nope);",
        ),
    ]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(5);
    std::fs::write(
        dir.path().join("0002_i.sql"),
        "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);",
    )
    .unwrap();
    let r = db.sg(dir.path()).args(&["repair"]).run();
    r.assert_code(0);
    assert!(
        r.stdout
            .contains("version 2 (i): delete the failed (success=false) row"),
        "{}",
        r.stdout
    );
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert_eq!(db.history(), vec!["1|t|true", "2|i|true"]);
}
