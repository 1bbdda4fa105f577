#!/usr/bin/env python3
"""schemagate benchmark: one throwaway PostgreSQL cluster, schemagate vs the psql floor.

    bench/run.py                    # build, measure (a)-(g), print the table
    bench/run.py --update-readme    # ... and write the table into bench/README.md

See bench/README.md for what is measured and how. Python 3.8+ standard library
only; needs the PostgreSQL server binaries (initdb, pg_ctl, postgres), psql,
pg_isready, /usr/bin/time (package `time`) and strip. hyperfine is optional
(used only as a cross-check of (b) when it is installed). Every psql and
pg_isready is the server's own binary (the highest /usr/lib/postgresql/*/bin),
never Debian's /usr/bin wrappers (a Perl script, ~20 ms per start).
"""

import argparse
import datetime as dt
import glob
import json
import os
import platform
import pwd
import random
import resource
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "bench")
PASSWORD = "bench-pw"
USER = "bench"
TRUST_USER = "bench_trust"  # a member of USER that pg_hba lets in without a password
PEERS_ROOT = os.path.join(os.path.expanduser("~"), ".cache", "schemagate-bench", "peers")

# Targets from issue 2, "Benchmark", tightened by issue 11.
TARGET_A = 1.0
TARGET_B = {"trust": 1.15, "scram": 1.05}  # no-op with 1000 applied vs psql -c 'select 1', same auth
TARGET_C_MS = 150.0
TARGET_D_MIB = 8.0
TARGET_E_BYTES = 5_000_000
TARGET_G = 1.5  # no-op with 10,000 applied vs the same floor
TARGET_G_MIB = 12.0  # peak RSS, fresh apply and no-op, 10,000 migrations

CHILDREN = []  # every Popen we start, killed on exit if still running
STATE = {"pgdata": None, "pgbin": None, "tmp": None, "keep": False, "psql": "psql", "pg_isready": "pg_isready"}


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def die(msg):
    log("ERROR: " + msg)
    sys.exit(1)


# --------------------------------------------------------------------------
# environment


def find_pgbin():
    cands = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(re.sub(r"\D", "", p.split("/")[-2]) or 0),
    )
    for d in reversed(cands):
        if os.path.exists(os.path.join(d, "postgres")):
            return d
    p = shutil.which("postgres") or shutil.which("pg_ctl")
    if p:
        return os.path.dirname(p)
    die("no PostgreSQL server binaries (apt-get install postgresql)")


def as_pg(argv):
    """Run PostgreSQL server tools as the postgres user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + argv
    return argv


def pg_owner():
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        return pw.pw_uid, pw.pw_gid
    return os.geteuid(), os.getegid()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(argv, check=True, timeout=600, **kw):
    r = subprocess.run(argv, timeout=timeout, **kw)
    if check and r.returncode != 0:
        out = ""
        if kw.get("capture_output"):
            out = (r.stdout or b"").decode(errors="replace") + (r.stderr or b"").decode(errors="replace")
        die(f"command failed ({r.returncode}): {' '.join(argv)}\n{out[-3000:]}")
    return r


# --------------------------------------------------------------------------
# cluster


class Cluster:
    def __init__(self, tmp, pgbin):
        self.pgbin = pgbin
        self.data = os.path.join(tmp, "pgdata")
        self.sock = os.path.join(tmp, "sock")
        self.logdir = os.path.join(tmp, "pglog")
        self.port = free_port()
        uid, gid = pg_owner()
        for d in (self.data, self.sock, self.logdir):
            os.makedirs(d, mode=0o700)
            os.chown(d, uid, gid)
        pwfile = os.path.join(self.logdir, "pw")
        with open(pwfile, "w") as f:
            f.write("postgres-pw\n")
        os.chown(pwfile, uid, gid)
        STATE["pgdata"] = self.data
        sh(as_pg([os.path.join(pgbin, "initdb"), "-D", self.data, "-U", "postgres", "--pwfile", pwfile,
                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"]),
           capture_output=True)
        # TLS, so that sslmode=prefer (libpq's and schemagate's default) means a
        # TLS session for both clients: a throwaway self-signed certificate.
        self.ssl = False
        if shutil.which("openssl"):
            r = subprocess.run(["openssl", "req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=localhost",
                                "-newkey", "rsa:2048", "-keyout", os.path.join(self.data, "server.key"),
                                "-out", os.path.join(self.data, "server.crt")], capture_output=True)
            if r.returncode == 0:
                for name in ("server.key", "server.crt"):
                    os.chown(os.path.join(self.data, name), uid, gid)
                    os.chmod(os.path.join(self.data, name), 0o600)
                self.ssl = True
        # Default durability: fsync, synchronous_commit, full_page_writes untouched.
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"""
# bench/run.py
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.sock}'
log_line_prefix = '%m [%p] '
log_timezone = 'UTC'
ssl = {'on' if self.ssl else 'off'}
""")
        # SCRAM for the role that owns the databases (what production uses);
        # trust for a member of it, used to separate authentication cost in (b).
        # By user, not by address: a connection to 127.0.0.2 comes from 127.0.0.1.
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\n"
                    f"host all {TRUST_USER} 127.0.0.1/32 trust\n"
                    "host all all 127.0.0.1/32 scram-sha-256\n")
        self.nstart = 0
        free = shutil.disk_usage(tmp).free
        self.drop_as_we_go = free < 4 * 2**30
        if self.drop_as_we_go:
            log(f"only {free / 2**30:.1f} GiB free in {tmp}: dropping databases as we go (noisier timings)")

    def start(self, wait=True):
        self.nstart += 1
        logfile = os.path.join(self.logdir, f"start{self.nstart}.log")
        argv = [os.path.join(self.pgbin, "pg_ctl"), "-D", self.data, "-l", logfile]
        argv += ["-w", "-t", "60", "start"] if wait else ["-W", "start"]
        sh(as_pg(argv), capture_output=True)
        return logfile

    def stop(self, mode="fast"):
        sh(as_pg([os.path.join(self.pgbin, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "-t", "60", "stop"]),
           check=False, capture_output=True)

    def psql_admin(self, sql, db="postgres"):
        r = sh([STATE["psql"], "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.sock, "-p", str(self.port),
                "-U", "postgres", "-d", db, "-c", sql], capture_output=True)
        return r.stdout.decode().strip()

    def fresh_db(self, name):
        self.psql_admin(f'DROP DATABASE IF EXISTS "{name}"')
        self.psql_admin(f'CREATE DATABASE "{name}" OWNER {USER}')

    def drop_db(self, name):
        """Databases are normally kept until the cluster is removed at exit: on a file
        system mounted with `discard` (as / is here), unlinking the ~5000 files of a
        1000-table database right before a timed run doubled that run's time with kernel
        discard work. Only when space is short are they dropped as we go."""
        if self.drop_as_we_go:
            self.psql_admin(f'DROP DATABASE IF EXISTS "{name}"')

    def postmaster_pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def backend_cpu(self):
        """CPU seconds (user, system) of the postmaster's exited children (cutime, cstime)."""
        with open(f"/proc/{self.postmaster_pid()}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        hz = os.sysconf("SC_CLK_TCK")
        return int(rest[13]) / hz, int(rest[14]) / hz

    def has_backends(self):
        """Is a client backend of the bench role still alive, or a child of the postmaster
        exited but not yet reaped (its CPU time is not yet in cutime/cstime)?"""
        pm = self.postmaster_pid()
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        st = f.read()
                    with open(f"/proc/{d}/cmdline", "rb") as f:
                        cmd = f.read()
                except OSError:
                    continue
                fields = st.rsplit(")", 1)[1].split()
                # Z: exited, not reaped; empty cmdline: exiting (its memory already gone)
                if int(fields[1]) == pm and (fields[0] in "ZX" or not cmd or USER.encode() in cmd):
                    return True
        return False

    def checkpoint(self):
        self.psql_admin("CHECKPOINT")

    def url(self, db, auth="scram", ssl="disable"):
        """ssl: an sslmode, or "prefer" for none given (the default of both clients)."""
        who = TRUST_USER if auth == "trust" else f"{USER}:{PASSWORD}"
        query = "" if ssl == "prefer" else f"?sslmode={ssl}"
        return f"postgres://{who}@127.0.0.1:{self.port}/{db}{query}"

    def psql_argv(self, db, auth="scram"):
        return [STATE["psql"], "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U",
                TRUST_USER if auth == "trust" else USER, "-d", db]


def cleanup():
    for p in CHILDREN:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=5)
            except Exception:
                pass
    if STATE["pgdata"] and os.path.exists(os.path.join(STATE["pgdata"], "postmaster.pid")):
        subprocess.run(as_pg([os.path.join(STATE["pgbin"], "pg_ctl"), "-D", STATE["pgdata"], "-m", "immediate",
                              "-w", "-t", "30", "stop"]), capture_output=True)
    if STATE["tmp"] and not STATE["keep"]:
        shutil.rmtree(STATE["tmp"], ignore_errors=True)
    elif STATE["tmp"]:
        log(f"kept {STATE['tmp']}")


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------
# workload


