//! Every setting, defined once: its variable, its flag, its default, what it
//! means and how its value is read. This table is the source of the
//! unknown-variable check, of the flags and their `--help` text, and of the
//! variable list in the Helm chart's `values.schema.json` (see
//! [`helm_schema`]); a test fails when the README or the chart misses one.
//!
//! Before it existed, each setting was spelled in five places that drifted
//! apart (the chart validator knew 10 of 14 variables).

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// How a value is read. The Helm schema's pattern or enum comes from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `250ms`, `30s`, `5m`, `1h`, or a bare number of seconds.
    Duration,
    /// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.
    Bool,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A whole number, zero or more.
    Count,
    /// Free text: a path, a name, a list, a URL.
    Text,
}

/// What applies when the setting is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// This value, parsed like a given one.
    Value(&'static str),
    /// Worked out from other inputs; the text says how.
    Derived(&'static str),
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub var: &'static str,
    /// The long flag, without `--`; `None` for variables with no flag twin.
    pub flag: Option<&'static str>,
    pub value_name: &'static str,
    pub default: Default,
    pub meaning: &'static str,
    pub kind: Kind,
}

const BOOL: Kind = Kind::Bool;
const DURATION: Kind = Kind::Duration;
const TEXT: Kind = Kind::Text;

const fn setting(
    var: &'static str,
    flag: Option<&'static str>,
    value_name: &'static str,
    default: Default,
    kind: Kind,
    meaning: &'static str,
) -> Setting {
    Setting {
        var,
        flag,
        value_name,
        default,
        meaning,
        kind,
    }
}

pub const SSLMODES: &[&str] = &["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

/// The table. Order is the order of `--help` and of the README.
pub const SETTINGS: &[Setting] = &[
    setting("DATABASE_URL", Some("database-url"), "URL", Default::None, TEXT,
        "the target, as a postgres:// URL or a libpq key=value string (a flag is visible in `ps`: prefer DATABASE_URL_FILE)"),
    setting("DATABASE_URL_FILE", None, "PATH", Default::None, TEXT,
        "read DATABASE_URL from this file (trailing newline trimmed)"),
    setting("POSTGRES_HOST", None, "HOST", Default::Value("localhost"), TEXT,
        "used when DATABASE_URL is not set, like the official postgres image"),
    setting("POSTGRES_PORT", None, "PORT", Default::Value("5432"), TEXT, "the server's port"),
    setting("POSTGRES_USER", None, "USER", Default::Value("postgres"), TEXT, "the role to connect as"),
    setting("POSTGRES_PASSWORD", None, "PASSWORD", Default::None, TEXT, "the role's password"),
    setting("POSTGRES_PASSWORD_FILE", None, "PATH", Default::None, TEXT, "read the password from this file"),
    setting("POSTGRES_DB", None, "NAME", Default::Derived("the user"), TEXT, "the database"),
    setting("POSTGRES_SSLMODE", None, "MODE", Default::Value("prefer"), Kind::Choice(SSLMODES), "as the URL's sslmode"),
    setting("POSTGRES_SSLROOTCERT", None, "PATH", Default::None, TEXT, "as the URL's sslrootcert"),
    setting("SCHEMAGATE_SSLROOTCERT", Some("sslrootcert"), "PATH", Default::None, TEXT,
        "the CA bundle (PEM) to verify the server with, in every connection mode, when the connection string names none: for a CA mounted by the platform (a Kubernetes Secret), which a URL from elsewhere cannot point at"),
    setting("SCHEMAGATE_MIGRATIONS_DIR", Some("migrations-dir"), "DIR", Default::Value("./migrations"), TEXT,
        "the directory of migration files"),
    setting("SCHEMAGATE_WAIT_TIMEOUT", Some("wait-timeout"), "DURATION", Default::Value("60s"), DURATION,
        "how long to wait for the database (and for `verify --wait`); 0 means one attempt"),
    setting("SCHEMAGATE_CONNECT_TIMEOUT", Some("connect-timeout"), "DURATION", Default::Derived("the URL's connect_timeout, else 5s"), DURATION,
        "bound on one connection attempt, handshake included; 0 means no bound, as in libpq"),
    setting("SCHEMAGATE_LOCK_TIMEOUT", Some("lock-timeout"), "DURATION", Default::Value("5m"), DURATION,
        "how long to wait for locks: the migration lock, and per migration the table locks its DDL needs; 0 means one try"),
    setting("SCHEMAGATE_DDL_LOCK_TIMEOUT", Some("ddl-lock-timeout"), "DURATION", Default::Value("2s"), DURATION,
        "how long a transactional migration may wait for a table lock before it is rolled back and retried (until the lock timeout runs out); 0 waits as long as it takes"),
    setting("SCHEMAGATE_HISTORY_TABLE", Some("history-table"), "[SCHEMA.]TABLE", Default::Value("public.schemagate_history"), TEXT,
        "the history table, always schema-qualified (a bare name is in public); the schema is created if missing"),
    setting("SCHEMAGATE_CREATE_DATABASE", Some("create-database"), "BOOL", Default::Value("false"), BOOL,
        "create the target database when it does not exist"),
    setting("SCHEMAGATE_OUT_OF_ORDER", Some("out-of-order"), "BOOL", Default::Value("false"), BOOL,
        "allow applying a pending version lower than the highest applied one"),
    setting("SCHEMAGATE_FUTURE", Some("future"), "POLICY", Default::Value("warn"), Kind::Choice(&["warn", "fail"]),
        "versions applied by a newer release (above this image's highest file, after a rollback): warn and go on, or fail (exit 6)"),
    setting("SCHEMAGATE_RESTORE_POINT", Some("restore-point"), "MODE", Default::Value("auto"), Kind::Choice(crate::restore::RestorePointMode::WORDS),
        "a named restore point (pg_create_restore_point) before `run` applies anything: auto (take it, warn once when it cannot be taken or no WAL archive would keep it), require (refuse with exit 3 unless WAL archiving is on and healthy and the point was taken) or off"),
    setting("SCHEMAGATE_LOG_FORMAT", Some("log-format"), "FORMAT", Default::Value("text"), Kind::Choice(&["text", "json"]),
        "log lines as text or as one JSON object each"),
    setting("SCHEMAGATE_LOG", Some("log"), "FILTER", Default::Derived("RUST_LOG, else info"), TEXT,
        "log level filter (debug, info, warn, ...)"),
    setting("SCHEMAGATE_TERMINATION_LOG", Some("termination-log"), "PATH", Default::Derived("/dev/termination-log when it exists and is writable"), TEXT,
        "where to write a one-line summary on exit, for `kubectl describe pod`; empty disables"),
    setting("SCHEMAGATE_SCHEMAS", Some("schemas"), "LIST", Default::Value("public"), TEXT,
        "the schemas the schema check compares: comma-separated names or globs"),
    setting("SCHEMAGATE_SCHEMA_EXCLUDE", Some("schema-exclude"), "LIST", Default::None, TEXT,
        "comma-separated globs of schemas left out of the schema check"),
    setting("SCHEMAGATE_EXPECTED_SCHEMA", Some("expected-schema"), "FILE", Default::Derived("<migrations dir>/schema.json when it exists"), TEXT,
        "the snapshot `run` and `verify` compare the live schema with; empty turns the comparison off"),
    setting("SCHEMAGATE_STRICT_SCHEMA", Some("strict-schema"), "BOOL", Default::Value("false"), BOOL,
        "objects in the database but not in the expected schema fail verification"),
    setting("SCHEMAGATE_SCHEMA_IGNORE", Some("schema-ignore"), "LIST", Default::None, TEXT,
        "aspects left out of the schema check, comma-separated: owner, grants, comments (row level security and policies are always compared)"),
    setting("SCHEMAGATE_SCHEMA_ROLE_MAP", Some("schema-role-map"), "FROM=TO,...", Default::None, TEXT,
        "role names of the expected schema compared as other names in the database, e.g. postgres=app_owner"),
    setting("SCHEMAGATE_SHADOW_URL", Some("shadow-url"), "URL|auto", Default::None, TEXT,
        "an empty scratch database, on a server of the target's major version, where `plan --locks` and the lock policy run pending migrations to measure their locks; `auto` creates one on the target's server and drops it"),
    setting("SCHEMAGATE_LOCK_POLICY", Some("lock-policy"), "POLICY", Default::Value("warn"), Kind::Choice(crate::locks::PolicyMode::WORDS),
        "what `run` does, before applying, with a pending statement that would block writes or reads on a big relation while scanning or rewriting: off, warn (log and go on) or refuse (exit 2); needs SCHEMAGATE_SHADOW_URL"),
    setting("SCHEMAGATE_LOCK_POLICY_MAX_ROWS", Some("lock-policy-max-rows"), "ROWS", Default::Value("100000"), Kind::Count,
        "relations with more live rows than this on the target, or of unknown size, count as big for the lock policy"),
];

/// The setting of this variable.
pub fn by_var(var: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.var == var)
}

impl Setting {
    /// `--flag`, or the variable when it has no flag: what an error names.
    pub fn flag_text(&self) -> Option<String> {
        self.flag.map(|f| format!("--{f}"))
    }

    /// The `--help` line: meaning, variable and default.
    pub fn help(&self) -> String {
        let default = match self.default {
            Default::Value(v) => format!(" [default: {v}]"),
            Default::Derived(d) => format!(" [default: {d}]"),
            Default::None => String::new(),
        };
        format!("{} [env: {}]{default}", capitalised(self.meaning), self.var)
    }

    /// The JSON schema of the variable's value, for the Helm chart.
    fn json_schema(&self) -> Value {
        let mut description = capitalised(self.meaning);
        if let Default::Value(v) | Default::Derived(v) = self.default {
            description.push_str(&format!(" (default: {v})"));
        }
        let mut schema = json!({"type": "string", "description": description});
        match self.kind {
            Kind::Duration => schema["pattern"] = json!(r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)?$"),
            Kind::Bool => schema["enum"] = json!(["true", "false", "1", "0", "yes", "no", "on", "off"]),
            Kind::Choice(words) => schema["enum"] = json!(words),
            Kind::Count => schema["pattern"] = json!("^[0-9]+$"),
            Kind::Text => {}
        }
        schema
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `$defs.schemagateSettings` of the chart's `values.schema.json`: every
/// `SCHEMAGATE_*` variable with its value's schema. The chart's `extraEnv`
/// and its offline validator take the list from there.
pub fn helm_schema() -> Value {
    let properties: BTreeMap<&str, Value> = SETTINGS
        .iter()
        .filter(|s| s.var.starts_with("SCHEMAGATE_"))
        .map(|s| (s.var, s.json_schema()))
        .collect();
    json!({"type": "object", "additionalProperties": false, "properties": properties})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_defined_once_with_a_unique_flag() {
        for (i, s) in SETTINGS.iter().enumerate() {
            assert!(
                SETTINGS[i + 1..]
                    .iter()
                    .all(|o| o.var != s.var && (o.flag.is_none() || o.flag != s.flag)),
                "{} is defined twice",
                s.var
            );
            assert!(!s.meaning.is_empty() && !s.meaning.ends_with('.'), "{}", s.var);
        }
    }

    #[test]
    fn help_shows_meaning_variable_and_default() {
        let wait = by_var("SCHEMAGATE_WAIT_TIMEOUT").unwrap();
        assert_eq!(
            wait.help(),
            "How long to wait for the database (and for `verify --wait`); 0 means one attempt \
             [env: SCHEMAGATE_WAIT_TIMEOUT] [default: 60s]"
        );
    }

    /// The README's configuration table lists every setting, with its flag.
    #[test]
    fn the_readme_documents_every_setting() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        for s in SETTINGS {
            let flag = s.flag_text().map_or(String::new(), |f| format!("`{f}` "));
            let row = format!("| `{}` | {flag}|", s.var);
            assert!(
                readme.contains(&row),
                "README.md has no configuration row starting `{row}`"
            );
        }
    }

    const CHART_SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/helm/schemagate/values.schema.json");

    /// The chart's `$defs.schemagateSettings` is generated from this table.
    /// After changing a setting: `SCHEMAGATE_BLESS=1 cargo test --lib settings`
    /// rewrites that block (and only it).
    #[test]
    fn the_chart_lists_every_setting_as_the_table_defines_it() {
        let text = std::fs::read_to_string(CHART_SCHEMA).unwrap();
        let chart: Value = serde_json::from_str(&text).unwrap();
        if chart["$defs"]["schemagateSettings"] == helm_schema() {
            return;
        }
        if std::env::var_os("SCHEMAGATE_BLESS").is_some() {
            std::fs::write(
                CHART_SCHEMA,
                with_block_replaced(&text, "schemagateSettings", &helm_schema()),
            )
            .unwrap();
            return;
        }
        panic!(
            "{CHART_SCHEMA}: $defs.schemagateSettings differs from the settings table; \
             regenerate it with SCHEMAGATE_BLESS=1 cargo test --lib settings"
        );
    }

    /// `text` with the object value of `"key":` replaced by `value`, pretty
    /// printed at the same indentation; the rest of the file is untouched.
    fn with_block_replaced(text: &str, key: &str, value: &Value) -> String {
        let start = text.find(&format!("\"{key}\": {{")).expect("the key is in the file") + key.len() + 4;
        let indent = text[..start].rsplit('\n').next().unwrap().len() - key.len() - 4;
        let (mut depth, mut in_string, mut escaped, mut end) = (0, false, false, start);
        for (i, c) in text[start..].char_indices() {
            match (in_string, escaped, c) {
                (true, true, _) => escaped = false,
                (true, false, '\\') => escaped = true,
                (_, false, '"') => in_string = !in_string,
                (false, _, '{') => depth += 1,
                (false, _, '}') => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = start + i + 1;
                break;
            }
        }
        let pretty = serde_json::to_string_pretty(value).unwrap();
        let block = pretty.replace('\n', &format!("\n{}", " ".repeat(indent)));
        format!("{}{block}{}", &text[..start], &text[end..])
    }

    #[test]
    fn blessing_replaces_only_the_block() {
        let text = "{\n  \"$defs\": {\n    \"k\": {\"a\": \"}{\\\"\", \"b\": {}},\n    \"z\": 1\n  }\n}\n";
        let out = with_block_replaced(text, "k", &json!({"c": 2}));
        assert_eq!(
            out,
            "{\n  \"$defs\": {\n    \"k\": {\n      \"c\": 2\n    },\n    \"z\": 1\n  }\n}\n"
        );
    }

    #[test]
    fn helm_schema_types_values_by_kind() {
        let s = helm_schema();
        let props = &s["properties"];
        assert!(props.get("POSTGRES_HOST").is_none());
        assert_eq!(props["SCHEMAGATE_LOG_FORMAT"]["enum"], json!(["text", "json"]));
        assert!(props["SCHEMAGATE_LOCK_TIMEOUT"]["pattern"].is_string());
        assert_eq!(props["SCHEMAGATE_STRICT_SCHEMA"]["enum"][0], "true");
        assert_eq!(
            props["SCHEMAGATE_LOCK_POLICY"]["enum"],
            json!(["off", "warn", "refuse"])
        );
        assert_eq!(props["SCHEMAGATE_LOCK_POLICY_MAX_ROWS"]["pattern"], "^[0-9]+$");
    }
}
