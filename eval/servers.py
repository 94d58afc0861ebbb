"""Real backend servers on loopback, started and stopped around a block.

The tests and the deployment benchmark run the same topology a newsroom would: a Chroma server
(`chroma run`), llama-cpp-python's OpenAI-compatible server with the default GGUF, and any number
of `newsdesk serve` replicas pointed at both.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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
) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server over `model_path`; yields its `/v1` URL."""
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
    if api_key:
        args += ["--api_key", api_key]
    auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with _process(args, f"{url}/models", log_dir / "llm.log", timeout=120, headers=auth):
        yield url


@contextlib.contextmanager
def newsdesk_replica(env: dict[str, str], log: Path, ingest_seeds: bool = False) -> Iterator[str]:
    """One `newsdesk serve` process configured by NEWSDESK_* `env`; yields its base URL."""
    port = free_port()
    args = [str(BIN / "newsdesk"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    args.append("--ingest-seeds" if ingest_seeds else "--no-ingest-seeds")
    url = f"http://127.0.0.1:{port}"
    with _process(args, f"{url}/readyz", log, timeout=180, env=env):
        yield url
