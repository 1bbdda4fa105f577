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
/// Its security (row-level security, a policy, grants, comments) names no
/// role but PUBLIC and the superuser, so that two clusters compare.
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
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY events_unshipped ON events FOR SELECT USING (state <> 'shipped');
COMMENT ON TABLE events IS 'what happened, once';
COMMENT ON COLUMN events.note IS 'free text';
COMMENT ON FUNCTION order_count(bigint) IS 'orders of one user';
REVOKE EXECUTE ON FUNCTION order_count(bigint) FROM PUBLIC;
GRANT SELECT ON order_totals TO PUBLIC;
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
    // Security, roles by name; privileges set against the default.
    let events = &public["tables"]["events"];
    assert_eq!(events["row_security"], true);
    assert!(events.get("force_row_security").is_none(), "false is left out");
    assert_eq!(events["owner"], "postgres");
    assert_eq!(events["comment"], "what happened, once");
    assert_eq!(events["columns"]["note"]["comment"], "free text");
    assert_eq!(
        events["policies"]["events_unshipped"],
        serde_json::json!({"command": "SELECT", "permissive": true, "roles": ["PUBLIC"],
                           "using": "(state <> 'shipped'::public.order_state)"})
    );
    assert_eq!(
        public["functions"]["order_count(bigint)"]["privileges"],
        serde_json::json!({"revoked": [{"grantee": "PUBLIC", "privilege": "EXECUTE"}]})
    );
    assert_eq!(
        public["views"]["order_totals"]["privileges"],
        serde_json::json!({"granted": [{"grantee": "PUBLIC", "privilege": "SELECT"}]})
    );
    assert!(
        public["tables"]["users"].get("privileges").is_none(),
        "a NULL ACL is the default"
    );
    assert_eq!(public["owner"], "pg_database_owner");
    assert_eq!(public["types"]["order_state"]["owner"], "postgres");

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

/// Row-level security, a policy, grants on a table, a column, a function and
/// a schema, default privileges in a schema and global ones, comments.
/// `{owner}` owns the table and the schema `app` (without one, whoever runs
/// the migration does); `{reader}` is granted and policed.
const SECURITY: &str = "
CREATE TABLE acct (id bigint PRIMARY KEY, tenant text NOT NULL, secret text);
{own_table}
ALTER TABLE acct ENABLE ROW LEVEL SECURITY;
CREATE POLICY acct_owner ON acct TO {reader} USING (tenant = current_user) WITH CHECK (tenant = current_user);
GRANT SELECT, INSERT ON acct TO {reader};
GRANT UPDATE (secret) ON acct TO {reader};
COMMENT ON TABLE acct IS 'one row per tenant';
COMMENT ON COLUMN acct.secret IS 'never logged';
CREATE FUNCTION acct_count() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM acct $$;
REVOKE EXECUTE ON FUNCTION acct_count() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION acct_count() TO {reader};
CREATE SCHEMA app{authorization};
GRANT USAGE ON SCHEMA app TO {reader};
ALTER DEFAULT PRIVILEGES{for_role} IN SCHEMA app GRANT SELECT ON TABLES TO {reader};
ALTER DEFAULT PRIVILEGES{for_role} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
";

fn security_migration(owner: Option<&str>, reader: &str) -> String {
    let (own_table, authorization, for_role) = match owner {
        Some(o) => (
            format!("ALTER TABLE acct OWNER TO {o};"),
            format!(" AUTHORIZATION {o}"),
            format!(" FOR ROLE {o}"),
        ),
        None => Default::default(),
    };
    SECURITY
        .replace("{own_table}", &own_table)
        .replace("{authorization}", &authorization)
        .replace("{for_role}", &for_role)
        .replace("{reader}", reader)
}

/// Roles are cluster-wide, and the tests of this file share a cluster while
/// each has its own database: a test's roles carry its database's name, so
/// tests side by side never share one. They go with the cluster at exit.
fn create_roles(db: &TestDb, roles: &[&str], login: bool) {
    for role in roles {
        let login = if login {
            format!(" LOGIN PASSWORD '{}'", common::PASSWORD)
        } else {
            String::new()
        };
        db.psql(&format!("CREATE ROLE {role}{login}"));
    }
}

/// A database migrated with [`SECURITY`] (owner and reader roles of its own)
/// and snapshotted with the schemas `public` and `app` compared.
struct Secured {
    db: TestDb<'static>,
    dir: tempfile::TempDir,
    owner: String,
    reader: String,
}

