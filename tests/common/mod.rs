//! Shared helpers for the integration tests: throwaway PostgreSQL clusters
//! started with initdb/pg_ctl (loopback, a free port, fsync=off), a fresh
//! database per test, and a runner for the real `schemagate` binary.
//!
//! There is no mock and no skip: if no server can be started, the test fails
//! and says why.
#![allow(dead_code)]

pub mod faults;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

pub const PASSWORD: &str = "s3cret-Test-Pw";
pub const BIN: &str = env!("CARGO_BIN_EXE_schemagate");

/// Directory with initdb, pg_ctl and postgres: PATH first, then the highest
/// `/usr/lib/postgresql/*/bin`.
pub fn pg_bin() -> PathBuf {
    static BIN_DIR: OnceLock<PathBuf> = OnceLock::new();
    BIN_DIR
        .get_or_init(|| {
            let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect())
                .unwrap_or_default();
            candidates.sort_by_key(|p| {
                p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
            });
            if let Some(best) = candidates.into_iter().rev().find(|p| p.join("initdb").exists()) {
                return best;
            }
            let path = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&path)
                .find(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
                .expect("no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or PATH: install the postgresql package")
        })
        .clone()
}

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// PostgreSQL refuses to run as root; run its tools as `postgres` (or `nobody`).
fn pg_user() -> Option<(String, u32, u32)> {
    if !is_root() {
        return None;
    }
    for name in ["postgres", "nobody"] {
        let out = Command::new("id").args(["-u", name]).output().ok()?;
        let gid = Command::new("id").args(["-g", name]).output().ok()?;
        if out.status.success() {
            let uid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
            let gid = String::from_utf8_lossy(&gid.stdout).trim().parse().ok()?;
            return Some((name.to_string(), uid, gid));
        }
    }
    panic!("running as root, but there is no 'postgres' or 'nobody' user to run PostgreSQL as");
}

fn pg_command(tool: &str) -> Command {
    let exe = pg_bin().join(tool);
    match pg_user() {
        Some((user, _, _)) => {
            let mut c = Command::new("runuser");
            c.args(["-u", &user, "--"]).arg(exe);
            c
        }
        None => Command::new(exe),
    }
}

fn chown_for_pg(path: &Path) {
    if let Some((_, uid, gid)) = pg_user() {
        let status = Command::new("chown")
            .arg("-R")
            .arg(format!("{uid}:{gid}"))
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success(), "chown {}", path.display());
    }
}

