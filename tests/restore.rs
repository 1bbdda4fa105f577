//! Restore points before migrating (`SCHEMAGATE_RESTORE_POINT`), against
//! real clusters: the point in the archived WAL as `pg_waldump` reads it,
//! in the history rows and in `status`; none on a no-op run; `require`
//! refusing without archiving or without the privilege, with nothing
//! applied; `auto` warning once; and the way back: a base backup recovered
//! to the logged point has the schema and data from before a destructive
//! migration.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::faults::{pg_tool, Restart};
use common::{eventually, migrations, shared, wait_output, Cluster, Run, Tls, PASSWORD};

/// A cluster archiving its WAL into `root/archive` with `cp`, as the
/// PostgreSQL documentation's example does.
fn archiving() -> (Cluster, PathBuf) {
    archiving_with("cp %p {archive}/%f")
}

/// A cluster with `archive_mode = on` and this `archive_command`, where
/// `{archive}` is `root/archive`.
fn archiving_with(command: &str) -> (Cluster, PathBuf) {
    let cluster = Cluster::create(Tls::Off);
    let archive = cluster.server_dir("archive");
    let command = command.replace("{archive}", &archive.display().to_string());
    cluster.configure(&format!(
        "\nwal_level = replica\narchive_mode = on\narchive_command = '{command}'\n"
    ));
    cluster.start_server();
    (cluster, archive)
}

/// Ends the current WAL segment and waits until the archiver has copied it.
fn switch_and_archive(cluster: &Cluster) {
    let segment = cluster.psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())");
    let segment = segment.trim();
    let sql = format!("SELECT coalesce(last_archived_wal >= '{segment}', false) FROM pg_stat_archiver");
    assert!(
        eventually(Duration::from_secs(60), || cluster.psql("postgres", &sql) == "t\n"),
        "segment {segment} never reached the archive:\n{}",
        cluster.server_log()
    );
}

/// The name and LSN of the point `run` logged taking.
#[track_caller]
fn logged_point(run: &Run) -> (String, String) {
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("restore point ") && l.contains(" taken at "))
        .unwrap_or_else(|| panic!("no restore point was logged:\n{}", run.stderr));
    let after = &line[line.find("restore point ").unwrap() + "restore point ".len()..];
    let name = after.split_whitespace().next().unwrap().to_string();
    let lsn = after.split(" taken at ").nth(1).unwrap().split(',').next().unwrap();
    (name, lsn.to_string())
}

fn warnings(run: &Run) -> Vec<&str> {
    run.stderr.lines().filter(|l| l.contains(" WARN ")).collect()
}

/// Every record description `pg_waldump` finds in the archived segments.
fn waldump_archive(archive: &Path) -> String {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(archive)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().len() == 24)
        .collect();
    segments.sort();
    assert!(!segments.is_empty(), "nothing archived in {}", archive.display());
    let mut out = String::new();
    for segment in segments {
        // pg_waldump reads up to the segment's unused tail and then reports
        // the end of WAL as an error: only its records matter here.
        let dump = Command::new(pg_tool("pg_waldump")).arg(&segment).output().unwrap();
        out.push_str(&String::from_utf8_lossy(&dump.stdout));
    }
    out
}

/// `run` under `SCHEMAGATE_RESTORE_POINT=require`.
fn requiring(sg: common::Sg) -> Run {
    sg.env("SCHEMAGATE_RESTORE_POINT", "require").args(&["run"]).run()
}

/// `status --format json`, parsed.
fn status_json(sg: common::Sg) -> serde_json::Value {
    let r = sg.args(&["status", "--format", "json"]).run();
    r.assert_code(0);
    serde_json::from_str(&r.stdout).expect("stdout is only the JSON document")
}

