//! Schema verification against real clusters: `snapshot`, the drift report
//! of `verify` and `run`, strict mode, excluded schemas, verify scripts, and
//! determinism across clusters.

mod common;

use std::path::{Path, PathBuf};

use common::{example_migrations, shared, Cluster, Run, TestDb};
use sha2::{Digest, Sha256};

/// Every kind of object the snapshot records, on top of the example set.
/// The date and time defaults and the partition bound print differently
/// under other DateStyle/TimeZone settings, which the determinism test sets.
const MORE_KINDS: &str = r#"
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TYPE order_state AS ENUM ('new', 'paid', 'shipped');
CREATE DOMAIN positive_cents AS bigint NOT NULL DEFAULT 0 CHECK (VALUE >= 0);
CREATE TYPE money_pair AS (amount bigint, currency text);
CREATE SEQUENCE invoice_numbers START 1000 INCREMENT 10;
CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    state       order_state NOT NULL DEFAULT 'new',
    amount      positive_cents,
    happened_on date NOT NULL DEFAULT '2024-01-31',
    happened_at timestamptz NOT NULL DEFAULT '2024-01-31 12:00:00+00',
    doubled     bigint GENERATED ALWAYS AS (id * 2) STORED,
    note        text COLLATE "C",
    CONSTRAINT events_note_short CHECK (length(note) < 200)
);
CREATE TABLE measurements (at date NOT NULL, value int) PARTITION BY RANGE (at);
CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE FUNCTION order_count(uid bigint) RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT count(*) FROM orders WHERE user_id = uid $$;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN NEW.note := coalesce(NEW.note, ''); RETURN NEW; END $$;
CREATE TRIGGER events_touch BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION touch();
CREATE MATERIALIZED VIEW user_order_counts AS SELECT user_id, count(*) AS n FROM orders GROUP BY user_id;
CREATE UNIQUE INDEX user_order_counts_user ON user_order_counts (user_id);
CREATE INDEX events_recent ON events (happened_at) WHERE state <> 'shipped';
"#;

/// The example migrations plus [`MORE_KINDS`], in a directory of their own
/// (so that `schema.json` and `verify/` can be added to it).
fn project() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("schemagate-schema-").tempdir().unwrap();
    for entry in std::fs::read_dir(example_migrations()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sql") {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(dir.path().join("0005_more_kinds.sql"), MORE_KINDS).unwrap();
    dir
}

fn schema_json(dir: &Path) -> PathBuf {
    dir.join("schema.json")
}

/// A fresh database migrated with the project, and its `schema.json` written.
fn migrated_with_snapshot(db: &TestDb, dir: &Path) {
    db.sg(dir).args(&["run"]).run().assert_code(0);
    let out = schema_json(dir);
    db.sg(dir)
        .args(&["snapshot", "--output", out.to_str().unwrap()])
        .run()
        .assert_code(0);
}