def migration_sql(n):
    return (f"-- bench migration {n}\n"
            f"CREATE TABLE t{n:04d} (id bigint PRIMARY KEY, name text NOT NULL, "
            f"created_at timestamptz NOT NULL DEFAULT now());\n"
            f"CREATE INDEX t{n:04d}_name_idx ON t{n:04d} (name);\n")


def write_migrations(d, count, refinery=False):
    """schemagate's (and sqlx-cli's) names NNNN_tNNNN.sql, or refinery's VN__tNNNN.sql."""
    os.makedirs(d)
    width = max(4, len(str(count)))
    for n in range(1, count + 1):
        name = f"V{n}__t{n:04d}.sql" if refinery else f"{n:0{width}d}_t{n:04d}.sql"
        with open(os.path.join(d, name), "w") as f:
            f.write(migration_sql(n))
    # The floor: one psql session, BEGIN + the file + COMMIT per migration.
    floor = d + ".floor.sql"
    with open(floor, "w") as f:
        for n in range(1, count + 1):
            f.write("BEGIN;\n" + migration_sql(n) + "COMMIT;\n")
    return d, floor


def sg_env(cluster, db, mdir, auth="scram", ssl="disable"):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SCHEMAGATE_") and not k.startswith("POSTGRES_")
           and k not in ("DATABASE_URL", "DATABASE_URL_FILE", "RUST_LOG", "PGPASSWORD")}
    env.update({
        "DATABASE_URL": cluster.url(db, auth, ssl),
        "SCHEMAGATE_MIGRATIONS_DIR": mdir,
        "SCHEMAGATE_WAIT_TIMEOUT": "30s",
        "SCHEMAGATE_TERMINATION_LOG": "",
    })
    return env


