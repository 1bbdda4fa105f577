//! Issue 15: what an old, many-handed migration history meets on day one.
//! Each test reproduces one pattern with files written here: a gap in the
//! tables an adoption would rely on, down scripts that do nothing, other
//! tools' no-transaction directives, a statement that refuses a transaction,
//! server notices, and an error inside a `DO` block.

mod common;

use common::{migrations, shared, Run};

/// `run` over five versions of one table each, where the tables of versions
/// `present` exist and the history is empty: refused (exit 5), nothing written.
fn run_where_tables_exist(present: &[u32]) -> Run {
    let db = shared().fresh_db();
    let files: Vec<(String, String)> = (1..=5)
        .map(|n| (format!("000{n}_t{n}.sql"), format!("CREATE TABLE t{n} (id int);\n")))
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let dir = migrations(&refs);
    for n in present {
        db.psql(&format!("CREATE TABLE t{n} (id int)"));
    }
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(5);
    assert!(!db.table_exists("schemagate_history") || db.history().is_empty());
    r
}

/// The tables of 1-2 and 5 exist, those of 3-4 do not: version 5 must not be
/// advised (its predecessors are not there); version 2 is, and the table of 5
/// is named as one `run` would meet.
#[test]
fn baseline_advice_stops_at_a_gap() {
    let r = run_where_tables_exist(&[1, 2, 5]);
    r.stderr_has("schemagate baseline --version 2 (every table the migrations up to it create exists)");
    r.stderr_has("tables of later migrations exist too (public.t5 (0005_t5.sql))");
    r.never_says("--version 5");
}

/// Only tables of later versions exist (what a `down --to 0` with broken down
/// scripts leaves): no version is advised, and present and missing are named.
#[test]
fn baseline_advice_says_when_no_version_qualifies() {
    let r = run_where_tables_exist(&[3, 5]);
    r.stderr_has("No version can be adopted");
    r.stderr_has("Present: public.t3 (0003_t3.sql), public.t5 (0005_t5.sql); missing: public.t1 (0001_t1.sql), public.t2 (0002_t2.sql), public.t4 (0004_t4.sql)");
    r.never_says("baseline --version 3").never_says("baseline --version 5");
}

/// morph's, sqlx's and Flyway's no-transaction directives, each where its
/// tool reads it: every `CREATE INDEX CONCURRENTLY` runs outside a transaction.
#[test]
fn peer_no_transaction_directives_are_honoured() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("000001_t.up.sql", "CREATE TABLE t (a int, b int, c int);\n"),
        (
            "000002_idx_b.up.sql",
            "-- no-transaction\nCREATE INDEX CONCURRENTLY t_b ON t (b);\n",
        ),
        ("V3__idx_c.sql", "CREATE INDEX CONCURRENTLY t_c ON t (c);\n"),
        (
            "V3__idx_c.sql.conf",
            "# Flyway script configuration\nexecuteInTransaction=false\n",
        ),
        (
            "000004_idx_a.up.sql",
            "-- morph:nontransactional\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_a ON t (a);\n",
        ),
        (
            "000004_idx_a.down.sql",
            "-- morph:nontransactional\nDROP INDEX CONCURRENTLY t_a;\n",
        ),
    ]);
    let plan = db.sg(dir.path()).args(&["plan"]).run();
    plan.assert_code(0);
    for file in ["000002_idx_b.up.sql", "V3__idx_c.sql", "000004_idx_a.up.sql"] {
        let line = plan.stdout.lines().find(|l| l.contains(file)).unwrap_or_default();
        assert!(line.contains("no-transaction"), "{file}: {}", plan.stdout);
    }
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    let valid_indexes = || {
        db.psql(
            "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indisvalid AND c.relname LIKE 't\\_%'",
        )
    };
    assert_eq!(valid_indexes(), "t_a,t_b,t_c\n");
    // morph's down script too: DROP INDEX CONCURRENTLY outside a transaction.
    db.sg(dir.path()).args(&["down", "--to", "3"]).run().assert_code(0);
    assert_eq!(valid_indexes(), "t_b,t_c\n");
}

/// A Flyway configuration whose script is gone, or with a setting schemagate
/// cannot honour, is an invalid migration set: exit 2 before any DB write.
#[test]
fn flyway_script_configs_are_checked() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        ("V1__t.sql", "CREATE TABLE t (a int);\n"),
        ("V1__t.sql.conf", "shouldExecute=false\n"),
        ("V2__renamed.sql.conf", "executeInTransaction=false\n"),
    ]);
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(2);
    r.stderr_has("V1__t.sql.conf: line 1: shouldExecute is not a setting schemagate supports");
    r.stderr_has("V2__renamed.sql.conf: a Flyway script configuration without its script V2__renamed.sql");
    assert!(!db.table_exists("schemagate_history"));
}