impl Secured {
    fn new() -> Secured {
        let db = shared().fresh_db();
        let (owner, reader) = (format!("{}_owner", db.name), format!("{}_reader", db.name));
        create_roles(&db, &[&owner, &reader], false);
        let sql = security_migration(Some(&owner), &reader);
        let dir = common::migrations(&[("0001_security.sql", &sql)]);
        let secured = Secured { db, dir, owner, reader };
        secured.run(&["run"]).assert_code(0);
        let out = schema_json(secured.dir.path());
        secured
            .run(&["snapshot", "--output", out.to_str().unwrap()])
            .assert_code(0);
        secured
    }

    fn sg(&self) -> common::Sg {
        self.db.sg(self.dir.path()).env("SCHEMAGATE_SCHEMAS", "public,app")
    }

    fn run(&self, args: &[&str]) -> Run {
        self.sg().args(args).run()
    }

    /// `{owner}` and `{reader}` spelled out.
    fn roles(&self, text: &str) -> String {
        text.replace("{owner}", &self.owner).replace("{reader}", &self.reader)
    }

    fn change(&self, sql: &str) {
        self.db.psql(&self.roles(sql));
    }

    /// Applies `change`, then `verify` must fail naming exactly `expected`.
    #[track_caller]
    fn drift_fails(&self, change: &str, expected: &[&str]) {
        self.change(change);
        self.assert_report(&self.run(&["verify"]), 6, expected);
    }

    #[track_caller]
    fn assert_report(&self, run: &Run, code: i32, expected: &[&str]) {
        run.assert_code(code);
        let expected: Vec<String> = expected.iter().map(|l| self.roles(l)).collect();
        assert_eq!(report_lines(run), expected, "{}", run.stderr);
    }
}

#[test]
fn security_is_recorded_and_an_unchanged_database_passes() {
    let s = Secured::new();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_json(s.dir.path())).unwrap()).unwrap();
    let r = |v: &str| serde_json::Value::String(s.roles(v));
    let acct = &doc["schemas"]["public"]["tables"]["acct"];
    assert_eq!(acct["row_security"], true);
    assert_eq!(acct["owner"], r("{owner}"));
    assert_eq!(acct["comment"], "one row per tenant");
    assert_eq!(acct["columns"]["secret"]["comment"], "never logged");
    let policy = &acct["policies"]["acct_owner"];
    assert_eq!(policy["command"], "ALL");
    assert_eq!(policy["roles"], serde_json::json!([r("{reader}")]));
    assert_eq!(policy["using"], "(tenant = CURRENT_USER)");
    assert_eq!(policy["with_check"], "(tenant = CURRENT_USER)");
    let granted = |privilege: &str| serde_json::json!({"grantee": r("{reader}"), "privilege": privilege});
    assert_eq!(
        acct["privileges"],
        serde_json::json!({"granted": [granted("INSERT"), granted("SELECT")]})
    );
    assert_eq!(
        acct["column_privileges"],
        serde_json::json!({"secret": {"granted": [granted("UPDATE")]}})
    );
    assert_eq!(
        doc["schemas"]["public"]["functions"]["acct_count()"]["privileges"],
        serde_json::json!({"granted": [granted("EXECUTE")],
                           "revoked": [{"grantee": "PUBLIC", "privilege": "EXECUTE"}]})
    );
    let app = &doc["schemas"]["app"];
    assert_eq!(app["owner"], r("{owner}"));
    assert_eq!(app["privileges"], serde_json::json!({"granted": [granted("USAGE")]}));
    assert_eq!(
        app["default_privileges"][s.owner.as_str()]["tables"],
        serde_json::json!({"granted": [granted("SELECT")]})
    );
    // Global default privileges, at the top: they shape every schema.
    assert_eq!(
        doc["default_privileges"][s.owner.as_str()]["functions"],
        serde_json::json!({"revoked": [{"grantee": "PUBLIC", "privilege": "EXECUTE"}]})
    );
    let verify = s.run(&["verify", "--strict-schema"]);
    verify.assert_code(0);
    verify.stderr_has("(0 warning(s))");
}

#[test]
fn row_level_security_switched_off_or_forced_fails() {
    let s = Secured::new();
    s.drift_fails(
        "ALTER TABLE acct DISABLE ROW LEVEL SECURITY",
        &["table public.acct: row level security differs: expected enabled / actual disabled"],
    );
    s.drift_fails(
        "ALTER TABLE acct ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY",
        &["table public.acct: forced row level security differs: expected off / actual on"],
    );
    // run holds the deploy too.
    s.run(&["run"]).assert_code(6);
}