def psql_env(ssl="disable"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSWORD"] = PASSWORD
    if ssl != "prefer":
        env["PGSSLMODE"] = ssl
    return env


def client_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(argv, env, errfile, timeout=300, cl=None, cpu=None):
    """Wall time of one process, fork to reap, in seconds. Fails on a non-zero exit.
    With cl and cpu: appends (client CPU s, server user CPU s, server system CPU s) to cpu. Server CPU is the
    growth of the postmaster's reaped-children CPU time (the session's backend
    exits with the client, and is then counted there)."""
    with open(errfile, "wb") as err:
        if cpu is not None:
            c0, s0 = client_cpu(), cl.backend_cpu()
        # Popen and a blocking wait, never subprocess.run(timeout=...): with a
        # timeout, CPython waits by polling with doubling sleeps (0.5, 1, 2 ...
        # 50 ms), so every wall time came out rounded up to 15.5, 31.5, 63.5 or
        # 113.5 ms (the 32.8 ms vs 64.5 ms of the first (b) figures). A timer
        # kills a run that hangs.
        t0 = time.perf_counter()
        r = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        watchdog = threading.Timer(timeout, r.kill)
        watchdog.start()
        try:
            r.wait()
        finally:
            watchdog.cancel()
        t1 = time.perf_counter()
        if cpu is not None:
            for _ in range(500):  # the backend exits (and is reaped) a moment after the client
                if not cl.has_backends():
                    break
                time.sleep(0.002)
            s1 = cl.backend_cpu()
            cpu.append((client_cpu() - c0, s1[0] - s0[0], s1[1] - s0[1]))
    if r.returncode != 0:
        with open(errfile, "rb") as f:
            tail = f.read()[-3000:].decode(errors="replace")
        die(f"{argv[0]} exited {r.returncode}\n{tail}")
    return t1 - t0


def history_counts(cluster, db):
    out = cluster.psql_admin(
        "SELECT count(*), count(DISTINCT migration_version), coalesce(bool_and(success), true) FROM schemagate_history", db)
    n, distinct, ok = out.split("|")
    tables = cluster.psql_admin(
        "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname ~ '^t[0-9]{4,5}$'", db)
    return int(n), int(distinct), ok == "t", int(tables)


def user_tables(cluster, db):
    return int(cluster.psql_admin(
        "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname ~ '^t[0-9]{4,5}$'", db))


def ms(x):
    return x * 1000.0


def fmt_ms(x):
    return f"{ms(x):.0f} ms" if ms(x) >= 100 else f"{ms(x):.1f} ms"


# --------------------------------------------------------------------------
# builds


def build(args, tmp):
    host = os.path.abspath(args.bin) if args.bin else os.path.join(REPO, "target", "release", "schemagate")
    static = None
    if not args.no_build and not args.bin:
        log("cargo build --release")
        sh(["cargo", "build", "--release", "--bin", "schemagate"], cwd=REPO)
    if not os.access(host, os.X_OK):
        die(f"{host} missing (run without --no-build)")
    if args.skip_static or not any(c in args.only for c in "abdeg"):
        return host, None, "skipped"
    script = os.path.join(REPO, "docker", "build-static.sh")
    how = None
    if not args.no_build:
        if os.access(script, os.X_OK):
            log("docker/build-static.sh")
            r = subprocess.run([script], cwd=REPO, stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "static.log"), "wb"))
            if r.returncode == 0 and r.stdout.strip():
                static, how = r.stdout.decode().strip().splitlines()[-1], "docker/build-static.sh"
            else:
                log("docker/build-static.sh failed; see static.log; trying +crt-static directly")
        if static is None:
            env = dict(os.environ)
            env["RUSTFLAGS"] = (env.get("RUSTFLAGS", "") + " -C target-feature=+crt-static").strip()
            r = subprocess.run(["cargo", "build", "--release", "--target", "x86_64-unknown-linux-gnu", "--bin",
                                "schemagate"], cwd=REPO, env=env)
            if r.returncode == 0:
                static = os.path.join(REPO, "target", "x86_64-unknown-linux-gnu", "release", "schemagate")
                how = "RUSTFLAGS=+crt-static, x86_64-unknown-linux-gnu"
    else:
        for triple in ("x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu"):
            p = os.path.join(REPO, "target", triple, "release", "schemagate")
            if os.access(p, os.X_OK):
                static, how = p, f"existing target/{triple} build (--no-build)"
                break
    return host, static, how or "unavailable"


def install_peers():
    """sqlx-cli and refinery-cli, built once into a cache outside the repository."""
    specs = {
        "sqlx": ("sqlx", ["sqlx-cli", "--no-default-features", "--features", "postgres,rustls"]),
        "refinery": ("refinery", ["refinery_cli", "--no-default-features", "--features", "postgresql"]),
    }
    peers = {}
    for name, (exe, crate) in specs.items():
        path = os.path.join(PEERS_ROOT, "bin", exe)
        if not os.access(path, os.X_OK):
            log(f"cargo install --locked --root {PEERS_ROOT} {' '.join(crate)} (once; a few minutes)")
            r = subprocess.run(["cargo", "install", "--locked", "--root", PEERS_ROOT] + crate,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if r.returncode != 0 or not os.access(path, os.X_OK):
                die(f"installing {crate[0]} failed:\n{r.stderr.decode(errors='replace')[-2000:]}")
        version = subprocess.run([path, "--version"], capture_output=True).stdout.decode().strip()
        peers[name] = {"path": path, "version": version.split()[-1] if version else "?"}
    return peers


def peer_argv(peer, path, mdir, url):
    if peer == "sqlx":
        return [path, "migrate", "run", "--source", mdir, "--database-url", url]
    return [path, "migrate", "-e", "BENCH_DB_URL", "-p", mdir]


def peer_env(url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    env["BENCH_DB_URL"] = url
    return env


def git_state():
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True).stdout.decode().strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"],
                           capture_output=True).stdout.decode().strip()
    return commit, bool(dirty)


def binary_facts(path, tmp):
    if not path:
        return None
    stripped = os.path.join(tmp, "schemagate.stripped")
    shutil.copy(path, stripped)
    subprocess.run(["strip", stripped], check=False)
    filetxt = subprocess.run(["file", "-b", path], capture_output=True).stdout.decode().strip() \
        if shutil.which("file") else ""
    interp = subprocess.run(["readelf", "-lW", path], capture_output=True).stdout.decode()
    is_static = "program interpreter" not in interp
    return {"path": path, "bytes": os.path.getsize(path), "stripped_bytes": os.path.getsize(stripped),
            "static": is_static, "file": filetxt, "stripped_path": stripped}


# --------------------------------------------------------------------------
# the cases


def case_a(cl, sides, reps, tmp):
    """Fresh apply of 1000 migrations: each side in turn (the order rotating), a fresh database each."""
    names = list(sides)
    res = {k: [] for k in names}
    res.update({"cpu_" + k: [] for k in names})
    for i in range(reps):
        order = names[i % len(names):] + names[:i % len(names)]
        for side in order:
            db = f"a_{side}_{i}"
            cl.fresh_db(db)
            cl.checkpoint()
            argv, env, check = sides[side](db)
            t = timed(argv, env, os.path.join(tmp, f"{db}.err"), cl=cl, cpu=res["cpu_" + side])
            check(db)
            res[side].append(t)
            c = res["cpu_" + side][-1]
            log(f"(a) rep {i + 1}/{reps} {side:18s} {t:.3f} s  (CPU s: client {c[0]:.2f}, server user {c[1]:.2f}, "
                f"server sys {c[2]:.2f}; load {os.getloadavg()[0]:.2f})")
            if i != 0:
                cl.drop_db(db)  # a no-op unless space is short
    # a_<side>_0 is kept: it is the 1000-applied database of that side for (b).
    return res


