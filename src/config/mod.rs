//! Configuration, in two stages (as hyperfine's `Options::from_cli_arguments`):
//! `main` snapshots the environment into [`RawEnv`] and clap parses the flags;
//! [`Config::from_sources`] validates both into a [`Config`]. Nothing else in
//! the crate reads the environment.

pub mod conninfo;
pub mod duration;
pub mod schema;
pub mod settings;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::locks::{Policy, PolicyMode};
use crate::reconcile::{FutureVersions, OutOfOrder, Rules};
use crate::restore::RestorePointMode;
use conninfo::{ConnSpec, Secret, SslMode};
use duration::parse_duration;

/// The values of the settings' flags, by variable name. Values stay strings
/// here; they are validated with the variables in
/// [`crate::config::Config::from_sources`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags(pub BTreeMap<&'static str, String>);

impl Flags {
    pub fn get(&self, var: &str) -> Option<&str> {
        self.0.get(var).map(String::as_str)
    }
}

impl<const N: usize> From<[(&'static str, &str); N]> for Flags {
    fn from(pairs: [(&'static str, &str); N]) -> Self {
        Flags(pairs.into_iter().map(|(k, v)| (k, v.to_string())).collect())
    }
}

/// The process environment, captured once at the edge: the variables, and
/// what `main` found on the machine (so that [`Config::from_sources`] is a
/// function of its inputs).
#[derive(Debug, Clone, Default)]
pub struct RawEnv {
    pub vars: BTreeMap<String, String>,
    pub probes: Probes,
}

/// Facts about the machine, read by `main` next to the variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probes {
    /// `/proc/sys/kernel/hostname`, for `applied_by` when `HOSTNAME` is unset.
    pub kernel_hostname: Option<String>,
    /// Whether `/dev/termination-log` exists and is writable (inside a pod).
    pub termination_log_writable: bool,
}

impl Probes {
    /// Reads the probes. Called once, by `main`.
    pub fn read() -> Probes {
        Probes {
            kernel_hostname: std::fs::read_to_string("/proc/sys/kernel/hostname").ok(),
            termination_log_writable: std::fs::OpenOptions::new()
                .append(true)
                .open(DEFAULT_TERMINATION_LOG)
                .is_ok(),
        }
    }
}

const DEFAULT_TERMINATION_LOG: &str = "/dev/termination-log";

impl RawEnv {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for RawEnv {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        RawEnv {
            vars: iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            probes: Probes::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateDatabase {
    No,
    IfMissing,
}

/// Which variables the connection settings came from (logged at start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbSource {
    DatabaseUrl,
    DatabaseUrlFile,
    Flag,
    PostgresVars,
}

/// `schema.table`, unquoted; quoting happens when SQL is built. Always
/// qualified (`public` when no schema is given), so that a migration that
/// changes `search_path` (every pg_dump file starts with
/// `set_config('search_path', '', false)`), or a schema named after the role
/// (`"$user"` comes first in the default search_path), cannot make the same
/// name mean another table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    pub schema: String,
    pub table: String,
}

impl TableName {
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('.').collect();
        let (schema, table) = match parts.as_slice() {
            [t] => ("public", *t),
            [s, t] => (*s, *t),
            _ => return Err(format!("'{text}' must be TABLE or SCHEMA.TABLE")),
        };
        for part in [schema, table] {
            if part.is_empty() || part.len() > 63 || part.contains('\0') {
                return Err(format!("'{text}': each name must be 1 to 63 bytes"));
            }
        }
        Ok(TableName {
            schema: schema.to_string(),
            table: table.to_string(),
        })
    }

    /// The name as it appears in SQL: `"schema"."table"`.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }

    /// The key of the advisory lock: one lock per history table per database.
    pub fn lock_key(&self) -> i64 {
        use sha2::{Digest, Sha256};
        let name = format!("schemagate:{}.{}", self.schema, self.table);
        let digest = Sha256::digest(name.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(first)
    }
}

/// Quotes an identifier the way `quote_ident` does, always, so that no
/// configured name can break out of the SQL it is placed in.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[derive(Debug, Clone)]
pub struct Config {
    pub db: ConnSpec,
    pub db_source: DbSource,
    pub migrations_dir: PathBuf,
    pub wait_timeout: Duration,
    pub connect_timeout: Duration,
    pub lock_timeout: Duration,
    /// How long one attempt of a migration's DDL may wait for a table lock.
    pub ddl_lock_timeout: Duration,
    pub history_table: TableName,
    pub create_database: CreateDatabase,
    pub out_of_order: OutOfOrder,
    /// Versions applied by a newer release: a warning, or a problem.
    pub future: FutureVersions,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub termination_log: Option<PathBuf>,
    /// Host or pod name, recorded in `applied_by`.
    pub applied_by: String,
    /// What `run`, `verify` and `snapshot` compare the live schema with.
    pub schema: schema::SchemaSettings,
    /// Where `plan --locks` and the lock policy measure pending migrations.
    pub shadow: Option<ShadowSpec>,
    pub lock_policy: Policy,
    /// Whether `run` takes a restore point before applying, and whether it
    /// must.
    pub restore_point: RestorePointMode,
}

/// `SCHEMAGATE_SHADOW_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShadowSpec {
    /// A `schemagate_shadow_*` database created on the target's server for
    /// one run, and dropped at its end.
    Auto,
    /// A scratch database someone else provides (a CI service container).
    Url(Box<ConnSpec>),
}

/// One value, looked up flag first, then variable. `source` is what an
/// error names (`--lock-timeout`, `SCHEMAGATE_LOCK_TIMEOUT`).
struct Given {
    value: String,
    source: String,
}

struct Sources<'a> {
    env: &'a RawEnv,
    flags: &'a Flags,
}

impl Sources<'_> {
    /// The flag's value, else the variable's. Every variable read here is in
    /// the settings table (a unit test reads every one).
    fn get(&self, var: &'static str) -> Option<Given> {
        let setting = settings::by_var(var);
        debug_assert!(setting.is_some(), "{var} is not in the settings table");
        if let (Some(v), Some(flag)) = (self.flags.get(var), setting.and_then(|s| s.flag_text())) {
            return Some(Given {
                value: v.to_string(),
                source: flag,
            });
        }
        self.env.get(var).map(|v| Given {
            value: v.to_string(),
            source: var.into(),
        })
    }

    /// The given value, else the table's default.
    fn get_or_default(&self, var: &'static str) -> Option<Given> {
        self.get(var)
            .or_else(|| match settings::by_var(var).map(|s| s.default) {
                Some(settings::Default::Value(v)) => Some(Given {
                    value: v.into(),
                    source: var.into(),
                }),
                _ => None,
            })
    }

    fn duration(&self, var: &'static str) -> Result<Option<Duration>, Error> {
        self.get_or_default(var)
            .map(|s| parse_duration(&s.value).map_err(|e| Error::config(s.source, e)))
            .transpose()
    }

    fn boolean(&self, var: &'static str) -> Result<bool, Error> {
        let Some(s) = self.get_or_default(var) else {
            return Ok(false);
        };
        match s.value.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" | "" => Ok(false),
            other => Err(Error::config(
                s.source,
                format!("'{other}' is not a boolean (use true or false)"),
            )),
        }
    }

    /// `X` or `X_FILE` (the Docker/Kubernetes secrets convention), never both.
    fn value_or_file(&self, var: &str) -> Result<Option<(String, DbSourceKind)>, Error> {
        let file_var = format!("{var}_FILE");
        match (self.env.get(var), self.env.get(&file_var)) {
            (Some(_), Some(_)) => Err(Error::config(
                &file_var,
                format!("set either {var} or {file_var}, not both"),
            )),
            (Some(v), None) => Ok(Some((v.to_string(), DbSourceKind::Plain))),
            (None, Some(path)) => read_secret_file(&file_var, path).map(|v| Some((v, DbSourceKind::File))),
            (None, None) => Ok(None),
        }
    }
}