#[test]
fn a_dropped_or_altered_policy_fails_and_an_extra_one_warns() {
    let s = Secured::new();
    s.drift_fails(
        "ALTER POLICY acct_owner ON acct USING (true)",
        &["policy acct_owner on public.acct: using expression differs: \
           expected (tenant = CURRENT_USER) / actual true"],
    );
    s.drift_fails(
        "DROP POLICY acct_owner ON acct",
        &[
            "policy acct_owner on public.acct: missing (expected AS PERMISSIVE FOR ALL TO {reader} \
           USING (tenant = CURRENT_USER) WITH CHECK (tenant = CURRENT_USER))",
        ],
    );
    s.change(
        "CREATE POLICY acct_owner ON acct TO {reader} USING (tenant = current_user) WITH CHECK (tenant = current_user); \
         CREATE POLICY see_all ON acct FOR SELECT USING (true)",
    );
    let extra = "policy see_all on public.acct: not in the expected schema (actual AS PERMISSIVE FOR SELECT TO PUBLIC USING true)";
    let lenient = s.run(&["verify"]);
    lenient.assert_code(0);
    lenient.stderr_has(extra).stderr_has("(1 warning(s))");
    s.assert_report(&s.run(&["verify", "--strict-schema"]), 6, &[extra]);
}

#[test]
fn revoked_grants_fail_naming_privilege_object_and_grantee() {
    let s = Secured::new();
    s.drift_fails(
        "REVOKE SELECT ON acct FROM {reader}; REVOKE UPDATE (secret) ON acct FROM {reader}; \
         REVOKE EXECUTE ON FUNCTION acct_count() FROM {reader}; REVOKE USAGE ON SCHEMA app FROM {reader}; \
         ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA app REVOKE SELECT ON TABLES FROM {reader}",
        &[
            "grant USAGE on schema app to {reader}: missing",
            "default privileges for role {owner} in schema app: grant SELECT on tables to {reader} missing",
            "grant SELECT on public.acct to {reader}: missing",
            "grant UPDATE (secret) on public.acct to {reader}: missing",
            "grant EXECUTE on function public.acct_count() to {reader}: missing",
        ],
    );
}

#[test]
fn added_grants_warn_unless_strict() {
    let s = Secured::new();
    // The last one puts the global default back: PostgreSQL drops the
    // entry, and PUBLIC may execute the owner's next functions again.
    s.change(
        "GRANT DELETE ON acct TO {reader}; GRANT SELECT (tenant) ON acct TO {reader}; \
         GRANT EXECUTE ON FUNCTION acct_count() TO PUBLIC; GRANT CREATE ON SCHEMA app TO {reader}; \
         GRANT UPDATE (secret) ON acct TO {reader} WITH GRANT OPTION; \
         ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT EXECUTE ON FUNCTIONS TO PUBLIC",
    );
    let lines = [
        "default privileges for role {owner}: grant EXECUTE on functions to PUBLIC not in the expected schema",
        "grant CREATE on schema app to {reader}: not in the expected schema",
        "grant DELETE on public.acct to {reader}: not in the expected schema",
        "grant SELECT (tenant) on public.acct to {reader}: not in the expected schema",
        "grant EXECUTE on function public.acct_count() to PUBLIC: not in the expected schema",
    ];
    let lenient = s.run(&["verify"]);
    lenient.assert_code(6);
    // The grant option is a change, not an extra: it fails by default.
    assert_eq!(
        report_lines(&lenient),
        vec![s.roles(
            "grant UPDATE (secret) on public.acct to {reader}: grant option differs: \
             expected none / actual WITH GRANT OPTION"
        )],
        "{}",
        lenient.stderr
    );
    for line in lines {
        lenient.stderr_has(&s.roles(line));
    }
    s.change("REVOKE GRANT OPTION FOR UPDATE (secret) ON acct FROM {reader}");
    s.run(&["verify"]).assert_code(0).stderr_has("(5 warning(s))");
    s.assert_report(&s.run(&["verify", "--strict-schema"]), 6, &lines);
}

