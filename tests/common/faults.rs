//! Real components that produce faults: a cluster restarted, crashed or
//! frozen (SIGSTOP), a streaming standby made with `pg_basebackup -R` and
//! promoted, a base backup restored to a point in time, and PgBouncer
//! (Debian's `pgbouncer`) in front of a cluster.
//! Every helper fails loudly when the tool is missing; nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{chown_for_pg, free_port, pg_bin, pg_command, Cluster, PASSWORD};

/// How a server is brought down and up again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// `pg_ctl restart -m fast`: sessions are terminated (57P01).
    Fast,
    /// `pg_ctl stop -m immediate`, then start: a crash, with recovery.
    Crash,
}

impl Cluster {
    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn ctl(&self, args: &[&str]) {
        let out = pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.root.join("server.log"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("pg_ctl could not be started");
        assert!(
            out.status.success(),
            "pg_ctl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.server_log()
        );
    }

    pub fn restart(&self, how: Restart) {
        match how {
            Restart::Fast => self.ctl(&["-m", "fast", "-w", "-t", "60", "restart"]),
            Restart::Crash => {
                self.ctl(&["-m", "immediate", "-w", "stop"]);
                self.ctl(&["-w", "-t", "60", "start"]);
            }
        }
    }

    /// Stops the server (fast) and leaves it stopped.
    pub fn stop(&self) {
        self.ctl(&["-m", "fast", "-w", "stop"]);
    }

    pub fn promote(&self) {
        self.ctl(&["-w", "promote"]);
    }

    /// The postmaster and every process it started.
    fn processes(&self) -> Vec<String> {
        let pidfile = std::fs::read_to_string(self.data().join("postmaster.pid")).expect("postmaster.pid");
        let postmaster = pidfile.lines().next().unwrap().trim().to_string();
        let children = Command::new("pgrep").args(["-P", &postmaster]).output().expect("pgrep");
        let mut pids: Vec<String> = String::from_utf8_lossy(&children.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        pids.push(postmaster);
        pids
    }

    /// A frozen server: every process stopped with SIGSTOP (a storage stall,
    /// a partition). Connections are accepted by the kernel and never answered.
    pub fn freeze(&self) {
        signal_all(&self.processes(), "-STOP");
    }

    pub fn thaw(&self) {
        signal_all(&self.processes(), "-CONT");
    }

    /// A plain-format base backup of this cluster in `root/<name>`, with the
    /// WAL it needs streamed into it; returns its directory.
    pub fn base_backup(&self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        self.pg_basebackup(&dir, &["--checkpoint=fast"]);
        dir
    }

    /// `pg_basebackup` of this cluster into `dir`, WAL streamed, plus `extra`.
    fn pg_basebackup(&self, dir: &Path, extra: &[&str]) {
        let out = pg_command("pg_basebackup")
            .arg("-D")
            .arg(dir)
            .arg("-h")
            .arg(&self.root)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-X",
                "stream",
                "--no-sync",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .expect("pg_basebackup could not be started");
        assert!(
            out.status.success(),
            "pg_basebackup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new cluster made from a copy of the base backup `backup`, with
    /// `recovery` (restore_command, a recovery target) added to its
    /// postgresql.auto.conf and `recovery.signal` present: started, so it
    /// replays archived WAL up to the target. It listens on a port of its
    /// own and archives nothing.
    pub fn restored(backup: &Path, recovery: &str) -> Cluster {
        let root = tempfile::Builder::new()
            .prefix("schemagate-restored-")
            .tempdir()
            .unwrap()
            .keep();
        let status = Command::new("cp")
            .arg("-a")
            .arg(backup)
            .arg(root.join("data"))
            .status()
            .unwrap();
        assert!(status.success(), "copying the base backup");
        let port = free_port();
        super::append(
            &root.join("data/postgresql.auto.conf"),
            &format!(
                "\nport = {port}\nunix_socket_directories = '{}'\narchive_mode = off\n{recovery}\n",
                root.display()
            ),
        );
        std::fs::write(root.join("data/recovery.signal"), "").unwrap();
        chown_for_pg(&root);
        let restored = Cluster::adopt(root, port);
        restored.ctl(&["-w", "-t", "120", "start"]);
        restored
    }

    /// A streaming standby of this cluster (`pg_basebackup -R`), started.
    pub fn standby(&self) -> Cluster {
        let root = tempfile::Builder::new()
            .prefix("schemagate-standby-")
            .tempdir()
            .unwrap()
            .keep();
        chown_for_pg(&root);
        self.pg_basebackup(&root.join("data"), &["-R"]);
        let port = free_port();
        super::append(
            &root.join("data/postgresql.conf"),
            &format!("\nport = {port}\nunix_socket_directories = '{}'\n", root.display()),
        );
        chown_for_pg(&root);
        let standby = Cluster::adopt(root, port);
        standby.ctl(&["-w", "-t", "60", "start"]);
        standby
    }
}

fn signal_all(pids: &[String], signal: &str) {
    let status = Command::new("kill").arg(signal).args(pids).status().expect("kill");
    assert!(status.success(), "kill {signal} {pids:?}");
}

/// How PgBouncer hands out server connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    Session,
    Transaction,
}

/// PgBouncer on 127.0.0.1 in front of `cluster`, run as the PostgreSQL
/// user; stopped on drop.
pub struct PgBouncer {
    pub port: u16,
    dir: PathBuf,
}

impl PgBouncer {
    /// Every database of `cluster`, as itself; `extra` adds `[databases]` lines.
    pub fn start(cluster: &Cluster, mode: PoolMode, extra: &str) -> PgBouncer {
        let exe = which("pgbouncer")
            .expect("no pgbouncer on PATH (Debian's pgbouncer package; scripts/ensure-deps installs it)");
        let dir = tempfile::Builder::new()
            .prefix("schemagate-pgbouncer-")
            .tempdir()
            .unwrap()
            .keep();
        let port = free_port();
        let mode = match mode {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
        };
        std::fs::write(dir.join("users.txt"), format!("\"postgres\" \"{PASSWORD}\"\n")).unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n{extra}\n* = host={socket} port={server}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
                 listen_port = {port}\nunix_socket_dir =\nauth_type = plain\nauth_file = {dir}/users.txt\n\
                 pool_mode = {mode}\ndefault_pool_size = 20\nmax_client_conn = 200\nlogfile = {dir}/pgbouncer.log\n\
                 pidfile = {dir}/pgbouncer.pid\nserver_reset_query = DISCARD ALL\n",
                socket = cluster.root.display(),
                server = cluster.port,
                dir = dir.display(),
            ),
        )
        .unwrap();
        chown_for_pg(&dir);
        let status = run_as_pg(&exe)
            .arg("-d")
            .arg(dir.join("pgbouncer.ini"))
            .status()
            .expect("pgbouncer");
        assert!(
            status.success(),
            "pgbouncer did not start: {}",
            std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default()
        );
        let bouncer = PgBouncer { port, dir };
        assert!(
            super::eventually(std::time::Duration::from_secs(10), || std::net::TcpStream::connect((
                "127.0.0.1",
                port
            ))
            .is_ok()),
            "pgbouncer is not listening on {port}"
        );
        bouncer
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres:{PASSWORD}@127.0.0.1:{}/{db}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pgbouncer.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run_as_pg(exe: &Path) -> Command {
    let mut c = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    c.stdin(Stdio::null());
    c
}

/// A program on PATH, or in the usual sbin directories (pgbouncer lives in
/// /usr/sbin, which a non-root PATH may lack).
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// A PostgreSQL client tool (pgbench, pg_waldump) from the server's own
/// directory, not Debian's wrappers.
pub fn pg_tool(name: &str) -> PathBuf {
    let tool = pg_bin().join(name);
    assert!(
        tool.exists(),
        "{} is missing (the postgresql package has it)",
        tool.display()
    );
    tool
}