def a_sides(cl, sg, static, peers, m1000, m1000_refinery, floor1000):
    def sg_check(db, count=1000):
        n, distinct, ok, tables = history_counts(cl, db)
        if not (n == distinct == tables == count and ok):
            die(f"schemagate applied {n}/{distinct} rows, {tables} tables in {db}")

    def tables_check(db, count=1000):
        tables = user_tables(cl, db)
        if tables != count:
            die(f"{db}: {tables} tables, expected {count}")

    sides = {
        "schemagate": lambda db: ([sg, "run"], sg_env(cl, db, m1000), sg_check),
        "psql": lambda db: (cl.psql_argv(db) + ["-v", "ON_ERROR_STOP=1", "-f", floor1000], psql_env(), tables_check),
    }
    if static:
        sides["static"] = lambda db: ([static, "run"], sg_env(cl, db, m1000), sg_check)
    for name, p in peers.items():
        mdir = m1000_refinery if name == "refinery" else m1000
        sides[name] = (lambda db, name=name, p=p, mdir=mdir:
                       (peer_argv(name, p["path"], mdir, cl.url(db)), peer_env(cl.url(db)), tables_check))
    return sides


def noop_variants(cl, db_of, sg, static, peers, mdirs, ssl_modes):
    """The no-op side of every client under every auth and sslmode: (argv, env) by name."""
    v = {}
    for auth in ("trust", "scram"):
        for ssl in ssl_modes:
            sfx = f"{auth}/{ssl}"
            v[f"psql {sfx}"] = (cl.psql_argv(db_of("psql"), auth) + ["-A", "-t", "-c", "select 1"], psql_env(ssl))
            v[f"schemagate {sfx}"] = ([sg, "run"], sg_env(cl, db_of("schemagate"), mdirs["schemagate"], auth, ssl))
            if static:
                v[f"static {sfx}"] = ([static, "run"], sg_env(cl, db_of("schemagate"), mdirs["schemagate"], auth, ssl))
            if ssl == "disable":  # the peers are built without TLS (refinery) or measured as they are usually run
                for name, p in peers.items():
                    url = cl.url(db_of(name), auth, ssl)
                    v[f"{name} {sfx}"] = (peer_argv(name, p["path"], mdirs[name], url), peer_env(url))
    return v


def interleaved(cl, variants, runs, tmp, warmup=3, cpu_runs=10):
    """Wall times back to back, interleaved; then, in a separate pass, the CPU of each variant.
    The CPU pass waits for the server backend to be reaped after every run; timing those runs
    too would leave the machine idle between runs, and on this VM a wake-up from idle is
    rounded up to a ~16 ms tick (runs then cluster at 16, 32 and 64 ms whatever the client)."""
    names = list(variants)
    res = {k: [] for k in names}
    cpu = {k: [] for k in names}
    for _ in range(warmup):
        for k in names:
            timed(variants[k][0], variants[k][1], os.path.join(tmp, "noop.err"))
    for i in range(runs):
        order = names if i % 2 == 0 else list(reversed(names))
        for k in order:
            res[k].append(timed(variants[k][0], variants[k][1], os.path.join(tmp, "noop.err")))
    for i in range(cpu_runs):
        for k in names:
            timed(variants[k][0], variants[k][1], os.path.join(tmp, "noop.err"), cl=cl, cpu=cpu[k])
    res["cpu"] = {k: (sum(x[0] for x in v) / len(v), sum(x[1] + x[2] for x in v) / len(v)) for k, v in cpu.items()}
    return res


