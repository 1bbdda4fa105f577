//! An older image on a newer database: after `helm rollback`, an Argo CD
//! revert, or an old ReplicaSet's Pod rescheduled after the new Job ran.
//! Versions applied by the newer release are `future`, not `missing`.

mod common;

use common::{migrations, shared, TestDb};

const V1: (&str, &str) = (
    "0001_items.sql",
    "CREATE TABLE items (id int PRIMARY KEY, name text, legacy text);",
);
const V2: (&str, &str) = ("0002_price.sql", "ALTER TABLE items ADD COLUMN price int;");

/// The newer release: 1, 2 and `third`, applied.
fn migrated_by_newer(db: &TestDb, third: &str) {
    let newer = migrations(&[V1, V2, ("0003_next.sql", third)]);
    db.sg(newer.path()).args(&["run"]).run().assert_code(0);
}

#[test]
fn an_older_image_runs_and_verifies_on_a_newer_database() {
    let db = shared().fresh_db();
    migrated_by_newer(&db, "CREATE TABLE audit (id int);");
    let older = migrations(&[V1, V2]);
    let run = db.sg(older.path()).args(&["run"]).run();
    run.assert_code(0)
        .stderr_has("version(s) 3 were applied by a newer release (this image's highest file is 2)")
        .stderr_has("nothing to apply; database at version 3");
    let verify = db.sg(older.path()).args(&["verify"]).run();
    verify.assert_code(0).stderr_has("were applied by a newer release");
    let start = std::time::Instant::now();
    db.sg(older.path()).args(&["verify", "--wait"]).run().assert_code(0);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "verify --wait did not pass at once"
    );
    let status = db.sg(older.path()).args(&["status", "--format", "json"]).run();
    status.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(doc["migrations"][2]["state"], "future");
    assert_eq!(
        (doc["database_version"].as_str(), doc["head_version"].as_str()),
        (Some("3"), Some("2"))
    );
    let text = db.sg(older.path()).args(&["status"]).run();
    assert!(
        text.stdout.lines().any(|l| l.starts_with('3') && l.contains("future")),
        "{}",
        text.stdout
    );
}

#[test]
fn a_version_below_the_images_head_without_its_file_is_still_missing() {
    let db = shared().fresh_db();
    migrated_by_newer(&db, "CREATE TABLE audit (id int);");
    // This image has 1 and 3, but not 2: a lost file, not a newer release.
    let gap = migrations(&[V1, ("0003_next.sql", "CREATE TABLE audit (id int);")]);
    for command in ["run", "verify"] {
        db.sg(gap.path())
            .args(&[command])
            .run()
            .assert_code(6)
            .stderr_has("version 2 (price) is applied but its file is missing");
    }
}

#[test]
fn future_fail_restores_strictness() {
    let db = shared().fresh_db();
    migrated_by_newer(&db, "CREATE TABLE audit (id int);");
    let older = migrations(&[V1, V2]);
    for command in ["run", "verify"] {
        db.sg(older.path())
            .env("SCHEMAGATE_FUTURE", "fail")
            .args(&[command])
            .run()
            .assert_code(6)
            .stderr_has("version 3 (next) was applied by a newer release: this image's highest file is 2");
    }
}

/// The older image's expected schema (written at version 2) against the
/// newer schema: what an expand step added is a warning; what a contract
/// step removed, and the older code needs, fails, named.
#[test]
fn the_expected_schema_still_judges_a_database_that_is_ahead() {
    let older = migrations(&[V1, V2]);
    let snapshot_db = shared().fresh_db();
    snapshot_db.sg(older.path()).args(&["run"]).run().assert_code(0);
    let schema = older.path().join("schema.json");
    snapshot_db
        .sg(older.path())
        .args(&["snapshot", "--output", schema.to_str().unwrap()])
        .run()
        .assert_code(0);

    let expanded = shared().fresh_db();
    migrated_by_newer(&expanded, "ALTER TABLE items ADD COLUMN sku text;");
    expanded
        .sg(older.path())
        .args(&["verify"])
        .run()
        .assert_code(0)
        .stderr_has("table public.items: column sku not in the expected schema");

    let contracted = shared().fresh_db();
    migrated_by_newer(&contracted, "ALTER TABLE items DROP COLUMN legacy;");
    contracted
        .sg(older.path())
        .args(&["verify"])
        .run()
        .assert_code(6)
        .stderr_has("table public.items: column legacy missing");
    contracted.sg(older.path()).args(&["run"]).run().assert_code(6);
}
