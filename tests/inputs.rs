//! Inputs that real repositories contain: a UTF-8 byte order mark,
//! non-ASCII dollar-quote tags, migrations that change `search_path`, the
//! role, or other session state, and a schema named after the role.

mod common;

use common::{migrations, shared, Sg};
use sha2::{Digest, Sha256};

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A BOM from a Windows editor is taken off before the directives are read
/// and before the SQL is sent; the recorded checksum is the file's own.
#[test]
fn a_byte_order_mark_is_taken_off_and_the_checksum_is_the_files() {
    let db = shared().fresh_db();
    let bom = "\u{feff}";
    let plain = format!("{bom}CREATE TABLE a (id int);\r\n");
    let directive = format!("{bom}-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n");
    let dir = migrations(&[("0001_a.sql", &plain), ("0002_idx.sql", &directive)]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert!(db.table_exists("a") && db.table_exists("a_id"));
    let recorded = db.psql("SELECT checksum FROM schemagate_history WHERE migration_version = '1'");
    assert_eq!(recorded.trim(), sha256_hex(plain.replace("\r\n", "\n").as_bytes()));
    // The directive was seen: the index was built outside a transaction.
    assert_eq!(
        db.psql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'a_id'::regclass"),
        "t\n"
    );
    db.sg(dir.path()).args(&["verify"]).run().assert_code(0);
}

/// `$é$` is a dollar-quote tag (PostgreSQL's identifier rules allow any
/// non-ASCII letter): a no-transaction file split at `;` inside it fails.
#[test]
fn non_ascii_dollar_quote_tags_split_correctly_in_no_transaction_files() {
    let db = shared().fresh_db();
    let dir = migrations(&[(
        "0001_f.sql",
        "-- schemagate:no-transaction\nCREATE FUNCTION f() RETURNS text AS $é$ SELECT 'a;b' $é$ LANGUAGE sql;\n\
         CREATE TABLE t (v text);\nINSERT INTO t SELECT f();",
    )]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert_eq!(db.psql("SELECT v FROM t"), "a;b\n");
}

/// A migration that empties `search_path` (every pg_dump file starts with
/// `set_config('search_path', '', false)`) must not make the history write,
/// or the next migration, fail.
#[test]
fn a_migration_that_empties_search_path_does_not_misplace_the_history() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        (
            "0001_dump.sql",
            "SELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE public.a ();",
        ),
        ("0002_next.sql", "CREATE TABLE b ();"),
    ]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert_eq!(db.history(), ["1|dump|true", "2|next|true"]);
    assert!(db.table_exists("public.b"));
}

/// With the default search_path (`"$user", public`), a schema named after a
/// second role would capture an unqualified history table: that role's
/// `verify` would see an empty history and its `run` apply everything again.
#[test]
fn a_schema_named_after_the_role_does_not_capture_the_history() {
    let db = shared().fresh_db();
    let role = format!("r_{}", db.name);
    db.psql(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'pw'; GRANT ALL ON DATABASE {0} TO {role}; \
         CREATE SCHEMA {role} AUTHORIZATION {role}; GRANT USAGE, CREATE ON SCHEMA public TO {role};",
        db.name
    ));
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE public.a ();")]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    db.psql(&format!(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON public.schemagate_history TO {role}"
    ));
    let as_role = |args: &[&str]| {
        Sg::new()
            .env(
                "DATABASE_URL",
                &format!("postgres://{role}:pw@127.0.0.1:{}/{}", db.cluster.port, db.name),
            )
            .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
            .args(args)
            .run()
    };
    as_role(&["verify"]).assert_code(0);
    as_role(&["run"]).assert_code(0).stderr_has("nothing to apply");
    assert_eq!(
        db.psql(&format!("SELECT to_regclass('{role}.schemagate_history') IS NULL")),
        "t\n"
    );
    db.psql(&format!(
        "DROP SCHEMA {role} CASCADE; DROP OWNED BY {role}; DROP ROLE {role}"
    ));
}

/// `SET ROLE` in a migration: its objects belong to that role, and the
/// history row is still written as the role that connected, even when the
/// other role may not write the history table.
#[test]
fn set_role_inside_a_migration_leaves_the_bookkeeping_to_the_connecting_role() {
    let db = shared().fresh_db();
    let owner = format!("o_{}", db.name);
    db.psql(&format!(
        "CREATE ROLE {owner} NOLOGIN; GRANT CREATE ON SCHEMA public TO {owner}"
    ));
    let dir = migrations(&[
        ("0001_owned.sql", &format!("SET ROLE {owner};\nCREATE TABLE owned ();")),
        (
            "0002_local.sql",
            &format!("SET LOCAL ROLE {owner};\nCREATE TABLE owned_too ();"),
        ),
        ("0003_after.sql", "CREATE TABLE after ();"),
    ]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert_eq!(db.history().len(), 3);
    let owners = db.psql(
        "SELECT string_agg(relname || ':' || pg_get_userbyid(relowner), ',' ORDER BY relname) FROM pg_class \
         WHERE relname IN ('owned', 'owned_too', 'after')",
    );
    assert_eq!(owners, format!("after:postgres,owned:{owner},owned_too:{owner}\n"));
    db.psql(&format!(
        "DROP TABLE owned, owned_too; REVOKE CREATE ON SCHEMA public FROM {owner}; DROP ROLE {owner}"
    ));
}

/// What a migration does to its session (search_path, settings) does not
/// reach the next one.
#[test]
fn session_state_does_not_carry_over_between_migrations() {
    let db = shared().fresh_db();
    let dir = migrations(&[
        (
            "0001_sets.sql",
            "CREATE SCHEMA elsewhere;\nSET search_path = elsewhere;\nSET statement_timeout = '1ms';\nSET work_mem = '7MB';",
        ),
        (
            "0002_reads.sql",
            "SELECT pg_sleep(0.05);\nCREATE TABLE public.seen AS SELECT current_setting('search_path') AS sp, \
             current_setting('statement_timeout') AS st, current_setting('work_mem') AS wm;",
        ),
    ]);
    db.sg(dir.path()).args(&["run"]).run().assert_code(0);
    assert_eq!(
        db.psql("SELECT sp || '|' || st || '|' || wm FROM public.seen"),
        "\"$user\", public|0|4MB\n"
    );
}