def case_b(cl, sg, static, peers, mdirs, runs, tmp):
    """No-op run with 1000 applied vs bare psql -c 'select 1', every variant interleaved."""
    ssl_modes = ["disable", "prefer"] if cl.ssl else ["disable"]
    variants = noop_variants(cl, lambda side: f"a_{side}_0", sg, static, peers, mdirs, ssl_modes)
    res = interleaved(cl, variants, runs, tmp)
    n, distinct, ok, _ = history_counts(cl, "a_schemagate_0")
    if n != 1000:
        die(f"(b) history has {n} rows after no-op runs")
    hf = None
    if shutil.which("hyperfine"):
        out = os.path.join(tmp, "hyperfine.json")
        env = dict(sg_env(cl, "a_schemagate_0", mdirs["schemagate"]))
        env.update(psql_env())
        r = subprocess.run(["hyperfine", "-N", "--warmup", "5", "--runs", str(runs), "--export-json", out,
                            "--style", "none",
                            "-n", "schemagate", f"{sg} run",
                            "-n", "psql", " ".join(cl.psql_argv("a_schemagate_0") + ["-A", "-t", "-c", "'select 1'"])],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        if r.returncode == 0:
            with open(out) as f:
                j = json.load(f)
            hf = {x["command"]: statistics.median(x["times"]) for x in j["results"]}
    return res, hf


def case_g(cl, sg, static, runs, tmp):
    """10,000 migrations: fresh apply (wall, peak RSS) by both builds and by the psql floor,
    then the no-op against psql -c 'select 1' (trust and SCRAM, sslmode=disable) and its peak RSS."""
    m, floor = write_migrations(os.path.join(tmp, "m10000"), 10000)
    res = {"fresh": {}, "rss_fresh": {}, "rss_noop": {}}
    builds = {"schemagate": sg}
    if static:
        builds["static"] = static
    for name, binary in builds.items():
        db = f"g_{name}"
        cl.fresh_db(db)
        cl.checkpoint()
        t0 = time.perf_counter()
        res["rss_fresh"][name] = peak_rss_kib([binary, "run"], sg_env(cl, db, m), os.path.join(tmp, f"{db}.time"))
        res["fresh"][name] = time.perf_counter() - t0
        n, distinct, ok, tables = history_counts(cl, db)
        if not (n == distinct == tables == 10000 and ok):
            die(f"(g) {name} applied {n}/{distinct} rows, {tables} tables")
        log(f"(g) {name} fresh apply of 10,000: {res['fresh'][name]:.1f} s, peak RSS {res['rss_fresh'][name]} KiB")
    cl.fresh_db("g_psql")
    cl.checkpoint()
    res["fresh"]["psql"] = timed(cl.psql_argv("g_psql") + ["-v", "ON_ERROR_STOP=1", "-f", floor], psql_env(),
                                 os.path.join(tmp, "g_psql.err"), timeout=1800)
    log(f"(g) psql floor, 10,000: {res['fresh']['psql']:.1f} s")
    for name, binary in builds.items():
        res["rss_noop"][name] = peak_rss_kib([binary, "run"], sg_env(cl, "g_schemagate", m),
                                             os.path.join(tmp, f"g_noop_{name}.time"))
    variants = noop_variants(cl, lambda side: "g_schemagate", sg, static, {}, {"schemagate": m}, ["disable"])
    res["noop"] = interleaved(cl, variants, runs, tmp, warmup=2)
    return res


def case_c(cl, sg, m10, floor10, reps, tmp):
    """DB-ready -> exit. Ready time = the postmaster's own timestamp (log_line_prefix %m) on the line
    'database system is ready to accept connections'; exit time = CLOCK_REALTIME when waitpid returns."""
    isready = [STATE["pg_isready"], "-q", "-h", "127.0.0.1", "-p", str(cl.port), "-U", USER, "-d", "postgres"]
    loop = f"until {' '.join(isready)}; do sleep 0.1; done"
    # date: when the loop saw the server ready (for the breakdown only; not in the pure-loop side)
    loop_psql = loop + f"; date +%s.%N >&2; {' '.join(cl.psql_argv('DB'))} -v ON_ERROR_STOP=1 -f {floor10}"
    sides = ["schemagate", "pg_isready_loop", "pg_isready_loop+psql"]
    res = {k: [] for k in sides}
    res["connected"] = {"schemagate": [], "pg_isready_loop+psql": []}  # ready -> client has a session
    rng = random.Random(20261122)
    for i in range(reps):
        order = sides[i % 3:] + sides[:i % 3]
        for side in order:
            db = f"c_{i}_{side.replace('+', '_')}"
            cl.fresh_db(db)
            cl.stop("fast")
            if side == "schemagate":
                argv, env = [sg, "run"], sg_env(cl, db, m10)
                env["SCHEMAGATE_LOG"] = "debug"  # for the 'connected' line (breakdown)
            elif side == "pg_isready_loop":
                argv, env = ["bash", "-c", loop], psql_env()
            else:
                argv, env = ["bash", "-c", loop_psql.replace(" -d DB ", f" -d {db} ")], psql_env()
            errf = open(os.path.join(tmp, f"{db}.err"), "wb")
            p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=errf)
            CHILDREN.append(p)
            done = {}

            def reap(p=p, done=done):
                done["rc"] = p.wait()
                done["t"] = time.time()

            th = threading.Thread(target=reap)
            th.start()
            time.sleep(rng.uniform(0.3, 0.7))  # the client is in its wait loop, at a random phase
            if "rc" in done:
                die(f"(c) {side} exited {done['rc']} before the server started")
            logfile = cl.start(wait=False)
            th.join(timeout=60)
            errf.close()
            if "rc" not in done:
                die(f"(c) {side} did not finish within 60 s")
            if done["rc"] != 0:
                die(f"(c) {side} exited {done['rc']}; see {errf.name}")
            # make sure the server is fully up before reading its log / using it
            sh(as_pg([os.path.join(cl.pgbin, "pg_ctl"), "-D", cl.data, "-w", "-t", "60", "status"]),
               capture_output=True, check=False)
            ready = None
            for _ in range(100):
                with open(logfile) as f:
                    for line in f:
                        if "database system is ready to accept connections" in line:
                            stamp = " ".join(line.split()[:2])
                            ready = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(
                                tzinfo=dt.timezone.utc).timestamp()
                            break
                if ready:
                    break
                time.sleep(0.05)
            if ready is None:
                die(f"(c) no ready line in {logfile}")
            lat = done["t"] - ready
            if side == "schemagate":
                n, distinct, ok, tables = history_counts(cl, db)
                if not (n == distinct == tables == 10 and ok):
                    die(f"(c) schemagate applied {n} rows / {tables} tables")
            res[side].append(lat)
            conn = None
            with open(errf.name, errors="replace") as f:
                for line in f:
                    if side == "schemagate" and " connected " in line:
                        conn = dt.datetime.strptime(line.split()[0][:26], "%Y-%m-%dT%H:%M:%S.%f").replace(
                            tzinfo=dt.timezone.utc).timestamp()
                    elif side != "schemagate" and re.fullmatch(r"\d+\.\d+", line.strip()):
                        conn = float(line.strip())
            if side in res["connected"] and conn:
                res["connected"][side].append(conn - ready)
            log(f"(c) rep {i + 1}/{reps} {side:22s} {ms(lat):7.1f} ms after ready"
                + (f" (session/loop exit at {ms(conn - ready):.1f} ms)" if conn else ""))
            cl.drop_db(db)
    return res