/// The indented lines of a failure report: one per difference.
fn report_lines(run: &Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn snapshot_after_run_then_verify_passes() {
    let db = shared().fresh_db();
    let dir = project();
    migrated_with_snapshot(&db, dir.path());
    let text = std::fs::read_to_string(schema_json(dir.path())).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format_version"], 2);
    let public = &doc["schemas"]["public"];
    assert_eq!(public["tables"]["users"]["columns"]["email"]["type"], "text");
    assert_eq!(public["tables"]["users"]["columns"]["id"]["identity"], "always");
    assert_eq!(
        public["tables"]["orders"]["constraints"]["orders_user_id_fkey"]["definition"],
        "FOREIGN KEY (user_id) REFERENCES public.users(id)"
    );
    assert_eq!(
        public["indexes"]["orders_user_id_idx"]["definition"],
        "CREATE INDEX orders_user_id_idx ON public.orders USING btree (user_id)"
    );
    assert_eq!(
        public["indexes"]["events_recent"]["predicate"],
        "(state <> 'shipped'::public.order_state)"
    );
    assert_eq!(
        public["types"]["order_state"]["labels"],
        serde_json::json!(["new", "paid", "shipped"])
    );
    assert_eq!(public["sequences"]["events_id_seq"]["owned_by"], "public.events.id");
    assert_eq!(public["triggers"]["events.events_touch"]["table"], "events");
    assert!(public["views"]["order_totals"]["definition"].is_string());
    assert!(public["materialized_views"]["user_order_counts"]["definition"].is_string());
    assert_eq!(doc["extensions"]["pgcrypto"]["schema"], "public");
    // pgcrypto's own functions belong to the extension, not to the schema.
    let functions: Vec<&String> = public["functions"].as_object().unwrap().keys().collect();
    assert_eq!(functions, vec!["order_count(bigint)", "touch()"]);
    // Identity sequences are described by their column.
    assert!(public["sequences"].get("users_id_seq").is_none());

    // stdout gives the same bytes as the file.
    let stdout = db.sg(dir.path()).args(&["snapshot"]).run();
    stdout.assert_code(0);
    assert_eq!(stdout.stdout, text);

    let verify = db.sg(dir.path()).args(&["verify"]).run();
    verify.assert_code(0);
    assert!(
        verify.stderr.contains("schema matches") && verify.stderr.contains("(0 warning(s))"),
        "{}",
        verify.stderr
    );
    let again = db.sg(dir.path()).args(&["run"]).run();
    again.assert_code(0);
    again.stderr_has("nothing to apply; database at version 5");
    again.stderr_has("schema matches");
}

/// A database migrated with the project and snapshotted, then changed
/// behind schemagate's back.
struct Drifted {
    db: TestDb<'static>,
    dir: tempfile::TempDir,
}

impl Drifted {
    fn new(change: &str) -> Drifted {
        let db = shared().fresh_db();
        let dir = project();
        migrated_with_snapshot(&db, dir.path());
        db.psql(change);
        Drifted { db, dir }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.db.sg(self.dir.path()).args(args).run()
    }

    fn schema_json(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(schema_json(self.dir.path())).unwrap()).unwrap()
    }
}

#[track_caller]
fn assert_single_drift(change: &str, expected_line: &str) {
    let run = Drifted::new(change).run(&["verify"]);
    run.assert_code(6);
    run.stderr_has("schema verification failed (1 difference(s))");
    assert_eq!(report_lines(&run), vec![expected_line.to_string()], "{}", run.stderr);
}

#[test]
fn a_dropped_column_fails_naming_the_column_and_its_definition() {
    assert_single_drift(
        "ALTER TABLE orders DROP COLUMN created_at",
        "table public.orders: column created_at missing (expected timestamp with time zone NOT NULL DEFAULT now())",
    );
}

#[test]
fn a_changed_type_fails_with_both_types() {
    assert_single_drift(
        "ALTER TABLE users ALTER COLUMN created_at TYPE timestamp",
        "table public.users: column created_at type differs: \
         expected timestamp with time zone / actual timestamp without time zone",
    );
}

#[test]
fn a_dropped_index_fails_with_its_definition() {
    assert_single_drift(
        "DROP INDEX orders_user_id_idx",
        "index public.orders_user_id_idx: missing \
         (expected CREATE INDEX orders_user_id_idx ON public.orders USING btree (user_id))",
    );
}

#[test]
fn an_altered_default_fails_with_both_defaults() {
    assert_single_drift(
        "ALTER TABLE orders ALTER COLUMN created_at SET DEFAULT clock_timestamp()",
        "table public.orders: column created_at default differs: expected now() / actual clock_timestamp()",
    );
}

#[test]
fn a_changed_check_constraint_fails_with_both_definitions() {
    assert_single_drift(
        "ALTER TABLE orders DROP CONSTRAINT orders_total_cents_check, \
         ADD CONSTRAINT orders_total_cents_check CHECK (total_cents > 0)",
        "table public.orders: constraint orders_total_cents_check definition differs: \
         expected CHECK ((total_cents >= 0)) / actual CHECK ((total_cents > 0))",
    );
}

#[test]
fn a_changed_view_fails_with_both_definitions_on_one_line() {
    let run = Drifted::new(
        "CREATE OR REPLACE VIEW order_totals AS \
         SELECT u.email, count(o.id) AS orders, coalesce(sum(o.total_cents), 1) AS total_cents \
         FROM users u LEFT JOIN orders o ON o.user_id = u.id GROUP BY u.email",
    )
    .run(&["verify"]);
    run.assert_code(6);
    let lines = report_lines(&run);
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    let line = &lines[0];
    let (expected, actual) = line
        .strip_prefix("view public.order_totals: definition differs: expected SELECT u.email,")
        .and_then(|rest| rest.split_once(" / actual SELECT u.email,"))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        expected.contains("(0)::numeric") && !expected.contains("(1)::numeric"),
        "{line}"
    );
    assert!(
        actual.contains("(1)::numeric") && !actual.contains("(0)::numeric"),
        "{line}"
    );
}