/// SQLSTATE 25001 carries no position: the error names the line of the
/// statement that refused the transaction, and the directive that fixes it.
#[test]
fn a_statement_that_refuses_a_transaction_is_named_with_the_fix() {
    let db = shared().fresh_db();
    let dir = migrations(&[(
        "0001_t.sql",
        "-- a table and its index\nCREATE TABLE t (a int);\n\n-- built online\nCREATE UNIQUE INDEX CONCURRENTLY t_a ON t (a);\n",
    )]);
    let r = db.sg(dir.path()).args(&["run"]).run();
    r.assert_code(5);
    r.stderr_has("0001_t.sql failed at line 5, column 1: CREATE INDEX CONCURRENTLY cannot run inside a transaction block (SQLSTATE 25001)");
    r.stderr_has("add `-- schemagate:no-transaction` as the first line of 0001_t.sql");
    assert!(!db.table_exists("t"), "the transaction was rolled back");
}

/// An error inside a `DO` block is reported at its line in the file (the
/// line of the block's `$$` plus the PL/pgSQL line, minus 1), with the
/// server's context beneath; in a transactional file (the whole file in one
/// piece) and in a no-transaction one (statement by statement).
#[test]
fn errors_inside_do_blocks_point_at_their_line_in_the_file() {
    let body = "CREATE TABLE t (a int);\n\
                \n\
                DO $$\n\
                BEGIN\n\
                \x20 INSERT INTO t VALUES (1);\n\
                END $$;\n\
                \n\
                DO $$\n\
                DECLARE n int := 0;\n\
                BEGIN\n\
                \x20 INSERT INTO t VALUES (2);\n\
                \x20 INSERT INTO t VALUES (1 / n);\n\
                END $$;\n";
    for (name, sql) in [
        ("0001_do.sql", body.to_string()),
        ("0001_do_alone.sql", format!("-- schemagate:no-transaction\n{body}")),
    ] {
        let db = shared().fresh_db();
        let dir = migrations(&[(name, &sql)]);
        let line = if name.contains("alone") { 13 } else { 12 };
        let r = db.sg(dir.path()).args(&["run"]).run();
        r.assert_code(5);
        r.stderr_has(&format!(
            "{name} failed at line {line}, column 3: division by zero (SQLSTATE 22012)"
        ));
        r.stderr_has("context: SQL statement \"INSERT INTO t VALUES (1 / n)\"");
        r.stderr_has("PL/pgSQL function inline_code_block line 5 at SQL statement");
    }
}

/// The index name is taken by another table, so `IF NOT EXISTS` skips it:
/// PostgreSQL says so with a NOTICE, and schemagate shows it (info level),
/// with the file. A WARNING raised inside a `DO` block shows at warn level
/// with its line; DEBUG and LOG messages stay hidden, even at trace.
#[test]
fn server_notices_are_logged_with_their_file() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        (
            "0001_idx.sql",
            "CREATE TABLE channels (id int);\nCREATE TABLE groupchannels (id int);\n\
             CREATE INDEX idx_channel_id ON channels (id);\n\
             CREATE INDEX IF NOT EXISTS idx_channel_id ON groupchannels (id);\n",
        ),
        (
            "0002_check.sql",
            "SET LOCAL client_min_messages = debug1;\n\
             DO $$\n\
             BEGIN\n\
             \x20 RAISE DEBUG 'hidden-debug';\n\
             \x20 RAISE LOG 'hidden-log';\n\
             \x20 RAISE WARNING 'groupchannels has % rows', (SELECT count(*) FROM groupchannels);\n\
             END $$;\n",
        ),
    ]);
    let r = db.sg(dir.path()).env("SCHEMAGATE_LOG", "trace").args(&["run"]).run();
    r.assert_code(0);
    let notice = log_line(&r, "relation \"idx_channel_id\" already exists, skipping");
    assert!(
        notice.contains(" INFO ") && notice.contains("server NOTICE in 0001_idx.sql"),
        "{notice}"
    );
    let warning = log_line(&r, "groupchannels has 0 rows");
    assert!(
        warning.contains(" WARN ") && warning.contains("server WARNING in 0002_check.sql line 6"),
        "{warning}"
    );
    r.never_says("hidden-debug").never_says("hidden-log");
}

/// The log line that says `needle`.
#[track_caller]
fn log_line<'a>(r: &'a Run, needle: &str) -> &'a str {
    r.stderr
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in:\n{}", r.stderr))
}