def peak_rss_kib(argv, env, errfile):
    r = subprocess.run(["/usr/bin/time", "-v"] + argv, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=1800)
    err = r.stderr.decode(errors="replace")
    with open(errfile, "w") as f:
        f.write(err)
    if r.returncode != 0:
        die(f"(d) {argv[0]} exited {r.returncode}\n{err[-3000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    return int(m.group(1))


def case_d(cl, sg, static, m1000, floor1000, reps, tmp):
    res = {"schemagate": [], "psql": [], "schemagate_noop": None, "schemagate_static": None}
    for i in range(reps):
        db = f"d_{i}"
        cl.fresh_db(db)
        res["schemagate"].append(peak_rss_kib([sg, "run"], sg_env(cl, db, m1000), os.path.join(tmp, f"{db}.time")))
        if i == 0:
            res["schemagate_noop"] = peak_rss_kib([sg, "run"], sg_env(cl, db, m1000), os.path.join(tmp, "d_noop.time"))
        cl.drop_db(db)
        log(f"(d) rep {i + 1}/{reps} peak RSS {res['schemagate'][-1]} KiB")
    db = "d_psql"
    cl.fresh_db(db)
    res["psql"].append(peak_rss_kib(cl.psql_argv(db) + ["-v", "ON_ERROR_STOP=1", "-f", floor1000], psql_env(),
                                    os.path.join(tmp, "d_psql.time")))
    cl.drop_db(db)
    if static:
        db = "d_static"
        cl.fresh_db(db)
        res["schemagate_static"] = peak_rss_kib([static, "run"], sg_env(cl, db, m1000),
                                                os.path.join(tmp, "d_static.time"))
        cl.drop_db(db)
    return res


def case_f(cl, sg, m1000, m10, rounds, tmp):
    out = []
    for r in range(rounds):
        mdir, count = (m1000, 1000) if r == 0 else (m10, 10)
        db = f"f_{r}"
        cl.fresh_db(db)
        # stderr to files, not pipes: a runner must never block on a full pipe we are not reading
        errfiles = [open(os.path.join(tmp, f"{db}.{i}.err"), "wb+") for i in range(8)]
        procs = [subprocess.Popen([sg, "run"], env=sg_env(cl, db, mdir), stdout=subprocess.DEVNULL,
                                  stderr=errfiles[i]) for i in range(8)]
        CHILDREN.extend(procs)
        rcs, errs = [], []
        for p, ef in zip(procs, errfiles):
            try:
                rcs.append(p.wait(timeout=300))
            except subprocess.TimeoutExpired:
                die(f"(f) a runner did not finish within 300 s; see {ef.name}")
            ef.seek(0)
            errs.append(ef.read().decode(errors="replace"))
            ef.close()
        n, distinct, ok, tables = history_counts(cl, db)
        good = all(c == 0 for c in rcs) and n == distinct == tables == count and ok
        out.append({"migrations": count, "exit_codes": rcs, "rows": n, "distinct": distinct, "tables": tables,
                    "ok": good})
        log(f"(f) round {r + 1}/{rounds}: {count} migrations, exits {rcs}, {n} rows, {distinct} distinct, "
            f"{tables} tables -> {'ok' if good else 'FAIL'}")
        if not good:
            for i, e in enumerate(errs):
                if rcs[i] != 0:
                    log(f"(f) runner {i} stderr tail:\n{e[-1500:]}")
        cl.drop_db(db)
    return out


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps-a", type=int, default=9, help="repetitions of (a) per side (default 9)")
    ap.add_argument("--runs-b", type=int, default=60, help="runs of (b) per variant (default 60)")
    ap.add_argument("--reps-c", type=int, default=7, help="repetitions of (c) per side (default 7)")
    ap.add_argument("--reps-d", type=int, default=3, help="repetitions of (d) (default 3)")
    ap.add_argument("--rounds-f", type=int, default=4, help="rounds of (f) (default 4: 1000, then 10 migrations)")
    ap.add_argument("--runs-g", type=int, default=20, help="no-op runs of (g) per variant (default 20)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already in target/")
    ap.add_argument("--settle", type=float, default=60,
                    help="wait up to this many seconds for the load average to drop below 1.0 (default 60)")
    ap.add_argument("--bin", help="measure this schemagate binary in (a)-(d), (f), (g) instead of target/release "
                                  "(implies no host build; (e) still builds the static binary unless --no-build)")
    ap.add_argument("--skip-static", action="store_true", help="skip (e) and the static-binary rows")
    ap.add_argument("--peers", action="store_true",
                    help=f"also measure sqlx-cli and refinery-cli in (a) and (b), installed once into {PEERS_ROOT}")
    ap.add_argument("--only", default="abcdefg", help="subset of cases to run, e.g. 'bc'")
    ap.add_argument("--update-readme", action="store_true", help="write the table into bench/README.md")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    for tool in ("strip", "readelf"):
        if not shutil.which(tool):
            die(f"{tool} not found")
    if not os.access("/usr/bin/time", os.X_OK):
        log("/usr/bin/time missing: apt-get install -y time")
        subprocess.run(["apt-get", "install", "-y", "time"], stdout=subprocess.DEVNULL)
        if not os.access("/usr/bin/time", os.X_OK):
            die("/usr/bin/time is needed for (d)")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t_start = time.time()
    STATE["keep"] = args.keep
    tmp = tempfile.mkdtemp(prefix="schemagate-bench-")
    STATE["tmp"] = tmp
    os.chmod(tmp, 0o755)  # the postgres user must reach its data directory
    try:
        return run(args, tmp, t_start)
    finally:
        cleanup()


def run(args, tmp, t_start):
    pgbin = find_pgbin()
    STATE["pgbin"] = pgbin
    for tool in ("psql", "pg_isready"):
        path = os.path.join(pgbin, tool)
        if not os.access(path, os.X_OK):
            die(f"{path} missing: the floor is the server's own {tool}")
        STATE[tool] = path
    peers = install_peers() if args.peers else {}
    sg, static, static_how = build(args, tmp)
    # Which source was measured: recorded right after the build, not at the end
    # (other people commit to this repository while the benchmark runs).
    head0 = git_state()
    facts = binary_facts(static, tmp)
    if facts and facts["stripped_path"] and facts["static"]:
        static_run = facts["path"]
    else:
        static_run = None

    # Let the load of our own build die down (at most --settle s) before timing anything.
    t_settle = time.time()
    while os.getloadavg()[0] > 1.0 and time.time() - t_settle < args.settle:
        time.sleep(2)
    if time.time() - t_settle > 1:
        log(f"waited {time.time() - t_settle:.0f} s for the load to settle (now {os.getloadavg()[0]:.2f})")

    m1000, floor1000 = write_migrations(os.path.join(tmp, "m1000"), 1000)
    m1000_refinery, _ = write_migrations(os.path.join(tmp, "m1000-refinery"), 1000, refinery=True)
    m10, floor10 = write_migrations(os.path.join(tmp, "m10"), 10)
    mdirs = {"schemagate": m1000, "sqlx": m1000, "refinery": m1000_refinery}

    log(f"initdb ({pgbin})")
    cl = Cluster(tmp, pgbin)
    cl.start()
    pgver = cl.psql_admin("SHOW server_version")
    cl.psql_admin(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
    cl.psql_admin(f"CREATE ROLE {TRUST_USER} LOGIN IN ROLE {USER}")
    load0 = os.getloadavg()
    log(f"PostgreSQL {pgver} on 127.0.0.1:{cl.port} (ssl {'on' if cl.ssl else 'off'}); load average {load0[0]:.2f}")

    results = {}
    if "a" in args.only or "b" in args.only:
        sides = a_sides(cl, sg, static_run, peers, m1000, m1000_refinery, floor1000)
        results["a"] = case_a(cl, sides, max(args.reps_a, 1), tmp)
    if "b" in args.only:
        results["b"], results["b_hyperfine"] = case_b(cl, sg, static_run, peers, mdirs, args.runs_b, tmp)
    if "d" in args.only:
        results["d"] = case_d(cl, sg, static_run, m1000, floor1000, args.reps_d, tmp)
    if "f" in args.only:
        results["f"] = case_f(cl, sg, m1000, m10, args.rounds_f, tmp)
    if "g" in args.only:
        results["g"] = case_g(cl, sg, static_run, args.runs_g, tmp)
    if "c" in args.only:  # last: it stops and starts the cluster
        results["c"] = case_c(cl, sg, m10, floor10, args.reps_c, tmp)
    load1 = os.getloadavg()
    elapsed = time.time() - t_start

    rows = []  # (case, measured, baseline, ratio, target, met)
    med = statistics.median
    if "a" in results and "a" in args.only:
        a = results["a"]
        p = med(a["psql"])
        for side in [k for k in a if not k.startswith("cpu_") and k != "psql"]:
            s = med(a[side])
            label = {"schemagate": "schemagate", "static": "schemagate, static musl"}.get(side, PEER_LABEL(side, peers))
            met = s / p <= TARGET_A if side in ("schemagate", "static") else None
            rows.append((f"(a) fresh apply, 1000 migrations: {label}", f"{s:.2f} s", f"{p:.2f} s (psql floor)",
                         f"{s / p:.3f}x", f"<= {TARGET_A}x" if met is not None else "-", met))
    if "b" in results:
        b = results["b"]
        for key in [k for k in b if k != "cpu" and not k.startswith("psql ")]:
            side, sfx = key.split(" ")
            auth, ssl = sfx.split("/")
            s, p = med(b[key]), med(b[f"psql {sfx}"])
            label = {"schemagate": "schemagate", "static": "schemagate, static musl"}.get(side, PEER_LABEL(side, peers))
            ours = side in ("schemagate", "static")
            met = s / p <= TARGET_B[auth] if ours else None
            rows.append((f"(b) no-op, 1000 applied, {'trust' if auth == 'trust' else 'SCRAM'}, sslmode={ssl}: {label}",
                         fmt_ms(s), f"{fmt_ms(p)} (psql -c 'select 1')", f"{s / p:.2f}x",
                         f"<= {TARGET_B[auth]}x" if ours else "-", met))
    if "c" in results:
        c = results["c"]
        s = med(c["schemagate"])
        p = med(c["pg_isready_loop"])
        rows.append(("(c) DB ready -> exit, 10 migrations", f"{ms(s):.0f} ms",
                     f"{ms(p):.0f} ms (pg_isready loop, 100 ms sleeps)", f"{s / p:.2f}x",
                     f"<= {TARGET_C_MS:.0f} ms", ms(s) <= TARGET_C_MS))
    if "d" in results:
        d = results["d"]
        p = d["psql"][0] / 1024
        s = med(d["schemagate"]) / 1024
        rows.append(("(d) peak RSS, run with 1000 migrations", f"{s:.1f} MiB", f"{p:.1f} MiB (psql floor)",
                     f"{s / p:.2f}x", f"<= {TARGET_D_MIB:.0f} MiB", s <= TARGET_D_MIB))
        if d["schemagate_static"]:
            s = d["schemagate_static"] / 1024
            rows.append(("(d) peak RSS, run with 1000 migrations: static musl", f"{s:.1f} MiB",
                         f"{p:.1f} MiB (psql floor)", f"{s / p:.2f}x", f"<= {TARGET_D_MIB:.0f} MiB",
                         s <= TARGET_D_MIB))
    if facts:
        sb = facts["stripped_bytes"]
        rows.append(("(e) stripped static binary", f"{sb:,} B ({sb / 2**20:.2f} MiB)", "-", "-",
                     f"<= {TARGET_E_BYTES:,} B", sb <= TARGET_E_BYTES and facts["static"]))
    if "f" in results:
        f = results["f"]
        good = all(x["ok"] for x in f)
        desc = "; ".join(f"{x['migrations']}: {sum(c == 0 for c in x['exit_codes'])}/8 exit 0, "
                         f"{x['rows']} rows" for x in f)
        rows.append(("(f) 8 concurrent runs, fresh DB", desc, "-", "-", "all exit 0, each once", good))
    if "g" in results:
        g = results["g"]
        n = g["noop"]
        for key in [k for k in n if k != "cpu" and not k.startswith("psql ")]:
            side, sfx = key.split(" ")
            auth = sfx.split("/")[0]
            s, p = med(n[key]), med(n[f"psql {sfx}"])
            label = "schemagate" if side == "schemagate" else "schemagate, static musl"
            rows.append((f"(g) no-op, 10,000 applied, {'trust' if auth == 'trust' else 'SCRAM'}: {label}",
                         fmt_ms(s), f"{fmt_ms(p)} (psql -c 'select 1')", f"{s / p:.2f}x", f"<= {TARGET_G}x",
                         s / p <= TARGET_G))
        for side in g["rss_fresh"]:
            label = "schemagate" if side == "schemagate" else "schemagate, static musl"
            for what, key in (("fresh apply", "rss_fresh"), ("no-op", "rss_noop")):
                s = g[key][side] / 1024
                rows.append((f"(g) peak RSS, {what}, 10,000 migrations: {label}", f"{s:.1f} MiB", "-", "-",
                             f"<= {TARGET_G_MIB:.0f} MiB", s <= TARGET_G_MIB))

    uname = platform.uname()
    commit, dirty = head0
    if args.bin:
        source = f"binary {args.bin}"
    else:
        source = f"schemagate {commit}{' + uncommitted src changes' if dirty else ''}"
        if git_state() != head0:
            source += f" (HEAD moved to {git_state()[0]} during the run)"
    peer_text = "".join(f", {PEER_LABEL(k, peers)}" for k in peers)
    header = (f"Measured {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} by `bench/run.py`: {os.cpu_count()} cores, "
              f"PostgreSQL {pgver} (default durability: fsync on, synchronous_commit on; ssl "
              f"{'on, self-signed' if cl.ssl else 'off'}), floor: {STATE['psql']}, "
              f"Linux {uname.release}, {source}{peer_text}; "
              f"load average {load0[0]:.2f} at start, {load1[0]:.2f} at end; total {elapsed:.0f} s.")
    table = ["| case | measured | baseline | ratio | target | met |", "|---|---|---|---|---|---|"]
    for r in rows:
        met = "-" if r[5] is None else ("yes" if r[5] else "**NO**")
        table.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {met} |")

    details = []
    if "a" in results and "a" in args.only:
        a = results["a"]
        names = [k for k in a if not k.startswith("cpu_")]

        def cpu_line(name):
            xs = a["cpu_" + name]
            return (f"{name} client {med(x[0] for x in xs):.2f}, server user {med(x[1] for x in xs):.2f}, "
                    f"server system {med(x[2] for x in xs):.2f}")
        up = med(x[0] + x[1] for x in a["cpu_psql"])
        pairs = ", ".join(f"{k} {med([x / y for x, y in zip(a[k], a['psql'])]):.3f}x" for k in names if k != "psql")
        users = ", ".join(f"{k} {med(x[0] + x[1] for x in a['cpu_' + k]):.2f} s "
                          f"({med(x[0] + x[1] for x in a['cpu_' + k]) / up:.3f}x)" for k in names if k != "psql")
        details.append(f"- (a) {len(a['psql'])} reps per side, fresh database each, order rotating: "
                       + "; ".join(f"{k} {', '.join(f'{x:.2f}' for x in a[k])} s" for k in names)
                       + f". Median of the per-rep ratios to the psql run of the same rep: {pairs}. "
                       f"CPU seconds, medians: {'; '.join(cpu_line(k) for k in names)}. User CPU "
                       f"(client + server backend), the programs' own work and not the file system's: "
                       f"psql {up:.2f} s; {users}.")
    if "b" in results:
        b = results["b"]
        cpu = b["cpu"]
        line = (f"- (b) {len(b['psql trust/disable'])} interleaved runs per variant after 3 warm-up rounds, medians "
                f"(mean CPU per run over 10 more runs, client + server backend): "
                + "; ".join(f"{k} {fmt_ms(med(b[k]))} ({ms(cpu[k][0]):.1f} + {ms(cpu[k][1]):.1f} ms)"
                            for k in b if k != "cpu"))
        hf = results.get("b_hyperfine")
        if hf:
            line += (f". hyperfine -N cross-check (SCRAM, sslmode=disable): schemagate {fmt_ms(hf['schemagate'])}, "
                     f"psql {fmt_ms(hf['psql'])} ({hf['schemagate'] / hf['psql']:.2f}x)")
        details.append(line + ".")
    if "c" in results:
        c = results["c"]
        details.append(
            f"- (c) {len(c['schemagate'])} reps per side; ms after the server's ready line: "
            f"schemagate {', '.join(f'{ms(x):.0f}' for x in c['schemagate'])}; "
            f"pg_isready loop {', '.join(f'{ms(x):.0f}' for x in c['pg_isready_loop'])}; "
            f"pg_isready loop + psql applying the same 10 migrations "
            f"{', '.join(f'{ms(x):.0f}' for x in c['pg_isready_loop+psql'])} "
            f"(median {ms(med(c['pg_isready_loop+psql'])):.0f} ms). Breakdown, medians: schemagate has its session "
            f"{ms(med(c['connected']['schemagate'])):.0f} ms after ready and needs "
            f"{ms(med(c['schemagate']) - med(c['connected']['schemagate'])):.0f} ms more to exit; "
            f"the loop+psql side leaves its loop at {ms(med(c['connected']['pg_isready_loop+psql'])):.0f} ms and "
            f"psql then needs {ms(med(c['pg_isready_loop+psql']) - med(c['connected']['pg_isready_loop+psql'])):.0f} ms.")
    if "d" in results:
        d = results["d"]
        line = (f"- (d) peak RSS (KiB, /usr/bin/time -v): fresh apply {d['schemagate']}, "
                f"no-op run {d['schemagate_noop']}, psql floor {d['psql'][0]}")
        if d["schemagate_static"]:
            line += f", static binary fresh apply {d['schemagate_static']}"
        details.append(line + ".")
    if facts:
        details.append(f"- (e) {static_how}: {facts['path'].replace(REPO + '/', '')}, {facts['bytes']:,} B as built, "
                       f"{facts['stripped_bytes']:,} B after `strip`; "
                       f"{'static' if facts['static'] else 'NOT static'} ({facts['file'][:90]}). "
                       f"Host build target/release/schemagate: {os.path.getsize(sg):,} B.")
    if "g" in results:
        g = results["g"]
        fr = g["fresh"]
        a1000 = med(results["a"]["schemagate"]) if "a" in results else None
        scale = f" ({fr['schemagate'] / a1000:.1f}x the 1000-migration median of (a))" if a1000 else ""
        details.append(
            f"- (g) 10,000 migrations, fresh apply, one run each: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in fr.items())
            + f"; schemagate/psql {fr['schemagate'] / fr['psql']:.3f}x{scale}. Peak RSS (KiB): fresh "
            + ", ".join(f"{k} {v}" for k, v in g["rss_fresh"].items()) + "; no-op "
            + ", ".join(f"{k} {v}" for k, v in g["rss_noop"].items())
            + f". No-op, {len(g['noop']['psql trust/disable'])} interleaved runs per variant, medians: "
            + "; ".join(f"{k} {fmt_ms(med(v))}" for k, v in g["noop"].items() if k != "cpu") + ".")
    md = "\n".join([header, ""] + table + [""] + details) + "\n"
    print()
    print(md)
    with open(os.path.join(BENCH, "last-run.md"), "w") as f:
        f.write(md)
    with open(os.path.join(BENCH, "last-run.json"), "w") as f:
        json.dump({"pg": pgver, "results": results, "binary": facts, "peers": peers}, f, indent=1, default=str)
    if args.update_readme:
        readme = os.path.join(BENCH, "README.md")
        text = open(readme).read()
        begin, end = "<!-- results:begin -->", "<!-- results:end -->"
        if begin in text and end in text:
            pre, rest = text.split(begin, 1)
            _, post = rest.split(end, 1)
            with open(readme, "w") as f:
                f.write(pre + begin + "\n" + md + end + post)
            log("bench/README.md updated")
        else:
            log("bench/README.md has no results markers; not updated")
    return 0 if all(r[5] for r in rows if r[5] is not None) else 3


def PEER_LABEL(name, peers):
    cli = {"sqlx": "sqlx-cli", "refinery": "refinery-cli"}.get(name, name)
    return f"{cli} {peers[name]['version']}" if name in peers else cli


if __name__ == "__main__":
    sys.exit(main())
