"""Helpers the benchmark scripts share: the server's own binaries, running
them as the postgres user, a free loopback port. Standard library only."""

import glob
import os
import re
import shutil
import socket
import sys


def find_pgbin(tool="initdb"):
    """The highest /usr/lib/postgresql/*/bin that has `tool`, else PATH's:
    the server's own binaries, not Debian's wrappers (/usr/bin/psql is a
    Perl script that adds ~20 ms to every start)."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(re.sub(r"\D", "", d.split("/")[-2]) or 0))
    for d in reversed(dirs):
        if os.path.exists(os.path.join(d, tool)):
            return d
    found = shutil.which(tool)
    if not found:
        sys.exit(f"no PostgreSQL server binaries ({tool}): install postgresql")
    return os.path.dirname(found)


def as_pg(argv):
    """PostgreSQL refuses to run as root."""
    return ["runuser", "-u", "postgres", "--"] + argv if os.geteuid() == 0 else argv


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