fn check(output: Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An initdb'd data directory made once per machine and copied for each
/// cluster: initdb costs about a second, a copy a few milliseconds. Built in a
/// private directory and renamed into place, so parallel test processes never
/// see half of one.
fn template() -> PathBuf {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let version = pg_bin()
                .parent()
                .and_then(|p| p.file_name())
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let fixed = std::env::temp_dir().join(format!("schemagate-pg-template-{version}-v1"));
            if fixed.join("data/PG_VERSION").exists() {
                return fixed.join("data");
            }
            let root = std::env::temp_dir().join(format!("schemagate-pg-template-{version}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(&root).unwrap();
            let pwfile = root.join("pw");
            std::fs::write(&pwfile, PASSWORD).unwrap();
            chown_for_pg(&root);
            let out = pg_command("initdb")
                .arg("-D")
                .arg(root.join("data"))
                .args([
                    "-U",
                    "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ])
                .arg(format!("--pwfile={}", pwfile.display()))
                .output()
                .expect("initdb could not be started");
            check(out, "initdb");
            if std::fs::rename(&root, &fixed).is_err() {
                let _ = std::fs::remove_dir_all(&root);
            }
            fixed.join("data")
        })
        .clone()
}

/// Whether the cluster serves TLS, and whether it refuses anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tls {
    #[default]
    Off,
    /// TLS only: pg_hba rejects plaintext TCP sessions.
    Only,
}

/// A throwaway cluster. Stopped (immediately) and deleted on drop.
pub struct Cluster {
    pub root: PathBuf,
    pub port: u16,
    pub tls: Option<TlsFiles>,
    counter: AtomicUsize,
}

pub struct TlsFiles {
    pub ca: PathBuf,
    pub other_ca: PathBuf,
}

impl Cluster {
    pub fn start() -> Cluster {
        let c = Cluster::create(Tls::Off);
        c.start_server();
        c
    }

    /// Data directory ready, server not started.
    pub fn create(tls_mode: Tls) -> Cluster {
        let root = tempfile::Builder::new()
            .prefix("schemagate-test-")
            .tempdir()
            .unwrap()
            .keep();
        let data = root.join("data");
        let status = Command::new("cp")
            .arg("-a")
            .arg(template())
            .arg(&data)
            .status()
            .unwrap();
        assert!(status.success(), "copying the template data directory");
        let port = free_port();
        let mut conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\n\
             synchronous_commit = off\nfull_page_writes = off\nmax_connections = 60\nshared_buffers = 16MB\n",
            root.display()
        );
        let tls = (tls_mode == Tls::Only).then(|| {
            let files = make_certs(&root);
            conf.push_str("ssl = on\nssl_cert_file = '../server.crt'\nssl_key_file = '../server.key'\n");
            files
        });
        append(&data.join("postgresql.conf"), &conf);
        if tls_mode == Tls::Only {
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject\n",
            )
            .unwrap();
        }
        chown_for_pg(&root);
        Cluster {
            root,
            port,
            tls,
            counter: AtomicUsize::new(0),
        }
    }

    /// A cluster whose data directory is already at `root/data`.
    pub fn adopt(root: PathBuf, port: u16) -> Cluster {
        Cluster {
            root,
            port,
            tls: None,
            counter: AtomicUsize::new(0),
        }
    }

    /// Appends `conf` to postgresql.conf: before `start_server`, for
    /// settings that need a restart (`archive_mode`).
    pub fn configure(&self, conf: &str) {
        append(&self.root.join("data/postgresql.conf"), conf);
    }

    /// A directory in the cluster's root owned by the server's user (a WAL
    /// archive the server writes to).
    pub fn server_dir(&self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        chown_for_pg(&dir);
        dir
    }

    pub fn start_server(&self) {
        let out = pg_command("pg_ctl")
            .arg("-D")
            .arg(self.root.join("data"))
            .arg("-l")
            .arg(self.root.join("server.log"))
            .args(["-w", "-t", "60", "start"])
            .stdin(Stdio::null())
            .output()
            .expect("pg_ctl could not be started");
        let log = std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default();
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{log}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn stop_server(&self) {
        let _ = pg_command("pg_ctl")
            .arg("-D")
            .arg(self.root.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .output();
    }

    /// A URL for `db` over TCP with the test password.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres:{PASSWORD}@127.0.0.1:{}/{db}", self.port)
    }

    /// A fresh, empty database for one test.
    pub fn fresh_db(&self) -> TestDb<'_> {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let name = format!("t{}_{n}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        TestDb { cluster: self, name }
    }

    /// Runs SQL through psql on the local socket; returns unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self.try_psql(db, sql);
        check(out, &format!("psql {sql}"))
    }

    pub fn try_psql(&self, db: &str, sql: &str) -> Output {
        Command::new(pg_bin().join("psql"))
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.root)
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", db, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("psql could not be started")
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_server();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One cluster shared by the tests of a test binary; each test takes its own
/// database. Stopped when the test process exits.
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(|| {
        let c = Cluster::start();
        extern "C" fn stop_shared() {
            if let Some(c) = SHARED.get() {
                c.stop_server();
                let _ = std::fs::remove_dir_all(&c.root);
            }
        }
        unsafe { libc::atexit(stop_shared) };
        c
    })
}

pub struct TestDb<'a> {
    pub cluster: &'a Cluster,
    pub name: String,
}

impl TestDb<'_> {
    pub fn url(&self) -> String {
        self.cluster.url(&self.name)
    }
    pub fn psql(&self, sql: &str) -> String {
        self.cluster.psql(&self.name, sql)
    }
    /// The history rows as `version|name|success` lines, by version.
    pub fn history(&self) -> Vec<String> {
        self.history_of("schemagate_history")
    }
    pub fn history_of(&self, table: &str) -> Vec<String> {
        self.psql(&format!(
            "SELECT migration_version || '|' || name || '|' || success FROM {table} \
             ORDER BY string_to_array(migration_version, '.')::numeric[] NULLS LAST"
        ))
        .lines()
        .map(str::to_string)
        .collect()
    }
    pub fn table_exists(&self, name: &str) -> bool {
        self.psql(&format!("SELECT to_regclass('{name}') IS NOT NULL")) == "t\n"
    }
    /// `schemagate` pointed at this database and `dir`.
    pub fn sg(&self, dir: &Path) -> Sg {
        Sg::new()
            .env("DATABASE_URL", &self.url())
            .env("SCHEMAGATE_MIGRATIONS_DIR", dir.to_str().unwrap())
    }
}