/// In the JSON log, a notice's file, line, severity and SQLSTATE are fields.
#[test]
fn server_notices_are_fields_in_the_json_log() {
    let db = shared().fresh_db();
    let dir = migrations(&[(
        "0001_n.sql",
        "-- schemagate:no-transaction\nCREATE TABLE t (id int);\n\nCREATE TABLE IF NOT EXISTS t (id int);\n",
    )]);
    let r = db
        .sg(dir.path())
        .env("SCHEMAGATE_LOG_FORMAT", "json")
        .args(&["run"])
        .run();
    r.assert_code(0);
    let notice: serde_json::Value = r
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["severity"] == "NOTICE")
        .unwrap_or_else(|| panic!("no notice in:\n{}", r.stderr));
    assert_eq!(notice["level"], "INFO", "{notice}");
    let fields = &notice["fields"];
    assert_eq!(fields["file"], "0001_n.sql", "{notice}");
    assert_eq!(fields["line"], 4, "{notice}");
    assert_eq!(fields["sqlstate"], "42P07", "{notice}");
    assert!(
        fields["message"]
            .as_str()
            .unwrap_or("")
            .contains("relation \"t\" already exists, skipping"),
        "{notice}"
    );
}

/// A golang-migrate history whose down scripts were written by many hands:
/// one reverts, one is empty, one is a comment by design, one has a typo
/// that `IF EXISTS` hides.
fn many_hands() -> tempfile::TempDir {
    migrations(&[
        ("000001_teams.up.sql", "CREATE TABLE teams (id int);\n"),
        ("000001_teams.down.sql", "DROP TABLE teams;\n"),
        ("000002_posts.up.sql", "CREATE TABLE posts (id int);\n"),
        ("000002_posts.down.sql", ""),
        (
            "000003_mood.up.sql",
            "CREATE TYPE mood AS ENUM ('ok');\nCREATE FUNCTION cheer() RETURNS int LANGUAGE sql AS 'SELECT 1';\n",
        ),
        (
            "000003_mood.down.sql",
            "-- This migration intentionally does not have rollback.\n/* see 000003_mood.up.sql */\n",
        ),
        ("000004_channels.up.sql", "CREATE TABLE channels (id int);\n"),
        ("000004_channels.down.sql", "DROP TABLE IF EXISTS channel;\n"),
    ])
}

/// An empty or comment-only down script is not a revert: `down` refuses,
/// naming all of them, and changes nothing.
#[test]
fn down_refuses_empty_down_scripts_and_changes_nothing() {
    let db = shared().fresh_db();
    let dir = many_hands();
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    let r = db.sg(dir.path()).args(&["down", "--to", "0"]).run();
    r.assert_code(2);
    r.stderr_has("these down scripts are empty or only comments, so they would revert nothing: 000003_mood.down.sql, 000002_posts.down.sql");
    r.stderr_has("--allow-empty");
    assert_eq!(db.history().len(), 4);
    assert!(db.table_exists("channels") && db.table_exists("teams"));
}

/// With `--allow-empty` the empty ones are no-op downs, and what the down
/// scripts left is named: after `down --to 0`, every object; the baseline
/// advice that follows names no version, since the first table is gone.
#[test]
fn down_with_allow_empty_says_what_is_left() {
    let db = shared().fresh_db();
    let dir = many_hands();
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    let r = db.sg(dir.path()).args(&["down", "--to", "0", "--allow-empty"]).run();
    r.assert_code(0);
    assert_eq!(
        r.stdout,
        "reverted 4 channels\nno-op 3 mood\nno-op 2 posts\nreverted 1 teams\n"
    );
    r.stderr_has("no-op down (nothing reverted): 000002_posts.down.sql");
    r.stderr_has("server NOTICE in 000004_channels.down.sql: table \"channel\" does not exist, skipping");
    r.stderr_has("the down scripts left 4 object(s) that the migrations up to version 0 do not make: table public.channels, table public.posts, type public.mood, function public.cheer()");
    r.stderr_has(
        "reverted [1, 4], no-op down (nothing reverted) [2-3]; history at version 0 or below; 4 object(s) left behind",
    );
    assert!(db.history().is_empty());

    let again = db.sg(dir.path()).args(&["run"]).run();
    again.assert_code(5);
    again.stderr_has("No version can be adopted");
    again.stderr_has("Present: public.channels (000004_channels.up.sql), public.posts (000002_posts.up.sql); missing: public.teams (000001_teams.up.sql)");
}

/// Above the first migration, the tables of reverted files that are still
/// there are named with the file that made them.
#[test]
fn down_to_a_version_names_the_tables_left_behind() {
    let db = shared().fresh_db();
    let dir = many_hands();
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    let r = db.sg(dir.path()).args(&["down", "--to", "3"]).run();
    r.assert_code(0);
    r.stderr_has("left 1 object(s) that the migrations up to version 3 do not make: table public.channels (000004_channels.up.sql)");
    let clean = db.sg(dir.path()).args(&["down", "--to", "0"]).run();
    clean.assert_code(2);
    assert_eq!(db.history().len(), 3);
}
