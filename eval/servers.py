"""Real backend servers on loopback, started and stopped around a block.

The tests and the deployment benchmark run the same topology a newsroom would: a Chroma server
(`chroma run`), llama-cpp-python's OpenAI-compatible server with the default GGUF, a PostgreSQL
server from Debian's `postgresql` package for the documents, and any number of `newsdesk serve`
replicas pointed at them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from api.server import free_port

BIN = Path(sys.executable).parent


def _wait_ready(
    proc: subprocess.Popen, url: str, log: Path, timeout: float, headers: dict[str, str]
) -> None:
    """Poll `url` until it answers 200; fail with the server's log if it dies or stalls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}:\n{_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def _process(
    args: list[str],
    ready_url: str,
    log: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    try:
        _wait_ready(proc, ready_url, log, timeout, headers or {})
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextlib.contextmanager
def chroma_server(path: Path, log_dir: Path) -> Iterator[str]:
    """`chroma run` persisting to `path`; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [str(BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1"]
    args += ["--port", str(port)]
    with _process(args, f"{url}/api/v2/heartbeat", log_dir / "chroma.log", timeout=60):
        yield url


@contextlib.contextmanager
def llm_server(
    model_path: Path,
    log_dir: Path,
    n_threads: int = 0,
    n_ctx: int = 4096,
    api_key: str | None = None,
    cache: bool = False,
) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server over `model_path`; yields its `/v1` URL.
    `cache` turns on its prompt cache (2 GB of RAM), as deploy/compose.yaml does."""
    from rag.llm.generation import physical_cores

    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    threads = str(n_threads or physical_cores())
    args = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path)]
    args += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx)]
    args += ["--n_threads", threads, "--n_threads_batch", threads, "--n_batch", "512"]
    # Its default cuts a running answer short when another request arrives: with replicas
    # sharing the server, requests must queue instead.
    args += ["--seed", "0", "--verbose", "False", "--interrupt_requests", "False"]
    # Its default also keeps logits for every prompt token, which slows prompt evaluation.
    args += ["--logits_all", "False"]
    if cache:
        args += ["--cache", "True", "--cache_type", "ram", "--cache_size", str(2 << 30)]
    if api_key:
        args += ["--api_key", api_key]
    auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with _process(args, f"{url}/models", log_dir / "llm.log", timeout=120, headers=auth):
        yield url


@contextlib.contextmanager
def newsdesk_process(
    env: dict[str, str], log: Path, ingest_seeds: bool = False
) -> Iterator[tuple[str, subprocess.Popen]]:
    """One `newsdesk serve` process configured by NEWSDESK_* `env`; yields its base URL and
    the process (a test may kill it)."""
    port = free_port()
    args = [str(BIN / "newsdesk"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    args.append("--ingest-seeds" if ingest_seeds else "--no-ingest-seeds")
    url = f"http://127.0.0.1:{port}"
    with _process(args, f"{url}/readyz", log, timeout=180, env=env) as proc:
        yield url, proc


@contextlib.contextmanager
def newsdesk_replica(env: dict[str, str], log: Path, ingest_seeds: bool = False) -> Iterator[str]:
    """One `newsdesk serve` process configured by NEWSDESK_* `env`; yields its base URL."""
    with newsdesk_process(env, log, ingest_seeds) as (url, _):
        yield url


# ---- PostgreSQL -------------------------------------------------------------------------------

PG_USER = "newsdesk"
PG_PORT = 5432  # only names the socket file: the server listens on no TCP port


def pg_bin_dir() -> Path | None:
    """The newest installed server's bin directory (Debian keeps them versioned)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass(frozen=True)
class PgServer:
    socket_dir: Path

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@/{dbname}?host={self.socket_dir}&port={PG_PORT}"

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
    """A throwaway server in a new temporary directory, stopped and deleted after the block.

    `initdb` makes the cluster and `pg_ctl` serves it on a Unix socket in that directory only
    (no TCP port, so parallel runs cannot collide), without fsync (nothing here must survive a
    power cut). `initdb` refuses to run as root, so under root the cluster belongs to the
    `postgres` user the Debian package creates."""
    # Short path: a Unix socket's path has a limit of about 100 bytes.
    root = Path(tempfile.mkdtemp(prefix="newsdesk-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, log = root / "data", root / "server.log"
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data)]
    try:
        _run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust"]
            + ["-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            log,
        )
        options = f"-k {root} -p {PG_PORT} -h '' -F -c max_connections=200"
        _run([*pg_ctl, "-o", options, "-l", str(log), "-w", "-t", "60", "start"], log)
        try:
            yield PgServer(root)
        finally:
            _run([*pg_ctl, "-m", "fast", "-w", "stop"], log)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A new empty database on the server `admin_url` reaches, dropped after the block (with
    any connection still open to it): an evaluation never writes to a newsroom's own store.
    The role needs CREATEDB."""
    import psycopg

    from rag.errors import NewsdeskError
    from rag.index.postgres import connect, shown_url

    name = f"newsdesk_scratch_{uuid.uuid4().hex[:10]}"

    def admin(statement: str) -> None:
        with connect(admin_url) as conn:  # a clear error for a bad or unreachable URL
            conn.autocommit = True
            try:
                conn.execute(statement)
            except psycopg.Error as exc:
                reason = str(exc).strip().splitlines()[0]
                raise NewsdeskError(f"{shown_url(admin_url)}: {reason}") from exc

    admin(f"CREATE DATABASE {name}")
    try:
        yield urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    finally:
        admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