#[derive(PartialEq)]
enum DbSourceKind {
    Plain,
    File,
}

fn read_secret_file(var: &str, path: &str) -> Result<String, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::config(var, format!("cannot read {path}: {e}")))?;
    let trimmed = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    Ok(trimmed.to_string())
}

impl Config {
    pub fn from_sources(env: &RawEnv, flags: &Flags) -> Result<Config, Error> {
        reject_unknown(env)?;
        let src = Sources { env, flags };
        let (db, db_source) = connection(&src)?;
        let migrations_dir = PathBuf::from(
            src.get_or_default("SCHEMAGATE_MIGRATIONS_DIR")
                .map_or_else(String::new, |s| s.value),
        );
        let history_table = src
            .get_or_default("SCHEMAGATE_HISTORY_TABLE")
            .map(|s| TableName::parse(&s.value).map_err(|e| Error::config(s.source, e)))
            .transpose()?
            .expect("the history table has a default");
        let schema = schema::settings(&src, &migrations_dir)?;
        Ok(Config {
            shadow: shadow(&src, &db)?,
            lock_policy: lock_policy(&src)?,
            connect_timeout: connect_timeout(&src, &db)?,
            wait_timeout: src.duration("SCHEMAGATE_WAIT_TIMEOUT")?.unwrap_or_default(),
            lock_timeout: src.duration("SCHEMAGATE_LOCK_TIMEOUT")?.unwrap_or_default(),
            ddl_lock_timeout: src.duration("SCHEMAGATE_DDL_LOCK_TIMEOUT")?.unwrap_or_default(),
            create_database: if src.boolean("SCHEMAGATE_CREATE_DATABASE")? {
                CreateDatabase::IfMissing
            } else {
                CreateDatabase::No
            },
            out_of_order: if src.boolean("SCHEMAGATE_OUT_OF_ORDER")? {
                OutOfOrder::Allow
            } else {
                OutOfOrder::Refuse
            },
            future: future(&src)?,
            restore_point: restore_point(&src)?,
            log_format: log_format(&src)?,
            log_filter: log_filter(&src)?,
            termination_log: termination_log(&src),
            applied_by: applied_by(env),
            db,
            db_source,
            migrations_dir,
            history_table,
            schema,
        })
    }
}