/// `status --format json`'s migrations as `version:state`.
pub fn status_states(sg: Sg) -> Vec<String> {
    let r = sg.args(&["status", "--format", "json"]).run();
    r.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("stdout is only the JSON document");
    doc["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| format!("{}:{}", m["version"].as_str().unwrap(), m["state"].as_str().unwrap()))
        .collect()
}

/// A migration directory with the given files.
pub fn migrations(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("schemagate-migrations-")
        .tempdir()
        .unwrap();
    for (name, sql) in files {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    dir
}

/// The example set shipped in `migrations/`.
pub fn example_migrations() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")
}

/// The real binary, with a clean environment.
pub struct Sg {
    cmd: Command,
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts that stderr (the logs) contains `needle`, showing both streams
    /// when it does not.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
    /// Asserts that stdout (command output) contains `needle`.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
    /// Asserts that neither stream contains `needle` (a secret, say).
    #[track_caller]
    pub fn never_says(&self, needle: &str) -> &Self {
        assert!(
            !self.stdout.contains(needle) && !self.stderr.contains(needle),
            "the output contains {needle:?}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Sg {
    pub fn new() -> Sg {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SCHEMAGATE_WAIT_TIMEOUT", "20s")
            .env("SCHEMAGATE_LOCK_TIMEOUT", "60s")
            .env("HOSTNAME", "test-runner")
            // Never the runner's own /dev/termination-log (a Kubernetes CI pod).
            .env("SCHEMAGATE_TERMINATION_LOG", "")
            .stdin(Stdio::null());
        Sg { cmd }
    }
    pub fn env(mut self, k: &str, v: &str) -> Sg {
        self.cmd.env(k, v);
        self
    }
    pub fn env_remove(mut self, k: &str) -> Sg {
        self.cmd.env_remove(k);
        self
    }
    pub fn args(mut self, args: &[&str]) -> Sg {
        self.cmd.args(args);
        self
    }
    pub fn run(mut self) -> Run {
        let out = self.cmd.output().expect("schemagate binary");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
    pub fn spawn(mut self) -> std::process::Child {
        self.cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("schemagate binary")
    }
}

pub fn wait_output(child: std::process::Child) -> Run {
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Polls `f` until it is true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// A CA, a server certificate for localhost/127.0.0.1 signed by it, and an
/// unrelated CA, made with the openssl CLI.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl CLI (apt install openssl)");
    check(out, &format!("openssl {}", args.join(" ")));
}

fn make_certs(root: &Path) -> TlsFiles {
    for ca in ["ca", "other-ca"] {
        let subject = format!("/CN=schemagate test {ca}");
        let (key, crt) = (format!("{ca}.key"), format!("{ca}.crt"));
        let ca_ext = [
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ];
        let mut args = vec![
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", &subject,
        ];
        args.extend(["-keyout", &key, "-out", &crt]);
        args.extend(ca_ext);
        openssl(root, &args);
    }
    issue_server_cert(root, "server", "DNS:localhost,IP:127.0.0.1");
    TlsFiles {
        ca: root.join("ca.crt"),
        other_ca: root.join("other-ca.crt"),
    }
}

/// `<name>.key` and `<name>.crt` in `root`, signed by `ca.crt`, valid for `san`
/// (e.g. `DNS:localhost,IP:127.0.0.1`).
pub fn issue_server_cert(root: &Path, name: &str, san: &str) {
    let (key, csr, ext, crt) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.ext"),
        format!("{name}.crt"),
    );
    openssl(
        root,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    std::fs::write(
        root.join(&ext),
        format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    let sign = [
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
    ];
    let mut args = sign.to_vec();
    args.extend(["-out", &crt, "-extfile", &ext]);
    openssl(root, &args);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join(&key), std::fs::Permissions::from_mode(0o600)).unwrap();
}