#[test]
fn a_function_whose_body_changed_fails_with_both_hashes() {
    let new_body = " SELECT count(*) + 0 FROM orders WHERE user_id = uid ";
    let drifted = Drifted::new(&format!(
        "CREATE OR REPLACE FUNCTION order_count(uid bigint) RETURNS bigint LANGUAGE sql STABLE AS $${new_body}$$"
    ));
    let run = drifted.run(&["verify"]);
    run.assert_code(6);
    let doc = drifted.schema_json();
    let old_hash = doc["schemas"]["public"]["functions"]["order_count(bigint)"]["body_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let old_body = " SELECT count(*) FROM orders WHERE user_id = uid ";
    assert_eq!(old_hash, hex(&Sha256::digest(old_body)), "the hash is of the body text");
    assert_eq!(
        report_lines(&run),
        vec![format!(
            "function public.order_count(bigint): body differs: expected sha256 {old_hash} / actual sha256 {}",
            hex(&Sha256::digest(new_body))
        )],
        "{}",
        run.stderr
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn several_differences_are_one_line_each_and_json_gives_the_same() {
    let drifted = Drifted::new(
        "ALTER TABLE events DROP COLUMN note; ALTER TYPE order_state ADD VALUE 'lost'; \
         DROP TRIGGER events_touch ON events",
    );
    let text = drifted.run(&["verify"]);
    text.assert_code(6);
    let lines = report_lines(&text);
    assert_eq!(
        lines,
        vec![
            "type public.order_state: definition differs: expected ENUM ('new', 'paid', 'shipped') \
             / actual ENUM ('new', 'paid', 'shipped', 'lost')",
            "table public.events: column note missing (expected text COLLATE C)",
            // Dropping the column dropped the constraint on it: a second difference.
            "table public.events: constraint events_note_short missing (expected CHECK ((length(note) < 200)))",
            "trigger public.events.events_touch: missing (expected CREATE TRIGGER events_touch BEFORE INSERT \
             ON public.events FOR EACH ROW EXECUTE FUNCTION public.touch())",
        ],
        "{}",
        text.stderr
    );
    let json = drifted.run(&["verify", "--format", "json"]);
    json.assert_code(6);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["ok"], false);
    let diffs = doc["differences"].as_array().unwrap();
    let messages: Vec<&str> = diffs.iter().map(|d| d["message"].as_str().unwrap()).collect();
    assert_eq!(messages, lines);
    assert_eq!(diffs[1]["object_type"], "table");
    assert_eq!(diffs[1]["object"], "public.events");
    assert_eq!(diffs[1]["part"], "column note");
    assert_eq!(diffs[1]["change"], "missing");
    assert_eq!(diffs[1]["expected"], "text COLLATE C");
    assert!(diffs[1]["actual"].is_null());
    assert_eq!(diffs[1]["severity"], "error");
    assert_eq!(diffs[2]["part"], "constraint events_note_short");
    assert_eq!(diffs[0]["property"], "definition");
}

const HOTFIX_LINE: &str = "index public.orders_created_at_hotfix: not in the expected schema \
                           (actual CREATE INDEX orders_created_at_hotfix ON public.orders USING btree (created_at))";

#[test]
fn an_extra_index_is_a_warning_by_default_and_a_failure_in_strict_mode() {
    let drifted = Drifted::new("CREATE INDEX orders_created_at_hotfix ON orders (created_at)");
    let lenient = drifted.run(&["verify"]);
    lenient.assert_code(0);
    let warning = lenient
        .stderr
        .lines()
        .find(|l| l.contains(HOTFIX_LINE))
        .unwrap_or_else(|| panic!("{}", lenient.stderr));
    assert!(warning.contains("WARN"), "{warning}");
    lenient.stderr_has("(1 warning(s))");
    // run, too, lets the deploy through.
    drifted.run(&["run"]).assert_code(0);

    let strict = drifted
        .db
        .sg(drifted.dir.path())
        .env("SCHEMAGATE_STRICT_SCHEMA", "true")
        .args(&["verify"])
        .run();
    strict.assert_code(6);
    assert_eq!(
        report_lines(&strict),
        vec![HOTFIX_LINE.to_string()],
        "{}",
        strict.stderr
    );
    let flag = drifted.run(&["verify", "--strict-schema"]);
    flag.assert_code(6);

    let json = drifted.run(&["verify", "--format", "json"]);
    json.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["differences"][0]["severity"], "warning");
    assert_eq!(doc["differences"][0]["change"], "unexpected");
}

#[test]
fn snapshot_check_fails_on_any_difference_and_passes_on_none() {
    let drifted = Drifted::new("SELECT 1");
    let same = drifted.run(&["snapshot", "--check"]);
    same.assert_code(0);
    assert!(same.stdout.is_empty(), "--check writes nothing: {}", same.stdout);
    same.stderr_has("schema.json matches the database");

    drifted
        .db
        .psql("CREATE INDEX orders_created_at_hotfix ON orders (created_at)");
    let extra = drifted.run(&["snapshot", "--check"]);
    extra.assert_code(6);
    assert_eq!(report_lines(&extra), vec![HOTFIX_LINE.to_string()], "{}", extra.stderr);
    extra.stderr_has("schemagate snapshot --output");

    // --output names the file to compare with.
    let other = drifted.dir.path().join("other.json");
    drifted
        .run(&["snapshot", "--output", other.to_str().unwrap()])
        .assert_code(0);
    drifted
        .run(&["snapshot", "--check", "--output", other.to_str().unwrap()])
        .assert_code(0);
    let missing = drifted.dir.path().join("nope.json");
    let r = drifted.run(&["snapshot", "--check", "--output", missing.to_str().unwrap()]);
    r.assert_code(2);
    r.stderr_has("nope.json");
}

#[test]
fn run_applies_then_fails_when_the_result_is_not_the_expected_schema() {
    let db = shared().fresh_db();
    let dir = project();
    // The expected schema knows a column that no migration creates.
    let scratch = shared().fresh_db();
    scratch.sg(dir.path()).args(&["run"]).run().assert_code(0);
    scratch.psql("ALTER TABLE users ADD COLUMN nickname text");
    let out = schema_json(dir.path());
    scratch
        .sg(dir.path())
        .args(&["snapshot", "--output", out.to_str().unwrap()])
        .run()
        .assert_code(0);

    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(6);
    assert_eq!(
        report_lines(&r),
        vec!["table public.users: column nickname missing (expected text)"],
        "{}",
        r.stderr
    );
    assert_eq!(
        db.history().len(),
        5,
        "the migrations were applied before the comparison"
    );

    // SCHEMAGATE_EXPECTED_SCHEMA= (empty) turns the comparison off.
    db.sg(dir.path())
        .env("SCHEMAGATE_EXPECTED_SCHEMA", "")
        .args(&["run"])
        .run()
        .assert_code(0);
}

#[test]
fn a_missing_or_unreadable_expected_schema_is_a_config_error_before_any_write() {
    let db = shared().fresh_db();
    let dir = project();
    let r = db
        .sg(dir.path())
        .env("SCHEMAGATE_EXPECTED_SCHEMA", "/nonexistent/schema.json")
        .args(&["run"])
        .run();
    r.assert_code(2);
    assert!(
        r.stderr.contains("SCHEMAGATE_EXPECTED_SCHEMA") && r.stderr.contains("/nonexistent/schema.json"),
        "{}",
        r.stderr
    );
    assert!(!db.table_exists("schemagate_history"), "nothing was written");

    std::fs::write(schema_json(dir.path()), "{\"format_version\": 99}").unwrap();
    let newer = db.sg(dir.path()).args(&["verify"]).run();
    newer.assert_code(2);
    newer.stderr_has("written by a newer schemagate");
    std::fs::write(schema_json(dir.path()), "not json").unwrap();
    db.sg(dir.path()).args(&["run"]).run().assert_code(2);
    assert!(!db.table_exists("schemagate_history"));
}

/// The same migrations, applied independently on two clusters, give the same
/// bytes, although the second cluster has shifted OIDs and a database whose
/// search_path, DateStyle, IntervalStyle and TimeZone differ.
#[test]
fn two_clusters_migrated_independently_give_byte_identical_snapshots() {
    let dir = project();
    let first = shared().fresh_db();
    first.sg(dir.path()).args(&["run"]).run().assert_code(0);
    let a = first.sg(dir.path()).args(&["snapshot"]).run();
    a.assert_code(0);

    let other = Cluster::start();
    let second = other.fresh_db();
    second.psql(&format!(
        "ALTER DATABASE {0} SET search_path = public, pg_catalog; ALTER DATABASE {0} SET DateStyle = 'SQL, DMY'; \
         ALTER DATABASE {0} SET TimeZone = 'Asia/Tokyo'; ALTER DATABASE {0} SET IntervalStyle = 'sql_standard'",
        second.name
    ));
    second.psql("CREATE TABLE shift_oids AS SELECT g FROM generate_series(1, 10) g; DROP TABLE shift_oids");
    second.sg(dir.path()).args(&["run"]).run().assert_code(0);
    let b = second.sg(dir.path()).args(&["snapshot"]).run();
    b.assert_code(0);
    a.stdout_has("'2024-01-31 12:00:00+00'::timestamp with time zone");
    a.stdout_has("FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')");
    assert_eq!(a.stdout, b.stdout, "snapshots differ between clusters");
}

const SCHEMAS: &str = "
CREATE SCHEMA app;
CREATE TABLE app.accounts (id bigint PRIMARY KEY, owner bigint REFERENCES public.users (id));
CREATE SCHEMA scratch_1;
CREATE TABLE scratch_1.tmp (id int);
";

#[test]
fn excluded_schemas_are_ignored() {
    let db = shared().fresh_db();
    let dir = project();
    std::fs::write(dir.path().join("0006_schemas.sql"), SCHEMAS).unwrap();
    let sg = |args: &[&str]| {
        db.sg(dir.path())
            .env("SCHEMAGATE_SCHEMAS", "*")
            .env("SCHEMAGATE_SCHEMA_EXCLUDE", "scratch_*")
            .args(args)
            .run()
    };
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    let out = schema_json(dir.path());
    sg(&["snapshot", "--output", out.to_str().unwrap()]).assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let schemas: Vec<&String> = doc["schemas"].as_object().unwrap().keys().collect();
    assert_eq!(schemas, vec!["app", "public"]);
    assert_eq!(
        doc["schemas"]["app"]["tables"]["accounts"]["constraints"]["accounts_owner_fkey"]["definition"],
        "FOREIGN KEY (owner) REFERENCES public.users(id)"
    );

    // A change in an excluded schema goes unnoticed; one in a compared schema does not.
    db.psql("DROP TABLE scratch_1.tmp; CREATE TABLE scratch_1.other (x int)");
    sg(&["verify"]).assert_code(0);
    db.psql("ALTER TABLE app.accounts ADD COLUMN closed boolean");
    let r = sg(&["verify", "--strict-schema"]);
    r.assert_code(6);
    assert_eq!(
        report_lines(&r),
        vec!["table app.accounts: column closed not in the expected schema (actual boolean)"],
        "{}",
        r.stderr
    );
    // The default compares public only: app's change is not seen there.
    let public_only = db.sg(dir.path()).args(&["verify", "--strict-schema"]).run();
    public_only.assert_code(0);
}

#[test]
fn the_history_table_is_never_reported() {
    for table in ["schemagate_history", "public.migrations_log", "ops.history"] {
        let db = shared().fresh_db();
        let dir = project();
        let sg = |args: &[&str]| {
            db.sg(dir.path())
                .env("SCHEMAGATE_HISTORY_TABLE", table)
                .env("SCHEMAGATE_SCHEMAS", "*")
                .args(args)
                .run()
        };
        sg(&["run"]).assert_code(0);
        let snap = sg(&["snapshot"]);
        snap.assert_code(0);
        let name = table.rsplit('.').next().unwrap();
        assert!(!snap.stdout.contains(name), "{table} in the snapshot:\n{}", snap.stdout);
        let out = schema_json(dir.path());
        std::fs::write(&out, &snap.stdout).unwrap();
        // Strict: not even as an extra object, also after more rows are written.
        sg(&["verify", "--strict-schema"]).assert_code(0);
        std::fs::write(dir.path().join("0006_no_schema_change.sql"), "SELECT 1;").unwrap();
        sg(&["run", "--strict-schema"]).assert_code(0);
        assert_eq!(db.history_of(table).len(), 6);
    }
}

fn with_scripts(scripts: &[(&str, &str)]) -> Drifted {
    let drifted = Drifted::new("INSERT INTO users (email) VALUES ('a@example.com')");
    let verify_dir = drifted.dir.path().join("verify");
    std::fs::create_dir(&verify_dir).unwrap();
    for (name, sql) in scripts {
        std::fs::write(verify_dir.join(name), sql).unwrap();
    }
    drifted
}

#[test]
fn verify_scripts_pass_and_fail_as_specified() {
    let drifted = with_scripts(&[
        (
            "01_totals.sql",
            "SELECT count(*) = 0 FROM orders WHERE total_cents < 0;",
        ),
        (
            "02_emails.sql",
            "-- every address has an @\nSELECT true;\nSELECT bool_and(email LIKE '%@%') FROM users;\n",
        ),
        ("03_text_f.sql", "SELECT 'f'::text, 1; SELECT NULL::boolean;"),
        ("README.md", "not a script"),
    ]);
    let ok = drifted.run(&["verify"]);
    ok.assert_code(0);
    ok.stderr_has("3 verify script(s) passed");

    drifted.db.psql("INSERT INTO users (email) VALUES ('no-at-sign')");
    let bad = drifted.run(&["verify"]);
    bad.assert_code(6);
    assert_eq!(
        report_lines(&bad),
        vec!["verify script verify/02_emails.sql: the statement at line 3 returned false (row 1)"],
        "{}",
        bad.stderr
    );
    // run checks them too, after applying.
    drifted.run(&["run"]).assert_code(6);
}

#[test]
fn a_failing_verify_script_is_named_with_its_error_and_cannot_write() {
    let drifted = with_scripts(&[
        ("broken.sql", "SELECT 1;\n\nSELECT nope FROM users;\n"),
        ("writes.sql", "INSERT INTO users (email) VALUES ('x@example.com');"),
        (
            "commits.sql",
            "COMMIT; INSERT INTO users (email) VALUES ('y@example.com');",
        ),
    ]);
    let r = drifted.run(&["verify"]);
    r.assert_code(6);
    let lines = report_lines(&r);
    assert_eq!(lines.len(), 3, "{}", r.stderr);
    assert_eq!(
        lines[0],
        "verify script verify/broken.sql: line 3, column 8: column \"nope\" does not exist (SQLSTATE 42703)"
    );
    assert!(
        lines[1].starts_with("verify script verify/commits.sql: line 1, column 9: ")
            && lines[1].contains("read-only transaction (SQLSTATE 25006)"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("verify script verify/writes.sql: ") && lines[2].contains("SQLSTATE 25006"),
        "{}",
        lines[2]
    );
    // Under run's read-write session too, nothing was written.
    drifted.run(&["run"]).assert_code(6);
    assert_eq!(drifted.db.psql("SELECT count(*) FROM users"), "1\n");

    let json = drifted.run(&["verify", "--format", "json"]);
    json.assert_code(6);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["scripts"][0]["script"], "verify/broken.sql");
    assert_eq!(doc["scripts"][0]["ok"], false);
    assert!(doc["differences"].as_array().unwrap().is_empty());
}

#[test]
fn verify_json_reports_history_problems_too() {
    let db = shared().fresh_db();
    let dir = project();
    let r = db.sg(dir.path()).args(&["verify", "--format", "json"]).run();
    r.assert_code(6);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document on stdout");
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["history"].as_array().unwrap().len(), 5);
    assert!(doc["history"][0].as_str().unwrap().contains("is pending"));
}

#[test]
fn run_to_a_target_version_is_not_held_to_the_head_schema() {
    let dir = project();
    let first = shared().fresh_db();
    migrated_with_snapshot(&first, dir.path());
    let db = shared().fresh_db();
    let r = db.sg(dir.path()).args(&["run", "--target", "2"]).run();
    r.assert_code(0);
    assert_eq!(db.history().len(), 2);
    // At head, the same file is checked.
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    db.psql("DROP INDEX orders_user_id_idx");
    db.sg(dir.path()).args(&["run"]).run().assert_code(6);
}
