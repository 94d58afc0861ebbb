"""One process writes a data dir's local vector store; `newsdesk ingest` beside a server
writes through that server.

Chroma's local persistent client keeps each collection's HNSW index in memory and does not
support two processes on one folder. After `newsdesk ingest` wrote beside a running
`newsdesk serve`, the server's in-memory index no longer matched the files on disk, and every
search failed with "Error finding id" until a restart.

Two fixes were possible. (1) The server notices another process's write (a generation counter
in SQLite, checked on each read) and reopens its Chroma client. (2) The CLI sends its writes to
the running server. (1) keeps two processes writing Chroma's files: the server could reload an
index while the CLI is halfway through rewriting it, or flush its own stale copy over the CLI's.
Nothing in Chroma's documentation covers that, so the fix would depend on Chroma internals.
(2) keeps exactly one process on Chroma's files, which is how Chroma is meant to be used. It
costs one HTTP round trip per file, and the server serialises the writes with its own uploads.
So (2) is what this module does.

How a CLI write finds the server. `newsdesk serve` holds `server.lock` in the data dir
exclusively for as long as it runs. The kernel drops an flock when its process dies, even by
SIGKILL, so a crash never leaves a stale claim. The server also writes `server.json`: its URL
and a random token, with mode 0600, so only a user who can read the data dir can ask the
server to read files from disk. `newsdesk ingest` holds the same lock shared while it writes
locally, so a server starting meanwhile waits for it to finish. If the ingest cannot take the
lock, a server owns the data dir, and the ingest sends each file to that server instead.

With NEWSDESK_CHROMA_URL the vectors live on a Chroma server, which many processes may write
(the replicas do). Then nothing is claimed and the CLI writes for itself. Where the record is
(SQLite or NEWSDESK_DATABASE_URL) does not matter here: this guards Chroma's local files only.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from rag.errors import NewsdeskError
from rag.ingest.loading import find_article_files
from rag.ingest.pipeline import IngestReport, item_progress

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one process per data dir is the rule
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "server.lock"
RECORD_FILE = "server.json"
TOKEN_HEADER = "X-Newsdesk-Owner"
_CLAIMS: dict[str, ServerRecord] = {}  # data dirs this process serves, by resolved path


@dataclass(frozen=True)
class ServerRecord:
    url: str
    pid: int
    token: str


def client_url(host: str, port: int) -> str:
    """Where a local client reaches a server bound to `host` (a wildcard means loopback)."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def read_record(data_dir: Path) -> ServerRecord | None:
    try:
        raw = json.loads((data_dir / RECORD_FILE).read_text(encoding="utf-8"))
        return ServerRecord(url=str(raw["url"]), pid=int(raw["pid"]), token=str(raw["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (one owned by another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _open_lock(data_dir: Path) -> int:
    data_dir.mkdir(parents=True, exist_ok=True)
    return os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)


def _try_flock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def serving(
    data_dir: Path, url: str, on_wait: Callable[[str], None] | None = None
) -> Iterator[ServerRecord]:
    """Own `data_dir` for the block: held by `newsdesk serve` around everything it does.

    Another server on the same data dir is refused at once. A `newsdesk ingest` still writing
    is waited for (`on_wait` is told), since its Chroma client must be gone before ours opens.
    """
    record = ServerRecord(url=url, pid=os.getpid(), token=secrets.token_urlsafe(32))
    key = str(data_dir.resolve())
    if fcntl is None:  # pragma: no cover
        _CLAIMS[key] = record
        try:
            yield record
        finally:
            _CLAIMS.pop(key, None)
        return
    fd = _open_lock(data_dir)
    try:
        if not _try_flock(fd, fcntl.LOCK_EX):
            other = read_record(data_dir)
            if other is not None and other.pid != os.getpid() and process_alive(other.pid):
                raise NewsdeskError(
                    f"another newsdesk serve (pid {other.pid}, {other.url}) owns the data dir "
                    f"{data_dir}: stop it, or give this one another --data-dir"
                )
            if on_wait:
                on_wait(f"waiting for a `newsdesk ingest` into {data_dir} to finish …")
            fcntl.flock(fd, fcntl.LOCK_EX)
        path = data_dir / RECORD_FILE
        tmp = path.with_name(f".{RECORD_FILE}.{os.getpid()}")
        fd_rec = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd_rec, "w", encoding="utf-8") as fh:
            json.dump({"url": record.url, "pid": record.pid, "token": record.token}, fh)
        os.replace(tmp, path)
        _CLAIMS[key] = record
        try:
            yield record
        finally:
            _CLAIMS.pop(key, None)
            if read_record(data_dir) == record:
                with contextlib.suppress(OSError):
                    path.unlink()
    finally:
        os.close(fd)


def served_here(data_dir: Path) -> ServerRecord | None:
    """This process's claim on `data_dir`, if it serves it (for checking the owner token)."""
    return _CLAIMS.get(str(Path(data_dir).resolve()))


def token_matches(data_dir: Path, given: str | None) -> bool:
    record = served_here(data_dir)
    return (
        record is not None
        and given is not None
        and hmac.compare_digest(given.encode(), record.token.encode())
    )


@contextlib.contextmanager
def local_or_server(data_dir: Path, wait_s: float = 10.0) -> Iterator[ServerRecord | None]:
    """For a CLI that writes: None while this process may write the data dir itself (holding
    the lock shared, so no server starts meanwhile), or the record of the server that owns it.
    """
    if fcntl is None:  # pragma: no cover
        yield None
        return
    fd = _open_lock(data_dir)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            if _try_flock(fd, fcntl.LOCK_SH):
                yield None
                return
            record = read_record(data_dir)
            if record is not None and process_alive(record.pid):
                yield record
                return
            # A server that has just taken the lock writes its record a moment later.
            if time.monotonic() > deadline:
                raise NewsdeskError(
                    f"the data dir {data_dir} is held by another process ({LOCK_FILE}) that "
                    "names no server: wait for it to finish, then try again"
                )
            time.sleep(0.1)
    finally:
        os.close(fd)


def server_owns(data_dir: Path) -> ServerRecord | None:
    """The running server that owns `data_dir`, if any (a quick look, nothing held)."""
    with local_or_server(data_dir) as record:
        return record


class ServerIngest:
    """`newsdesk ingest` through the server that owns the data dir: the same files, the same
    statuses, and the same removal of files gone from an ingested folder as a local ingest."""

    def __init__(
        self,
        record: ServerRecord,
        api_key: str | None = None,
        start_timeout: float = 600.0,
    ) -> None:
        import httpx

        headers = {TOKEN_HEADER: record.token}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.record = record
        # Reading may take long: the server embeds a big file before it answers.
        self._http = httpx.Client(
            base_url=record.url, headers=headers, timeout=httpx.Timeout(30.0, read=3600.0)
        )
        self._start_timeout = start_timeout

    def wait_until_up(self, on_wait: Callable[[str], None] | None = None) -> None:
        """The server claims the data dir before it loads its model and listens."""
        import httpx

        deadline = time.monotonic() + self._start_timeout
        told = False
        while True:
            try:
                if self._http.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if not process_alive(self.record.pid):
                raise NewsdeskError(f"the server at {self.record.url} stopped; run ingest again")
            if time.monotonic() > deadline:
                raise NewsdeskError(f"the server at {self.record.url} did not start listening")
            if on_wait and not told:
                on_wait(f"waiting for the server at {self.record.url} to start …")
                told = True
            time.sleep(0.5)

    def _post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        import httpx

        try:
            r = self._http.post(path, json=body)
        except httpx.TransportError as exc:
            raise NewsdeskError(f"the server at {self.record.url} failed: {exc}") from exc
        try:
            data = r.json()
        except ValueError:
            data = {}
        if r.status_code == 200:
            return data
        message = (data.get("error") or {}).get("message") or r.text[:200]
        if r.status_code == 401:
            message = f"{message} (set NEWSDESK_API_KEY to the server's key)"
        raise NewsdeskError(f"the server at {self.record.url} refused: {message}")

    def ingest(
        self, paths: list[Path], show_progress: bool = True, console: Console | None = None
    ) -> tuple[IngestReport, int]:
        """Send each file, then the sweep; returns the report and the chunks in the store."""
        files = find_article_files(paths)
        report = IngestReport()
        progress = item_progress("ingest", show_progress, console)
        with progress:
            task = progress.add_task("", total=len(files))
            for path in files:
                progress.update(task, description=path.name)
                got = self._post("/v1/internal/ingest", {"path": str(path.resolve())})
                getattr(report, str(got["status"])).append(str(got["doc_id"]))
                report.chunks_written += int(got["chunks_written"])  # type: ignore[call-overload]
                progress.advance(task)
        swept = self._post("/v1/internal/sweep", {"paths": [str(p.resolve()) for p in paths]})
        report.deleted.extend(str(d) for d in swept["deleted"])  # type: ignore[union-attr]
        return report, int(swept["chunks"])  # type: ignore[call-overload]

    def close(self) -> None:
        self._http.close()


def writer_or_server(
    data_dir: Path, chroma_url: str | None
) -> contextlib.AbstractContextManager[ServerRecord | None]:
    """`local_or_server` for a local vector store; a Chroma server takes many writers."""
    return contextlib.nullcontext(None) if chroma_url else local_or_server(data_dir)
