#!/usr/bin/env python3
"""DDL under live traffic: what a migration's ALTER TABLE does to the application.

    bench/ddl-under-load/run.py                  # build, measure both sides, print the table
    bench/ddl-under-load/run.py --update-readme  # ... and write it into bench/ddl-under-load/README.md

One throwaway cluster on loopback. For each side (schemagate, then plain
`psql -f` as the baseline), on a fresh database:

  * pgbench runs 8 clients of selects and updates on table `t` for 20 s,
    logging every transaction's latency;
  * at 5 s a session (`blocker`) runs `BEGIN; SELECT ... FROM t` and stays idle
    in its transaction for 5 s, then commits;
  * at 5.5 s the migration `ALTER TABLE t ADD COLUMN c int` starts.

Reported per side: the application's p50, p99 and max latency over the
window from the migration's start to its end (plus 1 s), how many
transactions waited more than 1 s, and when the migration finished relative
to the blocker's end. Target (issue 8): with schemagate the application's max
latency during the migration is at most 2x the DDL lock timeout, while the
psql baseline stalls for the blocker's full 5 s; and the migration still
completes after the blocker ends.

Python 3.8+ standard library only; needs the PostgreSQL server binaries
(initdb, pg_ctl, postgres, psql, pgbench from the same directory) and cargo.
"""

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pgtools import as_pg, find_pgbin, free_port  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
DURATION = 20.0
BLOCK_AT, BLOCK_FOR = 5.0, 5.0
MIGRATE_AT = 5.5
CLIENTS = 8
ROWS = 10000
DDL_LOCK_TIMEOUT = 2.0