fn reject_unknown(env: &RawEnv) -> Result<(), Error> {
    for key in env
        .vars
        .keys()
        .filter(|k| k.starts_with("SCHEMAGATE_") && !is_service_link(k))
    {
        if settings::by_var(key).is_none() {
            let known: Vec<&str> = settings::SETTINGS
                .iter()
                .map(|s| s.var)
                .filter(|v| v.starts_with("SCHEMAGATE_"))
                .collect();
            let hint = known
                .iter()
                .min_by_key(|k| edit_distance(k, key))
                .filter(|k| edit_distance(k, key) <= 3)
                .map(|k| format!("; did you mean {k}?"))
                .unwrap_or_default();
            return Err(Error::config(
                key.as_str(),
                format!("unknown variable{hint} (known: {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Kubernetes injects `<SERVICE>_SERVICE_HOST`, `<SERVICE>_PORT_5432_TCP` and
/// friends for every Service in the namespace (unless `enableServiceLinks:
/// false`); a Service named `schemagate` must not make every Pod exit 2.
fn is_service_link(key: &str) -> bool {
    key.starts_with("SCHEMAGATE_SERVICE_") || key == "SCHEMAGATE_PORT" || key.starts_with("SCHEMAGATE_PORT_")
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The connection settings, from the flag, `DATABASE_URL(_FILE)` or
/// `POSTGRES_*`; then `SCHEMAGATE_SSLROOTCERT` where none of them named a CA.
fn connection(src: &Sources) -> Result<(ConnSpec, DbSource), Error> {
    let (mut spec, source) = connection_string(src)?;
    if spec.sslrootcert.is_none() {
        if let Some(given) = src.get("SCHEMAGATE_SSLROOTCERT").filter(|g| !g.value.is_empty()) {
            spec.sslrootcert = Some(conninfo::parse_root_cert(&given.value));
        }
    }
    Ok((spec, source))
}

fn connection_string(src: &Sources) -> Result<(ConnSpec, DbSource), Error> {
    if let Some(url) = src.flags.get("DATABASE_URL") {
        let spec = conninfo::parse(url).map_err(|e| Error::config("--database-url", e))?;
        return Ok((spec, DbSource::Flag));
    }
    if let Some((url, kind)) = src.value_or_file("DATABASE_URL")? {
        let (var, source) = match kind {
            DbSourceKind::Plain => ("DATABASE_URL", DbSource::DatabaseUrl),
            DbSourceKind::File => ("DATABASE_URL_FILE", DbSource::DatabaseUrlFile),
        };
        let spec = conninfo::parse(&url).map_err(|e| Error::config(var, e))?;
        return Ok((spec, source));
    }
    Ok((postgres_vars(src)?, DbSource::PostgresVars))
}

/// The official postgres image's variables, so one `.env` serves both.
fn postgres_vars(src: &Sources) -> Result<ConnSpec, Error> {
    let env = src.env;
    let mut spec = ConnSpec::defaults();
    if let Some(h) = env.get("POSTGRES_HOST").filter(|h| !h.is_empty()) {
        spec.hosts = h.split(',').map(str::to_string).collect();
    }
    if let Some(p) = env.get("POSTGRES_PORT") {
        spec.ports = p
            .split(',')
            .map(conninfo::parse_port)
            .collect::<Result<_, _>>()
            .map_err(|e| Error::config("POSTGRES_PORT", e))?;
    }
    if let Some(u) = env.get("POSTGRES_USER").filter(|u| !u.is_empty()) {
        spec.user = u.to_string();
    }
    spec.password = src.value_or_file("POSTGRES_PASSWORD")?.map(|(p, _)| Secret::new(p));
    spec.dbname = env
        .get("POSTGRES_DB")
        .filter(|d| !d.is_empty())
        .unwrap_or(&spec.user)
        .to_string();
    if let Some(m) = env.get("POSTGRES_SSLMODE") {
        spec.sslmode = SslMode::parse(m).map_err(|e| Error::config("POSTGRES_SSLMODE", e))?;
    }
    if let Some(c) = env.get("POSTGRES_SSLROOTCERT").filter(|c| !c.is_empty()) {
        spec.sslrootcert = Some(conninfo::parse_root_cert(c));
    }
    spec.endpoints().map_err(|e| Error::config("POSTGRES_PORT", e))?;
    Ok(spec)
}

/// An explicit SCHEMAGATE_CONNECT_TIMEOUT wins, then the URL's
/// `connect_timeout`, then 5 s. Zero means no bound, as in libpq: one rule
/// for both spellings (the wait and lock timeouts are budgets, where zero
/// means a single attempt).
fn connect_timeout(src: &Sources, db: &ConnSpec) -> Result<Duration, Error> {
    if src.get("SCHEMAGATE_CONNECT_TIMEOUT").is_some() {
        return Ok(src.duration("SCHEMAGATE_CONNECT_TIMEOUT")?.unwrap_or_default());
    }
    Ok(db.connect_timeout.unwrap_or(Duration::from_secs(5)))
}

fn shadow(src: &Sources, target: &ConnSpec) -> Result<Option<ShadowSpec>, Error> {
    let Some(given) = src.get("SCHEMAGATE_SHADOW_URL") else {
        return Ok(None);
    };
    let spec = match given.value.trim() {
        "" => return Ok(None),
        "auto" => return Ok(Some(ShadowSpec::Auto)),
        url => conninfo::parse(url).map_err(|e| Error::config(&given.source, e))?,
    };
    // Pending migrations are applied in the shadow: it must never be the
    // target. (A different spelling of the same server is caught at
    // connection time, by comparing server and database identities.)
    if (spec.endpoints().ok(), &spec.dbname) == (target.endpoints().ok(), &target.dbname) {
        return Err(Error::config(
            given.source,
            "names the target database itself; the shadow must be a scratch database (or auto)",
        ));
    }
    Ok(Some(ShadowSpec::Url(Box::new(spec))))
}

fn lock_policy(src: &Sources) -> Result<Policy, Error> {
    let mode = src
        .get_or_default("SCHEMAGATE_LOCK_POLICY")
        .map(|s| PolicyMode::parse(&s.value).map_err(|e| Error::config(s.source, e)))
        .transpose()?
        .unwrap_or(PolicyMode::Warn);
    let max_rows = src
        .get_or_default("SCHEMAGATE_LOCK_POLICY_MAX_ROWS")
        .map(|s| {
            s.value
                .trim()
                .parse::<u64>()
                .map_err(|_| Error::config(s.source, format!("'{}' is not a whole number of rows", s.value)))
        })
        .transpose()?
        .unwrap_or_default();
    Ok(Policy { mode, max_rows })
}

fn future(src: &Sources) -> Result<FutureVersions, Error> {
    match src.get_or_default("SCHEMAGATE_FUTURE") {
        Some(s) if s.value == "fail" => Ok(FutureVersions::Fail),
        Some(s) if s.value == "warn" => Ok(FutureVersions::Warn),
        Some(s) => Err(Error::config(s.source, format!("'{}' is not warn or fail", s.value))),
        None => Ok(FutureVersions::Warn),
    }
}

fn restore_point(src: &Sources) -> Result<RestorePointMode, Error> {
    src.get_or_default("SCHEMAGATE_RESTORE_POINT")
        .map(|s| RestorePointMode::parse(&s.value).map_err(|e| Error::config(s.source, e)))
        .transpose()
        .map(|mode| mode.unwrap_or(RestorePointMode::Auto))
}

impl Config {
    /// What counts as a problem, as the operator set it.
    pub fn rules(&self) -> Rules {
        Rules {
            out_of_order: self.out_of_order,
            future: self.future,
        }
    }
}

fn log_format(src: &Sources) -> Result<LogFormat, Error> {
    match src.get("SCHEMAGATE_LOG_FORMAT") {
        None => Ok(LogFormat::Text),
        Some(s) => match s.value.as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(Error::config(
                s.source,
                format!("'{other}' is not a log format (use text or json)"),
            )),
        },
    }
}

fn log_filter(src: &Sources) -> Result<String, Error> {
    let given = src.get("SCHEMAGATE_LOG").or_else(|| {
        src.env.get("RUST_LOG").map(|v| Given {
            value: v.to_string(),
            source: "RUST_LOG".into(),
        })
    });
    match given {
        None => Ok("info".into()),
        Some(s) => tracing_subscriber::EnvFilter::try_new(&s.value)
            .map(|_| s.value.clone())
            .map_err(|e| Error::config(s.source, format!("invalid log filter: {e}"))),
    }
}

/// Kubernetes reads `/dev/termination-log` into `kubectl describe pod`. Use it
/// by default only where it exists and is writable, i.e. inside a pod.
fn termination_log(src: &Sources) -> Option<PathBuf> {
    match src.get("SCHEMAGATE_TERMINATION_LOG") {
        Some(s) if s.value.is_empty() => None,
        Some(s) => Some(PathBuf::from(s.value)),
        None => src
            .env
            .probes
            .termination_log_writable
            .then(|| PathBuf::from(DEFAULT_TERMINATION_LOG)),
    }
}

fn applied_by(env: &RawEnv) -> String {
    env.get("HOSTNAME")
        .map(str::to_string)
        .or_else(|| env.probes.kernel_hostname.clone())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, Error> {
        let env: RawEnv = vars.iter().map(|(k, v)| (*k, *v)).collect();
        Config::from_sources(&env, &Flags::default())
    }

    fn config_error(vars: &[(&str, &str)]) -> String {
        config(vars).unwrap_err().to_string()
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.db.target(), "postgres@localhost:5432/postgres");
        assert_eq!(c.db_source, DbSource::PostgresVars);
        assert_eq!(c.wait_timeout, Duration::from_secs(60));
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.lock_timeout, Duration::from_secs(300));
        assert_eq!(c.history_table.quoted(), "\"public\".\"schemagate_history\"");
        assert_eq!(c.migrations_dir, PathBuf::from("./migrations"));
        assert_eq!(c.create_database, CreateDatabase::No);
        assert_eq!(c.out_of_order, OutOfOrder::Refuse);
    }

    #[test]
    fn database_url_wins_over_postgres_vars_and_flags_win_over_env() {
        let c = config(&[("DATABASE_URL", "postgres://a@h1/d1"), ("POSTGRES_HOST", "h2")]).unwrap();
        assert_eq!((c.db.hosts[0].as_str(), c.db_source), ("h1", DbSource::DatabaseUrl));
        let env: RawEnv = [("SCHEMAGATE_WAIT_TIMEOUT", "10s")].into_iter().collect();
        let flags = Flags::from([("SCHEMAGATE_WAIT_TIMEOUT", "2s")]);
        assert_eq!(
            Config::from_sources(&env, &flags).unwrap().wait_timeout,
            Duration::from_secs(2)
        );
    }

    #[test]
    fn postgres_vars_build_the_target() {
        let c = config(&[
            ("POSTGRES_HOST", "db"),
            ("POSTGRES_PORT", "6000"),
            ("POSTGRES_USER", "app"),
            ("POSTGRES_PASSWORD", "pw"),
        ])
        .unwrap();
        assert_eq!(c.db.target(), "app@db:6000/app");
        assert_eq!(c.db.password.as_ref().map(Secret::expose), Some("pw"));
    }

    #[test]
    fn errors_name_the_variable() {
        assert!(config_error(&[("SCHEMAGATE_WAIT_TIMEOUT", "soon")]).contains("SCHEMAGATE_WAIT_TIMEOUT"));
        assert!(config_error(&[("POSTGRES_PORT", "x")]).contains("POSTGRES_PORT"));
        assert!(config_error(&[("DATABASE_URL", "nope")]).contains("DATABASE_URL"));
        assert!(config_error(&[("SCHEMAGATE_CREATE_DATABASE", "maybe")]).contains("SCHEMAGATE_CREATE_DATABASE"));
        let unknown = config_error(&[("SCHEMAGATE_WAIT_TIMOUT", "1s")]);
        assert!(
            unknown.contains("SCHEMAGATE_WAIT_TIMOUT") && unknown.contains("did you mean SCHEMAGATE_WAIT_TIMEOUT"),
            "{unknown}"
        );
        let missing = config_error(&[("POSTGRES_PASSWORD_FILE", "/nonexistent/pw")]);
        assert!(
            missing.contains("POSTGRES_PASSWORD_FILE") && missing.contains("/nonexistent/pw"),
            "{missing}"
        );
        assert!(config_error(&[("SCHEMAGATE_HISTORY_TABLE", "a.b.c")]).contains("SCHEMAGATE_HISTORY_TABLE"));
    }

    #[test]
    fn restore_points_are_auto_by_default_and_take_three_words() {
        assert_eq!(config(&[]).unwrap().restore_point, RestorePointMode::Auto);
        let c = config(&[("SCHEMAGATE_RESTORE_POINT", "require")]).unwrap();
        assert_eq!(c.restore_point, RestorePointMode::Require);
        let c = config(&[("SCHEMAGATE_RESTORE_POINT", "off")]).unwrap();
        assert_eq!(c.restore_point, RestorePointMode::Off);
        let bad = config_error(&[("SCHEMAGATE_RESTORE_POINT", "yes")]);
        assert!(
            bad.contains("SCHEMAGATE_RESTORE_POINT: 'yes' is not auto, require or off"),
            "{bad}"
        );
    }

    #[test]
    fn the_lock_policy_warns_by_default_and_the_shadow_is_never_the_target() {
        let c = config(&[]).unwrap();
        assert_eq!(
            (c.lock_policy.mode, c.lock_policy.max_rows),
            (PolicyMode::Warn, 100_000)
        );
        assert_eq!(c.shadow, None);
        let c = config(&[
            ("SCHEMAGATE_SHADOW_URL", "auto"),
            ("SCHEMAGATE_LOCK_POLICY", "refuse"),
            ("SCHEMAGATE_LOCK_POLICY_MAX_ROWS", "500"),
        ])
        .unwrap();
        assert_eq!(c.shadow, Some(ShadowSpec::Auto));
        assert_eq!((c.lock_policy.mode, c.lock_policy.max_rows), (PolicyMode::Refuse, 500));
        let url = config(&[
            ("DATABASE_URL", "postgres://u@db/app"),
            ("SCHEMAGATE_SHADOW_URL", "postgres://u@ci/scratch"),
        ]);
        assert!(matches!(url.unwrap().shadow, Some(ShadowSpec::Url(s)) if s.dbname == "scratch"));
        let same = config_error(&[
            ("DATABASE_URL", "postgres://u@db/app"),
            ("SCHEMAGATE_SHADOW_URL", "postgres://v@db/app"),
        ]);
        assert!(
            same.contains("SCHEMAGATE_SHADOW_URL: names the target database itself"),
            "{same}"
        );
        assert!(config_error(&[("SCHEMAGATE_LOCK_POLICY", "block")]).contains("not a lock policy"));
        assert!(config_error(&[("SCHEMAGATE_LOCK_POLICY_MAX_ROWS", "1e6")]).contains("whole number"));
    }

    #[test]
    fn kubernetes_service_links_are_not_unknown_variables() {
        let vars = [
            ("SCHEMAGATE_SERVICE_HOST", "10.0.0.1"),
            ("SCHEMAGATE_SERVICE_PORT", "80"),
            ("SCHEMAGATE_PORT", "tcp://10.0.0.1:80"),
            ("SCHEMAGATE_PORT_80_TCP_ADDR", "10.0.0.1"),
        ];
        assert!(config(&vars).is_ok());
    }

    #[test]
    fn hostile_table_names_are_quoted() {
        let t = TableName::parse("x\"; DROP TABLE users; --.h").unwrap();
        assert_eq!(t.quoted(), "\"x\"\"; DROP TABLE users; --\".\"h\"");
        assert_eq!(TableName::parse("h").unwrap().quoted(), "\"public\".\"h\"");
    }

    #[test]
    fn lock_key_depends_on_the_qualified_name() {
        let a = TableName::parse("schemagate_history").unwrap();
        let b = TableName::parse("public.schemagate_history").unwrap();
        let c = TableName::parse("other.schemagate_history").unwrap();
        assert_eq!(a.lock_key(), b.lock_key());
        assert_ne!(a.lock_key(), c.lock_key());
    }

    #[test]
    fn url_connect_timeout_applies_unless_overridden() {
        assert_eq!(
            config(&[("DATABASE_URL", "postgres://h/d?connect_timeout=9")])
                .unwrap()
                .connect_timeout,
            Duration::from_secs(9)
        );
        let c = config(&[
            ("DATABASE_URL", "postgres://h/d?connect_timeout=9"),
            ("SCHEMAGATE_CONNECT_TIMEOUT", "1s"),
        ])
        .unwrap();
        assert_eq!(c.connect_timeout, Duration::from_secs(1));
        // libpq: connect_timeout=0 means no bound, and so does the variable.
        let unbounded = config(&[("DATABASE_URL", "postgres://h/d?connect_timeout=0")]).unwrap();
        assert_eq!(unbounded.connect_timeout, Duration::ZERO);
        let unbounded = config(&[("SCHEMAGATE_CONNECT_TIMEOUT", "0")]).unwrap();
        assert_eq!(unbounded.connect_timeout, Duration::ZERO);
    }

    /// A CA mounted by a platform applies in every connection mode (the
    /// chart cannot write it into a URL it does not see), unless the
    /// connection string names one itself.
    #[test]
    fn a_ca_from_its_own_variable_applies_where_the_string_names_none() {
        let ca = Some(conninfo::RootCert::File("/ca/ca.crt".into()));
        let url = config(&[
            ("DATABASE_URL", "postgres://h/d?sslmode=verify-full"),
            ("SCHEMAGATE_SSLROOTCERT", "/ca/ca.crt"),
        ]);
        assert_eq!(url.unwrap().db.sslrootcert, ca);
        let vars = config(&[("POSTGRES_HOST", "h"), ("SCHEMAGATE_SSLROOTCERT", "/ca/ca.crt")]);
        assert_eq!(vars.unwrap().db.sslrootcert, ca);
        let own = config(&[
            ("DATABASE_URL", "postgres://h/d?sslrootcert=/own.pem"),
            ("SCHEMAGATE_SSLROOTCERT", "/ca/ca.crt"),
        ]);
        assert_eq!(
            own.unwrap().db.sslrootcert,
            Some(conninfo::RootCert::File("/own.pem".into()))
        );
    }

    #[test]
    fn probes_stand_in_for_the_machine() {
        let mut env: RawEnv = RawEnv::default();
        assert_eq!(
            Config::from_sources(&env, &Flags::default()).unwrap().termination_log,
            None
        );
        env.probes = Probes {
            kernel_hostname: Some("node-7\n".into()),
            termination_log_writable: true,
        };
        let c = Config::from_sources(&env, &Flags::default()).unwrap();
        assert_eq!(c.termination_log, Some(PathBuf::from(DEFAULT_TERMINATION_LOG)));
        assert_eq!(c.applied_by, "node-7");
    }
}
