"""A throwaway PostgreSQL server from Debian's `postgresql` package, for tests.

`initdb` makes a cluster in a fresh temporary directory and `pg_ctl` serves it on a Unix socket
in that directory only (no TCP port, so parallel test runs cannot collide), without fsync
(nothing here must survive a power cut). `initdb` refuses to run as root, so under root the
cluster belongs to the `postgres` user the package creates.

Without the binaries the tests that need them are skipped with the reason, except where `CI`
is set: there they fail, so a CI run never passes without having run them (`.ci/run` installs
the package).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "newsdesk"
PORT = 5432  # only names the socket file: the server listens on no TCP port


def pg_bin_dir() -> Path | None:
    """The newest installed server's bin directory (Debian keeps them versioned)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def require_postgres() -> Path:
    """The server binaries, or skip (fail under CI) saying how to install them."""
    bin_dir = pg_bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        reason = "PostgreSQL tests need the server (apt-get install postgresql)"
        if "CI" in os.environ:
            pytest.fail(f"{reason}; CI is set, so they may not be skipped")
        pytest.skip(reason)
    return bin_dir


@dataclass(frozen=True)
class PgServer:
    socket_dir: Path

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{USER}@/{dbname}?host={self.socket_dir}&port={PORT}"

    def create_database(self) -> str:
        """A new empty database; returns its URL. One per test keeps tests independent."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def _as_owner(args: list[str]) -> list[str]:
    """`args` run as the cluster's owner: `postgres` under root, else this user."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _run(args: list[str], log: Path) -> None:
    try:
        subprocess.run(_as_owner(args), check=True, capture_output=True, timeout=120)
    except subprocess.CalledProcessError as exc:
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"{Path(args[0]).name} failed: {exc.stderr!r} {tail}") from exc


@contextlib.contextmanager
def postgres_server(bin_dir: Path) -> Iterator[PgServer]:
    """A running server in a new temporary directory, stopped and deleted after the block."""
    # Short path: a Unix socket's path has a limit of about 100 bytes.
    root = Path(tempfile.mkdtemp(prefix="newsdesk-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, log = root / "data", root / "server.log"
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data)]
    try:
        _run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust"]
            + ["-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            log,
        )
        options = f"-k {root} -p {PORT} -h '' -F -c max_connections=200"
        _run([*pg_ctl, "-o", options, "-l", str(log), "-w", "-t", "60", "start"], log)
        try:
            yield PgServer(root)
        finally:
            _run([*pg_ctl, "-m", "fast", "-w", "stop"], log)
    finally:
        shutil.rmtree(root, ignore_errors=True)