def log(msg):
    print(f"[ddl-under-load {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Cluster:
    def __init__(self, tmp, bindir):
        self.bin, self.tmp, self.port = bindir, tmp, free_port()
        self.data = os.path.join(tmp, "data")
        if os.geteuid() == 0:
            shutil.chown(tmp, "postgres", "postgres")
        subprocess.run(as_pg([self.tool("initdb"), "-D", self.data, "-U", "postgres", "--auth=trust",
                              "-E", "UTF8", "--locale=C"]), check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{tmp}'\n"
                    "max_connections = 50\n")
        subprocess.run(as_pg([self.tool("pg_ctl"), "-D", self.data, "-l", os.path.join(tmp, "server.log"),
                              "-w", "start"]), check=True, stdout=subprocess.DEVNULL)

    def tool(self, name):
        return os.path.join(self.bin, name)

    def psql(self, db, sql):
        return subprocess.run([self.tool("psql"), "-X", "-q", "-At", "-h", self.tmp, "-p", str(self.port),
                               "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-c", sql],
                              check=True, capture_output=True, text=True).stdout

    def stop(self):
        subprocess.run(as_pg([self.tool("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def prepare(side, cluster, db, tmp, binary):
    """The table, made by migration 1 (applied by the side's own tool, so
    schemagate's history knows it), and migration 2, the ALTER measured."""
    cluster.psql("postgres", f"CREATE DATABASE {db}")
    script = os.path.join(tmp, "app.sql")
    with open(script, "w") as f:
        f.write(f"\\set id random(1, {ROWS})\nSELECT v FROM t WHERE id = :id;\n"
                "UPDATE t SET v = v + 1 WHERE id = :id;\n")
    migrations = os.path.join(tmp, f"migrations-{db}")
    os.makedirs(migrations)
    with open(os.path.join(migrations, "0001_t.sql"), "w") as f:
        f.write(f"CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL DEFAULT 0);\n"
                f"INSERT INTO t SELECT g, 0 FROM generate_series(1, {ROWS}) g;\n")
    if side == "schemagate":
        env = {**os.environ, "DATABASE_URL": url(cluster, db), "SCHEMAGATE_MIGRATIONS_DIR": migrations,
               "SCHEMAGATE_TERMINATION_LOG": ""}
        subprocess.run([binary, "run"], env=env, check=True, capture_output=True)
    else:
        cluster.psql(db, open(os.path.join(migrations, "0001_t.sql")).read())
    cluster.psql(db, "ANALYZE t")
    with open(os.path.join(migrations, "0002_add_column.sql"), "w") as f:
        f.write("ALTER TABLE t ADD COLUMN c int;\n")
    return script, migrations


def url(cluster, db):
    return f"postgres://postgres@127.0.0.1:{cluster.port}/{db}?sslmode=disable"


def blocker(cluster, db, started):
    """BEGIN; SELECT ... FROM t; then idle in transaction for BLOCK_FOR seconds."""
    p = subprocess.Popen([cluster.tool("psql"), "-X", "-q", "-h", cluster.tmp, "-p", str(cluster.port),
                          "-U", "postgres", "-d", db], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         env={**os.environ, "PGAPPNAME": "blocker"}, text=True)
    p.stdin.write("BEGIN;\nSELECT count(*) FROM t;\n")
    p.stdin.flush()
    started["blocker_start"] = time.time()
    time.sleep(BLOCK_FOR)
    p.stdin.write("COMMIT;\n")
    p.stdin.close()
    p.wait()
    started["blocker_end"] = time.time()


def migrate(side, cluster, db, migrations, binary, result):
    if side == "schemagate":
        argv = [binary, "run"]
        env = {**os.environ, "DATABASE_URL": url(cluster, db), "SCHEMAGATE_MIGRATIONS_DIR": migrations,
               "SCHEMAGATE_TERMINATION_LOG": "", "SCHEMAGATE_DDL_LOCK_TIMEOUT": f"{DDL_LOCK_TIMEOUT}s"}
    else:
        argv = [cluster.tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url(cluster, db), "-f",
                os.path.join(migrations, "0002_add_column.sql")]
        env = dict(os.environ)
    result["start"] = time.time()
    p = subprocess.run(argv, env=env, capture_output=True, text=True)
    result["end"] = time.time()
    result["code"] = p.returncode
    result["log"] = p.stderr


def latencies(prefix, t0, t1):
    """Latencies (s) of the transactions that started in [t0, t1], from pgbench's -l logs."""
    out = []
    for path in glob.glob(prefix + "*"):
        with open(path) as f:
            for line in f:
                parts = line.split()
                lat_us, epoch, us = int(parts[2]), int(parts[4]), int(parts[5])
                end = epoch + us / 1e6
                start = end - lat_us / 1e6
                if t0 <= start <= t1:
                    out.append(lat_us / 1e6)
    return out


def one_side(side, cluster, tmp, binary):
    db = f"bench_{side}"
    script, migrations = prepare(side, cluster, db, tmp, binary)
    prefix = os.path.join(tmp, f"pgbench-{side}")
    pgbench = subprocess.Popen([cluster.tool("pgbench"), "-n", "-c", str(CLIENTS), "-j", "2", "-T",
                                str(int(DURATION)), "-f", script, "-l", f"--log-prefix={prefix}",
                                "-h", cluster.tmp, "-p", str(cluster.port), "-U", "postgres", db],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    marks, result = {}, {}
    time.sleep(BLOCK_AT)
    b = threading.Thread(target=blocker, args=(cluster, db, marks))
    b.start()
    time.sleep(MIGRATE_AT - BLOCK_AT)
    migrate(side, cluster, db, migrations, binary, result)
    b.join()
    pgbench.wait()
    window = latencies(prefix, result["start"], result["end"] + 1.0)
    whole = latencies(prefix, t0, t0 + DURATION + 5)
    added = cluster.psql(db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'c'")
    q = statistics.quantiles(window, n=100) if len(window) >= 2 else [0] * 99
    return {
        "side": side,
        "code": result["code"],
        "applied": added.strip() == "1",
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "max_ms": max(window) * 1000 if window else 0,
        "over_1s": sum(1 for x in window if x > 1.0),
        "transactions": len(window),
        "tps": len(whole) / DURATION,
        "finished_after_blocker_s": result["end"] - marks["blocker_end"],
        "retries": result["log"].count("waited "),
    }


def table(rows):
    lines = ["| side | app p50 | app p99 | app max | waits > 1 s | migration | finished after the blocker ended | DDL retries |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        done = "applied" if r["applied"] and r["code"] == 0 else f"exit {r['code']}"
        lines.append(f"| {r['side']} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.0f} ms | {r['max_ms']:.0f} ms | "
                     f"{r['over_1s']} of {r['transactions']} | {done} | {r['finished_after_blocker_s']:+.2f} s | "
                     f"{r['retries']} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", help="schemagate binary (default: build target/release/schemagate)")
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    binary = args.bin
    if not binary:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
        binary = os.path.join(REPO, "target", "release", "schemagate")
    tmp = tempfile.mkdtemp(prefix="schemagate-ddl-bench-")
    cluster = Cluster(tmp, find_pgbin("pgbench"))
    try:
        rows = [one_side(side, cluster, tmp, binary) for side in ("schemagate", "psql")]
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    text = table(rows)
    print(text)
    ours, base = rows
    ok = (ours["applied"] and ours["max_ms"] <= 2 * DDL_LOCK_TIMEOUT * 1000 and base["max_ms"] >= BLOCK_FOR * 800
          and ours["finished_after_blocker_s"] >= 0)
    print("target met" if ok else "target MISSED")
    if args.update_readme:
        readme = os.path.join(HERE, "README.md")
        with open(readme) as f:
            content = f.read()
        start, end = content.index("<!-- results -->"), content.index("<!-- /results -->")
        stamp = time.strftime("%Y-%m-%d")
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True).stdout.strip()
        block = f"<!-- results -->\nMeasured {stamp}, commit {commit}:\n\n{text}\n\n"
        with open(readme, "w") as f:
            f.write(content[:start] + block + content[end:])
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