#[test]
fn a_changed_owner_fails_naming_the_object() {
    let s = Secured::new();
    let other = format!("{}_other", s.db.name);
    create_roles(&s.db, &[&other], false);
    s.drift_fails(
        &format!(
            "ALTER TABLE acct OWNER TO postgres; ALTER SCHEMA app OWNER TO postgres; \
             ALTER FUNCTION acct_count() OWNER TO {other}"
        ),
        &[
            "schema app: owner differs: expected {owner} / actual postgres",
            "table public.acct: owner differs: expected {owner} / actual postgres",
            &format!("function public.acct_count(): owner differs: expected postgres / actual {other}"),
        ],
    );
}

#[test]
fn changed_comments_fail() {
    let s = Secured::new();
    s.drift_fails(
        "COMMENT ON TABLE acct IS 'changed'; COMMENT ON COLUMN acct.secret IS NULL; \
         COMMENT ON FUNCTION acct_count() IS 'how many'",
        &[
            "table public.acct: comment differs: expected 'one row per tenant' / actual 'changed'",
            "table public.acct: column secret comment differs: expected 'never logged' / actual none",
            "function public.acct_count(): comment differs: expected none / actual 'how many'",
        ],
    );
}

#[test]
fn ignored_aspects_are_not_compared_but_policies_always_are() {
    let s = Secured::new();
    s.change(
        "ALTER TABLE acct OWNER TO postgres; REVOKE INSERT ON acct FROM {reader}; \
         COMMENT ON TABLE acct IS 'changed'",
    );
    let ignoring = |list: &str, args: &[&str]| s.sg().env("SCHEMAGATE_SCHEMA_IGNORE", list).args(args).run();
    let all = ignoring("owner, grants,comments", &["verify", "--strict-schema"]);
    all.assert_code(0);
    all.stderr_has("(0 warning(s))");
    s.assert_report(
        &ignoring("owner", &["verify"]),
        6,
        &[
            "table public.acct: comment differs: expected 'one row per tenant' / actual 'changed'",
            "grant INSERT on public.acct to {reader}: missing",
        ],
    );
    // The flag does the same, and snapshot --check honours it too.
    let flag = s.run(&["verify", "--schema-ignore", "owner,grants,comments"]);
    flag.assert_code(0);
    ignoring("owner,grants,comments", &["snapshot", "--check"]).assert_code(0);

    s.change("ALTER TABLE acct DISABLE ROW LEVEL SECURITY; DROP POLICY acct_owner ON acct");
    let r = ignoring("owner,grants,comments", &["verify"]);
    r.assert_code(6);
    assert_eq!(report_lines(&r).len(), 2, "{}", r.stderr);
    r.stderr_has("policy acct_owner on public.acct: missing");
    r.stderr_has("table public.acct: row level security differs");
    let refused = ignoring("grants,policies", &["verify"]);
    refused.assert_code(2);
    refused
        .stderr_has("SCHEMAGATE_SCHEMA_IGNORE")
        .stderr_has("row level security and policies are always compared");
}

/// The file is written where the migrations run as the superuser with a
/// local reader role; "production" runs them as its own owner role, with
/// another reader. The role map makes the two compare.
#[test]
fn the_role_map_compares_a_file_written_under_other_role_names() {
    let local = shared().fresh_db();
    let local_reader = format!("{}_reader", local.name);
    create_roles(&local, &[&local_reader], false);
    let dir = common::migrations(&[("0001_security.sql", &security_migration(None, &local_reader))]);
    let sg = |db: &TestDb| db.sg(dir.path()).env("SCHEMAGATE_SCHEMAS", "public,app");
    sg(&local).args(&["run"]).run().assert_code(0);
    let out = schema_json(dir.path());
    sg(&local)
        .args(&["snapshot", "--output", out.to_str().unwrap()])
        .run()
        .assert_code(0);

    let production = shared().fresh_db();
    let (owner, reader) = (
        format!("{}_owner", production.name),
        format!("{}_reader", production.name),
    );
    create_roles(&production, &[&owner], true);
    create_roles(&production, &[&reader], false);
    production.psql(&format!("ALTER DATABASE {} OWNER TO {owner}", production.name));
    std::fs::write(dir.path().join("0001_security.sql"), security_migration(None, &reader)).unwrap();
    let url = format!(
        "postgres://{owner}:{}@127.0.0.1:{}/{}",
        common::PASSWORD,
        production.cluster.port,
        production.name
    );
    let as_owner = || sg(&production).env("DATABASE_URL", &url);
    as_owner()
        .env("SCHEMAGATE_EXPECTED_SCHEMA", "")
        .args(&["run"])
        .run()
        .assert_code(0);
    assert_eq!(
        production.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'acct'"),
        format!("{owner}\n")
    );

    let unmapped = as_owner().args(&["verify"]).run();
    unmapped.assert_code(6);
    for line in [
        format!("table public.acct: owner differs: expected postgres / actual {owner}"),
        format!("grant SELECT on public.acct to {local_reader}: missing"),
        format!("policy acct_owner on public.acct: roles differs: expected {local_reader} / actual {reader}"),
        "default privileges for role postgres: grant EXECUTE on functions to PUBLIC not in the expected schema"
            .to_string(),
    ] {
        unmapped.stderr_has(&line);
    }
    let map = format!("postgres={owner}, {local_reader}={reader}");
    let mapped = as_owner()
        .env("SCHEMAGATE_SCHEMA_ROLE_MAP", &map)
        .args(&["verify", "--strict-schema"])
        .run();
    mapped.assert_code(0);
    mapped.stderr_has("(0 warning(s))");
    // Real drift still shows through the map, named with the database's roles.
    production.psql(&format!("REVOKE SELECT ON acct FROM {reader}"));
    let drifted = as_owner().args(&["verify", "--schema-role-map", &map]).run();
    drifted.assert_code(6);
    assert_eq!(
        report_lines(&drifted),
        vec![format!("grant SELECT on public.acct to {reader}: missing")],
        "{}",
        drifted.stderr
    );
}