#[test]
fn the_point_reaches_the_archived_wal_and_every_row_of_its_run_names_it() {
    let (cluster, archive) = archiving();
    let db = cluster.fresh_db();
    let dir = migrations(&[
        ("0001_items.sql", "CREATE TABLE items (id int PRIMARY KEY);"),
        ("0002_price.sql", "ALTER TABLE items ADD COLUMN price int;"),
    ]);
    // `require` passes: archiving is on and healthy, and the point is taken.
    let run = requiring(db.sg(dir.path()));
    run.assert_code(0);
    assert_eq!(warnings(&run), Vec::<&str>::new(), "{}", run.stderr);
    let (name, lsn) = logged_point(&run);
    assert!(
        name.starts_with("schemagate-none-to-2-") && name.ends_with('Z'),
        "{name}"
    );
    assert!(name.len() <= 63 && lsn.contains('/'), "{name} at {lsn}");
    assert_eq!(
        db.psql("SELECT migration_version || ':' || restore_point FROM schemagate_history ORDER BY id"),
        format!("1:{name}\n2:{name}\n")
    );
    let doc = status_json(db.sg(dir.path()));
    for m in doc["migrations"].as_array().unwrap() {
        assert_eq!(m["restore_point"], name.as_str(), "{doc}");
    }
    let text = db.sg(dir.path()).args(&["status"]).run();
    text.assert_code(0).stdout_has("RESTORE POINT");
    assert!(
        text.stdout.lines().filter(|l| l.ends_with(&name)).count() == 2,
        "{}",
        text.stdout
    );
    switch_and_archive(&cluster);
    let dump = waldump_archive(&archive);
    assert!(
        dump.lines().any(|l| l.contains(&format!("RESTORE_POINT {name}"))),
        "pg_waldump shows no RESTORE_POINT {name} in the archive:\n{}",
        dump.lines()
            .filter(|l| l.contains("RESTORE_POINT"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_no_op_run_takes_no_point_and_the_next_change_takes_its_own() {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_items.sql", "CREATE TABLE items (id int);")]);
    let first = db.sg(dir.path()).args(&["run"]).run();
    first.assert_code(0);
    let (name, _) = logged_point(&first);
    let again = db.sg(dir.path()).args(&["run"]).run();
    again.assert_code(0).stderr_has("nothing to apply");
    again.never_says("restore point");
    std::fs::write(
        dir.path().join("0002_price.sql"),
        "ALTER TABLE items ADD COLUMN price int;",
    )
    .unwrap();
    let next = db.sg(dir.path()).args(&["run"]).run();
    next.assert_code(0);
    let (second, _) = logged_point(&next);
    assert!(second.starts_with("schemagate-1-to-2-") && second != name, "{second}");
    assert_eq!(
        db.psql("SELECT migration_version || ':' || restore_point FROM schemagate_history ORDER BY id"),
        format!("1:{name}\n2:{second}\n")
    );
}

/// A run that loses its connection mid-migration and resumes keeps the
/// point it took: no second point, no second warning, one name in every row.
#[test]
fn a_run_resumed_after_a_restart_takes_no_second_point() {
    let cluster = Cluster::start();
    let db = cluster.fresh_db();
    let dir = migrations(&[
        ("0001_a.sql", "CREATE TABLE a (id int);"),
        ("0002_slow.sql", "CREATE TABLE b (id int);\nSELECT pg_sleep(2.5);"),
        ("0003_c.sql", "CREATE TABLE c (id int);"),
    ]);
    let child = db.sg(dir.path()).env("SCHEMAGATE_WAIT_TIMEOUT", "30s").spawn();
    let sleeping =
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(2.5)%' AND pid <> pg_backend_pid()";
    assert!(
        eventually(Duration::from_secs(20), || cluster.psql("postgres", sleeping) == "1\n"),
        "0002 never started"
    );
    cluster.restart(Restart::Fast);
    let run = wait_output(child);
    run.assert_code(0)
        .stderr_has("lost the connection while applying 0002_slow.sql");
    let taken = run.stderr.lines().filter(|l| l.contains(" taken at ")).count();
    assert_eq!(taken, 1, "{}", run.stderr);
    assert_eq!(
        warnings(&run).len(),
        2,
        "one for the lost connection, one for archive_mode:\n{}",
        run.stderr
    );
    let (name, _) = logged_point(&run);
    assert_eq!(
        db.psql("SELECT string_agg(DISTINCT restore_point, ',') || ' ' || count(*) FROM schemagate_history"),
        format!("{name} 3\n")
    );
}

#[test]
fn require_refuses_without_archiving_and_applies_nothing() {
    let db = shared().fresh_db();
    let dir = migrations(&[("0001_items.sql", "CREATE TABLE items (id int);")]);
    let run = requiring(db.sg(dir.path()));
    run.assert_code(3)
        .stderr_has("SCHEMAGATE_RESTORE_POINT=require")
        .stderr_has("archive_mode is off")
        .stderr_has("nothing was applied");
    run.never_says(" taken at ");
    assert!(!db.table_exists("items"), "the migration ran");
    assert!(
        !db.table_exists("schemagate_history") || db.psql("SELECT count(*) FROM schemagate_history") == "0\n",
        "history rows were written"
    );
}

/// `archive_mode` is on but every attempt fails: the point would be in WAL
/// that never reaches the archive.
#[test]
fn require_refuses_while_archiving_fails() {
    let (cluster, _) = archiving_with("false");
    cluster.psql("postgres", "CREATE TABLE filler (id int); SELECT pg_switch_wal()");
    let failed = "SELECT failed_count > 0 FROM pg_stat_archiver";
    assert!(
        eventually(Duration::from_secs(30), || cluster.psql("postgres", failed) == "t\n"),
        "the archiver never failed:\n{}",
        cluster.server_log()
    );
    let db = cluster.fresh_db();
    let dir = migrations(&[("0001_items.sql", "CREATE TABLE items (id int);")]);
    let run = requiring(db.sg(dir.path()));
    run.assert_code(3)
        .stderr_has("SCHEMAGATE_RESTORE_POINT=require")
        .stderr_has("WAL archiving is failing (pg_stat_archiver: last failure at ");
    assert!(!db.table_exists("items"), "the migration ran");
    let auto = db.sg(dir.path()).args(&["run"]).run();
    auto.assert_code(0).stderr_has("WAL archiving is failing");
    assert_eq!(warnings(&auto).len(), 1, "{}", auto.stderr);
}

#[test]
fn auto_warns_once_without_archiving_and_migrates() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("0001_items.sql", "CREATE TABLE items (id int);"),
        ("0002_price.sql", "ALTER TABLE items ADD COLUMN price int;"),
    ]);
    let run = db.sg(dir.path()).args(&["run"]).run();
    run.assert_code(0).stderr_has("applied 2 migration(s)");
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{}", run.stderr);
    assert!(
        warned[0].contains("archive_mode is off") && warned[0].contains("never reach a WAL archive"),
        "{}",
        warned[0]
    );
    assert!(db.table_exists("items"));
    // The point is still in the WAL (a pg_receivewal stream would keep it).
    let (name, _) = logged_point(&run);
    let rows = format!("SELECT count(*) FROM schemagate_history WHERE restore_point = '{name}'");
    assert_eq!(db.psql(&rows), "2\n");
    let off = shared().fresh_db();
    let quiet = off
        .sg(dir.path())
        .env("SCHEMAGATE_RESTORE_POINT", "off")
        .args(&["run"])
        .run();
    quiet.assert_code(0).never_says("restore point");
    assert_eq!(off.psql("SELECT count(restore_point) FROM schemagate_history"), "0\n");
}

#[test]
fn without_the_privilege_auto_warns_require_refuses_and_a_grant_fixes_it() {
    let cluster = shared();
    let db = cluster.fresh_db();
    let role = format!("rp_app_{}", std::process::id());
    cluster.psql(
        "postgres",
        &format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'; ALTER DATABASE {} OWNER TO {role}",
            db.name
        ),
    );
    let url = format!("postgres://{role}:{PASSWORD}@127.0.0.1:{}/{}", cluster.port, db.name);
    let dir = migrations(&[("0001_items.sql", "CREATE TABLE items (id int);")]);
    let run = db.sg(dir.path()).env("DATABASE_URL", &url).args(&["run"]).run();
    run.assert_code(0);
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{}", run.stderr);
    assert!(
        warned[0].contains("may not execute pg_create_restore_point")
            && warned[0].contains("GRANT EXECUTE ON FUNCTION pg_create_restore_point(text)"),
        "{}",
        warned[0]
    );
    assert_eq!(db.psql("SELECT count(restore_point) FROM schemagate_history"), "0\n");

    std::fs::write(
        dir.path().join("0002_price.sql"),
        "ALTER TABLE items ADD COLUMN price int;",
    )
    .unwrap();
    let refused = requiring(db.sg(dir.path()).env("DATABASE_URL", &url));
    refused
        .assert_code(3)
        .stderr_has("may not execute pg_create_restore_point");
    assert_eq!(db.psql("SELECT count(*) FROM schemagate_history"), "1\n");

    cluster.psql(
        &db.name,
        &format!("GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO {role}"),
    );
    let granted = db.sg(dir.path()).env("DATABASE_URL", &url).args(&["run"]).run();
    granted.assert_code(0);
    let (name, _) = logged_point(&granted);
    assert_eq!(
        db.psql("SELECT restore_point FROM schemagate_history WHERE migration_version = '2'"),
        format!("{name}\n")
    );
}

