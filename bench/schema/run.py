#!/usr/bin/env python3
"""Schema verification benchmark: `schemagate verify` against `pg_dump --schema-only`.

    bench/schema/run.py                   # build, measure, print the table
    bench/schema/run.py --update-readme   # ... and write it into bench/schema/README.md

One throwaway PostgreSQL cluster (default durability settings, SCRAM over
127.0.0.1), one database migrated with a generated schema of 1000 tables,
each with 5 columns, a secondary index and a foreign key, and the security
that issue 14 records: a comment, grants on the table and on a column,
row-level security and a policy. `verify` (history check, full catalog
snapshot, diff against schema.json) and `pg_dump --schema-only` run
interleaved against the same database; the table reports medians and the
median of the per-pair ratios. Target: verify at most 0.5x pg_dump (issue 14;
issue 5 asked for 1.0x).

Python 3.8+ standard library only; needs the PostgreSQL server binaries
(initdb, pg_ctl) and pg_dump of the same major version. As root, PostgreSQL
runs as user postgres through runuser.
"""

import argparse
import datetime as dt
import glob
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pgtools import as_pg, find_pgbin, free_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PASSWORD = "bench-pw"
TARGET = 0.5
TABLES = 1000
READER = "bench_reader"


def log(msg):
    print(f"[bench-schema {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Cluster:
    def __init__(self, tmp, pgbin):
        self.pgbin, self.data, self.port = pgbin, os.path.join(tmp, "data"), free_port()
        self.log = os.path.join(tmp, "server.log")
        pw = os.path.join(tmp, "pw")
        with open(pw, "w") as f:
            f.write(PASSWORD)
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "postgres:", tmp], check=True)
        subprocess.run(as_pg([f"{pgbin}/initdb", "-D", self.data, "-U", "postgres", "--auth-local=trust",
                              "--auth-host=scram-sha-256", f"--pwfile={pw}", "-E", "UTF8", "--locale=C"]),
                       check=True, stdout=subprocess.DEVNULL)
        opts = f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={tmp}"
        subprocess.run(as_pg([f"{pgbin}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-o", opts, "start"]),
                       check=True, stdout=subprocess.DEVNULL)
        self.socket_dir = tmp

    def psql(self, sql, db="postgres"):
        subprocess.run([f"{self.pgbin}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir,
                        "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql], check=True)

    def url(self, db):
        return f"postgres://postgres:{PASSWORD}@127.0.0.1:{self.port}/{db}"

    def stop(self):
        subprocess.run(as_pg([f"{self.pgbin}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def version(self):
        out = subprocess.run([f"{self.pgbin}/psql", "-X", "-At", "-h", self.socket_dir, "-p", str(self.port),
                              "-U", "postgres", "-c", "SELECT version()"], capture_output=True, text=True)
        return out.stdout.strip().split(" on ")[0]


def table_sql(i):
    """Table i: 5 columns, a foreign key to table i-1 (the first to itself), an index, a comment,
    grants on the table and a column, row-level security and a policy."""
    t = f"t_{i:04d}"
    parent = f"t_{i - 1:04d}" if i > 1 else t
    return (f"CREATE TABLE {t} (\n"
            f"    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
            f"    parent_id bigint REFERENCES {parent} (id),\n"
            f"    name text NOT NULL,\n"
            f"    amount numeric(12, 2) NOT NULL DEFAULT 0,\n"
            f"    created_at timestamptz NOT NULL DEFAULT now()\n"
            f");\n"
            f"CREATE INDEX {t}_parent_id_idx ON {t} (parent_id);\n"
            f"COMMENT ON TABLE {t} IS 'table {i}';\n"
            f"GRANT SELECT, INSERT ON {t} TO {READER};\n"
            f"GRANT UPDATE (name) ON {t} TO {READER};\n"
            f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;\n"
            f"CREATE POLICY {t}_own ON {t} TO {READER} USING (name = current_user);\n")


def write_migrations(d):
    """Ten migrations of 100 tables each."""
    per_file = 100
    for f in range(TABLES // per_file):
        first = f * per_file + 1
        body = "".join(table_sql(i) for i in range(first, first + per_file))
        with open(os.path.join(d, f"{f + 1:04d}_tables_{first}_to_{first + per_file - 1}.sql"), "w") as out:
            out.write(body)


def timed(argv, env):
    start = time.perf_counter()
    r = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    return elapsed, r.returncode, r.stderr


def build():
    log("cargo build --release --bin schemagate")
    subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "schemagate"], cwd=REPO, check=True)
    return os.path.join(REPO, "target", "release", "schemagate")


def check_exit(what, code, stderr, expected=0):
    if code != expected:
        sys.exit(f"{what} exited {code}, expected {expected}:\n{stderr}")


def measure(cl, sg, pg_dump, mdir, reps):
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": cl.url("bench"),
           "SCHEMAGATE_MIGRATIONS_DIR": mdir, "HOSTNAME": "bench"}
    dump_env = {"PATH": os.environ.get("PATH", ""), "PGPASSWORD": PASSWORD}
    dump = [pg_dump, "--schema-only", "-h", "127.0.0.1", "-p", str(cl.port), "-U", "postgres", "-d", "bench",
            "-f", os.devnull]
    history_only = dict(env, SCHEMAGATE_EXPECTED_SCHEMA="")
    # Warm up both, and make sure verify really compares (and passes).
    _, code, err = timed([sg, "verify"], env)
    check_exit("verify", code, err)
    if "schema matches" not in err:
        sys.exit(f"verify did not compare the schema:\n{err}")
    _, code, err = timed(dump, dump_env)
    check_exit("pg_dump", code, err)
    rows = {"verify": [], "pg_dump": [], "verify_history_only": [], "snapshot": []}
    for _ in range(reps):
        for name, argv, e in (("verify", [sg, "verify"], env), ("pg_dump", dump, dump_env),
                              ("verify_history_only", [sg, "verify"], history_only),
                              ("snapshot", [sg, "snapshot"], env)):
            t, code, err = timed(argv, e)
            check_exit(name, code, err)
            rows[name].append(t)
    return rows


def drift_is_caught(cl, sg, mdir):
    """The benchmarked comparison is real: a dropped index, a dropped policy and a revoked grant fail
    verify, each named."""
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": cl.url("bench"), "SCHEMAGATE_MIGRATIONS_DIR": mdir}
    for drop, restore, line in (
            ("DROP INDEX t_0500_parent_id_idx", "CREATE INDEX t_0500_parent_id_idx ON t_0500 (parent_id)",
             "index public.t_0500_parent_id_idx: missing"),
            ("DROP POLICY t_0500_own ON t_0500",
             f"CREATE POLICY t_0500_own ON t_0500 TO {READER} USING (name = current_user)",
             "policy t_0500_own on public.t_0500: missing"),
            (f"REVOKE SELECT ON t_0500 FROM {READER}", f"GRANT SELECT ON t_0500 TO {READER}",
             f"grant SELECT on public.t_0500 to {READER}: missing")):
        cl.psql(drop, db="bench")
        _, code, err = timed([sg, "verify"], env)
        cl.psql(restore, db="bench")
        check_exit(f"verify after {drop}", code, err, expected=6)
        if line not in err:
            sys.exit(f"verify did not say '{line}':\n{err}")


def report(rows, facts):
    ms = lambda xs: statistics.median(xs) * 1000
    ratios = [v / d for v, d in zip(rows["verify"], rows["pg_dump"])]
    ratio = statistics.median(ratios)
    met = "yes" if ratio <= TARGET else "**NO**"
    lines = [
        f"Measured {facts['when']} by `bench/schema/run.py`: {facts['cores']} cores, {facts['pg']} "
        f"(default durability), Linux {facts['kernel']}, schemagate {facts['commit']}; load average "
        f"{facts['load']} at start; {facts['reps']} interleaved reps per command.",
        "",
        f"Schema: {TABLES} tables, each with 5 columns, a primary key, a foreign key, a secondary index, "
        f"a comment, grants on the table and a column, row-level security and a policy "
        f"({facts['migrations']} migration files); schema.json {facts['json_bytes']:,} bytes.",
        "",
        "| command | median | ratio to pg_dump | target | met |",
        "|---|---|---|---|---|",
        f"| `schemagate verify` (history + snapshot + diff) | {ms(rows['verify']):.0f} ms | {ratio:.2f}x "
        f"(median of per-pair ratios) | <= {TARGET:.1f}x | {met} |",
        f"| `pg_dump --schema-only` | {ms(rows['pg_dump']):.0f} ms | 1.00x | | |",
        f"| `schemagate verify`, SCHEMAGATE_EXPECTED_SCHEMA= (history only) | "
        f"{ms(rows['verify_history_only']):.0f} ms | {ms(rows['verify_history_only']) / ms(rows['pg_dump']):.2f}x | | |",
        f"| `schemagate snapshot` (to stdout) | {ms(rows['snapshot']):.0f} ms | "
        f"{ms(rows['snapshot']) / ms(rows['pg_dump']):.2f}x | | |",
        "",
        "Every run, ms: " + "; ".join(
            f"{k} " + ", ".join(f"{x * 1000:.0f}" for x in v) for k, v in rows.items()) + ".",
        "",
        "Before timing, the script checks that `verify` passes and says `schema matches`, and that after "
        "each of `DROP INDEX t_0500_parent_id_idx`, `DROP POLICY t_0500_own` and `REVOKE SELECT ON t_0500` "
        "it exits 6 naming what changed.",
    ]
    return "\n".join(lines) + "\n"


def update_readme(text):
    path = os.path.join(HERE, "README.md")
    with open(path) as f:
        readme = f.read()
    begin, end = "<!-- results:begin -->\n", "<!-- results:end -->"
    head, rest = readme.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(head + begin + text + end + tail)
    log(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--update-readme", action="store_true")
    ap.add_argument("--binary", help="use this schemagate instead of building target/release/schemagate")
    args = ap.parse_args()
    sg = args.binary or build()
    pgbin = find_pgbin()
    pg_dump = os.path.join(pgbin, "pg_dump")
    load = os.getloadavg()[0]
    tmp = tempfile.mkdtemp(prefix="schemagate-bench-schema-")
    mdir = os.path.join(tmp, "migrations")
    os.mkdir(mdir)
    cl = None
    try:
        # The cluster's directory must be reachable by the postgres user.
        os.chmod(tmp, 0o755)
        os.mkdir(os.path.join(tmp, "pg"))
        cl = Cluster(os.path.join(tmp, "pg"), pgbin)
        cl.psql("CREATE DATABASE bench")
        cl.psql(f"CREATE ROLE {READER}")
        write_migrations(mdir)
        env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": cl.url("bench"), "SCHEMAGATE_MIGRATIONS_DIR": mdir}
        log(f"applying {TABLES} tables")
        _, code, err = timed([sg, "run"], env)
        check_exit("run", code, err)
        _, code, err = timed([sg, "snapshot", "--output", os.path.join(mdir, "schema.json")], env)
        check_exit("snapshot", code, err)
        drift_is_caught(cl, sg, mdir)
        log(f"measuring, {args.reps} reps")
        rows = measure(cl, sg, pg_dump, mdir, args.reps)
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        facts = {"when": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "cores": os.cpu_count(),
                 "pg": cl.version(), "kernel": platform.release(), "commit": commit, "load": f"{load:.2f}",
                 "reps": args.reps, "migrations": len(glob.glob(os.path.join(mdir, "*.sql"))),
                 "json_bytes": os.path.getsize(os.path.join(mdir, "schema.json"))}
        text = report(rows, facts)
        print(text)
        if args.update_readme:
            update_readme(text)
    finally:
        if cl:
            cl.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