/// What format 1 wrote: the document without the keys format 2 added.
fn as_format_1(doc: &mut serde_json::Value) {
    doc["format_version"] = 1.into();
    let strip = |v: &mut serde_json::Value, keys: &[&str]| {
        let object = v.as_object_mut().unwrap();
        keys.iter().for_each(|k| {
            object.remove(*k);
        });
    };
    let each = |v: &mut serde_json::Value, keys: &[&str]| {
        for item in v.as_object_mut().unwrap().values_mut() {
            strip(item, keys);
        }
    };
    let object_keys = ["owner", "privileges", "column_privileges", "comment"];
    strip(doc, &["default_privileges"]);
    each(&mut doc["extensions"], &["owner"]);
    for schema in doc["schemas"].as_object_mut().unwrap().values_mut() {
        strip(schema, &["owner", "privileges", "default_privileges"]);
        for table in schema["tables"].as_object_mut().unwrap().values_mut() {
            strip(table, &object_keys);
            strip(table, &["policies", "row_security", "force_row_security"]);
            each(&mut table["columns"], &["comment"]);
        }
        for kind in ["views", "materialized_views", "sequences", "types", "functions"] {
            each(&mut schema[kind], &object_keys);
        }
    }
}

#[test]
fn a_format_1_snapshot_still_loads_and_compares_what_it_recorded() {
    let s = Secured::new();
    let path = schema_json(s.dir.path());
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    as_format_1(&mut doc);
    let text = serde_json::to_string_pretty(&doc).unwrap();
    for key in ["owner", "privileges", "comment", "policies", "row_security"] {
        assert!(!text.contains(&format!("\"{key}\"")), "{key} left in:\n{text}");
    }
    std::fs::write(&path, text).unwrap();

    // Security drift goes unseen: the file did not record it.
    s.change(
        "ALTER TABLE acct DISABLE ROW LEVEL SECURITY; DROP POLICY acct_owner ON acct; \
         REVOKE ALL ON acct FROM {reader}; ALTER TABLE acct OWNER TO postgres; COMMENT ON TABLE acct IS NULL",
    );
    let notice = "the expected schema has format_version 1, which does not record owner, grants, comments, \
                  row level security and policies: not compared; re-run `schemagate snapshot --output FILE`";
    let verify = s.run(&["verify", "--strict-schema"]);
    verify.assert_code(0);
    assert_eq!(verify.stderr.matches(notice).count(), 1, "{}", verify.stderr);
    assert!(verify.stderr.lines().any(|l| l.contains(notice) && l.contains("WARN")));
    verify.stderr_has("(0 warning(s))");
    // The CI recipe keeps working on the old file.
    let check = s.run(&["snapshot", "--check"]);
    check.assert_code(0);
    check.stderr_has(notice);
    // What it did record is still compared.
    s.drift_fails(
        "ALTER TABLE acct DROP COLUMN tenant CASCADE",
        &["table public.acct: column tenant missing (expected text NOT NULL)"],
    );
}