/// The way back, as the README tells it: a base backup taken before, the
/// WAL archive, and `recovery_target_name` set to the point the run logged.
#[test]
fn a_base_backup_recovered_to_the_logged_point_has_what_a_destructive_migration_dropped() {
    let (cluster, archive) = archiving();
    let db = cluster.fresh_db();
    let backup = cluster.base_backup("base");
    let v1 = (
        "0001_accounts.sql",
        "CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL);\n\
         INSERT INTO accounts SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 100) g;",
    );
    let dir = migrations(&[v1]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    db.psql("INSERT INTO accounts VALUES (101, 'late@example.com')");
    std::fs::write(
        dir.path().join("0002_drop_email.sql"),
        "ALTER TABLE accounts DROP COLUMN email;",
    )
    .unwrap();
    let run = requiring(db.sg(dir.path()));
    run.assert_code(0);
    let (name, _) = logged_point(&run);
    assert!(name.starts_with("schemagate-1-to-2-"), "{name}");
    assert_eq!(
        db.psql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'email'"),
        "0\n"
    );
    // Written after the point: recovery must stop before it.
    db.psql("INSERT INTO accounts VALUES (102)");
    switch_and_archive(&cluster);

    let restored = Cluster::restored(
        &backup,
        &format!(
            "restore_command = 'cp {}/%f %p'\nrecovery_target_name = '{name}'\nrecovery_target_action = 'promote'",
            archive.display()
        ),
    );
    let promoted = eventually(Duration::from_secs(120), || {
        let out = restored.try_psql(&db.name, "SELECT pg_is_in_recovery()");
        out.status.success() && String::from_utf8_lossy(&out.stdout) == "f\n"
    });
    assert!(
        promoted,
        "the restored server did not leave recovery:\n{}",
        restored.server_log()
    );
    assert!(
        restored
            .server_log()
            .contains(&format!("recovery stopping at restore point \"{name}\"")),
        "{}",
        restored.server_log()
    );
    assert_eq!(
        restored.psql(
            &db.name,
            "SELECT count(*), count(DISTINCT email), max(id) FROM accounts"
        ),
        "101|101|101\n",
        "the restored server lacks the data from before the migration"
    );
    assert_eq!(
        restored.psql(&db.name, "SELECT email FROM accounts WHERE id = 7"),
        "user7@example.com\n"
    );
    assert_eq!(
        restored.psql(
            &db.name,
            "SELECT string_agg(migration_version, ',') FROM schemagate_history"
        ),
        "1\n",
        "the history must be from before the run that dropped the column"
    );
}
