"""Where documents live: SQLite for text, metadata and the lexical index; Chroma for vectors.

SQLite holds the original article text (so every citation can be quoted exactly, even after the
file moves) and is the commit point of an ingest. Chroma's local mode has no sparse index, so the
lexical (FTS5/BM25) index lives in SQLite too.

Replacing a document is atomic for readers and survives a crash at any point:

* Vector ids carry the document version (`unit_id@version`, version = content hash prefix), so a
  new version's vectors are written next to the old ones instead of over them. A unit row names
  its live vector; a vector no row names is ignored by every search.
* `stale_vectors` is a write-ahead log of vectors that are not live: new ones are listed before
  they are written, old ones from the moment their rows go until they are deleted from Chroma.
  Opening the store deletes whatever is listed there, which repairs a crash at any point.
* The switch from old to new is one SQLite transaction (`Store._swap`) taken under the write side
  of a read/write lock; a query wrapped in `Store.reading()` therefore sees one version throughout.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np

from rag.errors import NewsdeskError, StoreUnavailable
from rag.index.interprocess import file_lock
from rag.ingest.loading import Article

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

COLLECTION = "chunks"
KINDS = ("chunks", "sentences")
_DOCS_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    source_file TEXT NOT NULL,
    source_path TEXT,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    outlet TEXT,
    text TEXT NOT NULL,
    n_chunks INTEGER NOT NULL,
    ingested_at REAL NOT NULL
);
"""
# Chunks (what the issue calls passages of 60-200 words) and sentences share one shape.
_UNIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS {kind} (
    rowid INTEGER PRIMARY KEY,
    unit_id TEXT UNIQUE NOT NULL,
    doc_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    parent_id TEXT,
    version TEXT
);
CREATE INDEX IF NOT EXISTS {kind}_doc ON {kind}(doc_id, idx);
CREATE VIRTUAL TABLE IF NOT EXISTS {kind}_fts USING fts5(
    text, content='{kind}', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS {kind}_ai AFTER INSERT ON {kind} BEGIN
    INSERT INTO {kind}_fts(rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER IF NOT EXISTS {kind}_ad AFTER DELETE ON {kind} BEGIN
    INSERT INTO {kind}_fts({kind}_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
"""
# Vectors in Chroma that no unit row names: not yet committed, or retired and not yet deleted.
_STALE_SCHEMA = """
CREATE TABLE IF NOT EXISTS stale_vectors (
    kind TEXT NOT NULL,
    vector_id TEXT NOT NULL,
    PRIMARY KEY (kind, vector_id)
);
"""
# Which Chroma collections belong to this data dir, when a Chroma server holds many stores.
_META_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# A row's vector id: legacy rows (from before versioned ids) have no version.
_VECTOR_ID_SQL = "CASE WHEN version IS NULL THEN unit_id ELSE unit_id || '@' || version END"
_BATCH = 1000  # ids per Chroma read
# Vectors per Chroma write. Chroma serialises a query behind a write in flight, and inserting a
# vector into the denser graph (HNSW_METADATA) costs a few ms: 8 keep that wait to tens of ms
# where 1,000 made it seconds. A write batch also waits (up to _GIVE_WAY_S) for the queries in
# flight to finish, so a search rarely meets a batch, and a stream of queries cannot starve it.
_WRITE_BATCH = 8
_GIVE_WAY_S = 0.25
# Chroma holds the GIL while it writes, so every thread of the process (the event loop too)
# stalls for each batch. While queries keep coming (one in the last _BUSY_S), a writer rests
# _REST_FACTOR times as long as its last batch took, so it gets about a seventh of the time.
# With 3 the search p95 during a big upload was 4x idle; with 6 it was 1.9x
# (`scripts/upload_bench.py`). With no queries the writer runs at full speed.
_BUSY_S = 1.0
_REST_FACTOR = 6.0
_SQL_BATCH = 500  # ids per SQLite IN (...) list


@dataclass(frozen=True)
class DocumentRecord:
    doc_id: str
    source_file: str
    source_path: str | None
    content_hash: str
    title: str
    outlet: str | None
    n_chunks: int
    ingested_at: float


@dataclass(frozen=True)
class Unit:
    """A chunk or a sentence: an exact span [start, end) of one document's original text."""

    unit_id: str
    doc_id: str
    index: int
    start: int
    end: int
    text: str
    parent_id: str | None = None  # for a sentence, the first chunk that holds it


@dataclass(frozen=True)
class Hit:
    unit: Unit
    score: float
    embedding: np.ndarray | None = None


_UNIT_COLUMNS = 'unit_id, doc_id, idx, start, "end", text, parent_id'
_DOC_COLUMNS = (
    "doc_id, source_file, source_path, content_hash, title, outlet, n_chunks, ingested_at"
)


def vector_id(unit_id: str, version: str | None) -> str:
    """The Chroma id of a unit row: `unit_id@version`, or the bare unit id for legacy rows."""
    return unit_id if version is None else f"{unit_id}@{version}"


class ReadWriteLock:
    """Many readers at once or one writer; a waiting writer holds off new readers.

    A thread that already reads may read again without waiting (so a nested helper cannot
    deadlock behind a waiting writer); a thread that reads must not ask to write.
    """

    def __init__(self, lock_file: Path | None = None) -> None:
        self._file = lock_file  # when set, the same exclusion holds across processes
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0
        self._local = threading.local()
        self.last_read = 0.0  # time.monotonic() when a reader last came in

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self.last_read = time.monotonic()
            with self._cond:
                while self._writing or self._writers_waiting:
                    self._cond.wait()
                self._readers += 1
        self._local.depth = depth + 1
        try:
            with self._across_processes(shared=True) if depth == 0 else contextlib.nullcontext():
                yield
        finally:
            self._local.depth = depth
            if depth == 0:
                with self._cond:
                    self._readers -= 1
                    if self._readers == 0:
                        self._cond.notify_all()

    def readers_idle(self, timeout: float) -> None:
        """Wait until no thread of this process reads, or `timeout` seconds pass."""
        with self._cond:
            self._cond.wait_for(lambda: self._readers == 0, timeout)

    def _across_processes(self, shared: bool) -> contextlib.AbstractContextManager[None]:
        return file_lock(self._file, shared) if self._file else contextlib.nullcontext()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        if getattr(self._local, "depth", 0):
            raise RuntimeError("cannot write to the store from inside Store.reading()")
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            with self._across_processes(shared=False):
                yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


# Handles on the same data dir in one process share their locks, so a second handle's startup
# repair never deletes the vectors of an ingest that the first one has in flight.
_DIR_LOCKS: dict[str, tuple[threading.Lock, ReadWriteLock]] = {}
_DIR_LOCKS_GUARD = threading.Lock()


def _dir_locks(data_dir: Path) -> tuple[threading.Lock, ReadWriteLock]:
    key = str(data_dir.resolve())
    with _DIR_LOCKS_GUARD:
        if key not in _DIR_LOCKS:
            _DIR_LOCKS[key] = (threading.Lock(), ReadWriteLock(data_dir / "swap.lock"))
        return _DIR_LOCKS[key]


@contextlib.contextmanager
def _writer_lock(thread_lock: threading.Lock, data_dir: Path) -> Iterator[None]:
    """One writer per data dir: threads of this process, then other processes (replicas, CLI).

    Held for a whole ingest or delete and by the startup repair, so a second process opening
    the store never deletes the not-yet-live vectors of a write in flight elsewhere."""
    with thread_lock, file_lock(data_dir / "write.lock"):
        yield


def _chroma_client(data_dir: Path, url: str | None) -> ClientAPI:
    """A Chroma server when `url` is set (shared by replicas), else the store in data_dir."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if not url:
        return chromadb.PersistentClient(path=str(data_dir / "chroma"), settings=settings)
    parsed = urlsplit(url if "://" in url else f"http://{url}")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise StoreUnavailable(f"NEWSDESK_CHROMA_URL {url!r} is not an http(s)://host:port address")
    https = parsed.scheme == "https"
    try:
        client = chromadb.HttpClient(
            host=parsed.hostname,
            port=parsed.port or (443 if https else 8000),
            ssl=https,
            settings=settings,
        )
    except Exception as exc:
        raise StoreUnavailable(f"cannot reach the Chroma server at {url}: {exc}") from exc
    _heartbeat(client, url)
    return client


def _heartbeat(client: ClientAPI, url: str) -> None:
    try:
        client.heartbeat()
    except Exception as exc:  # chromadb wraps transport errors in several types
        raise StoreUnavailable(f"cannot reach the Chroma server at {url}: {exc}") from exc


class Store:
    """One open handle on the data dir; reuse it for the life of the process.

    Writers (`replace_document`, `delete_document`) are serialised; readers never wait for a
    writer's embedding or Chroma work, only for the short SQLite swap.
    """

    def __init__(
        self, data_dir: Path, chroma_url: str | None = None, check_vectors: bool = True
    ) -> None:
        """`check_vectors=False` opens a store whose vectors are lost, for `newsdesk reindex`."""
        self.data_dir = Path(data_dir)
        self.chroma_url = chroma_url
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NewsdeskError(f"cannot create data dir {self.data_dir}: {exc}") from exc
        self._lock = threading.RLock()
        self._thread_writer, self._rw = _dir_locks(self.data_dir)
        # WAL: readers in other processes (replicas) never wait for a writer's transaction.
        self._db = sqlite3.connect(
            self.data_dir / "documents.sqlite3", check_same_thread=False, timeout=30.0
        )
        # Counts for /readyz read their own connection: under WAL it sees the last commit and
        # never waits for `_lock`, which a big document's swap holds for a while.
        self._count_db = sqlite3.connect(
            self.data_dir / "documents.sqlite3", check_same_thread=False, timeout=30.0
        )
        self._count_lock = threading.Lock()
        with self._writing():
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(
                _DOCS_SCHEMA
                + "".join(_UNIT_SCHEMA.format(kind=k) for k in KINDS)
                + _STALE_SCHEMA
                + _META_SCHEMA
            )
            self._migrate()
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)",
                (uuid.uuid4().hex[:16],),
            )
            self._db.commit()
        self.store_id = self._db.execute(
            "SELECT value FROM meta WHERE key = 'store_id'"
        ).fetchone()[0]

        self._chroma = _chroma_client(self.data_dir, chroma_url)
        try:
            self._collections = {
                kind: self._chroma.get_or_create_collection(
                    self.collection_name(kind),
                    embedding_function=None,
                    metadata=HNSW_METADATA,
                )
                for kind in KINDS
            }
        except Exception as exc:
            if chroma_url is None:
                raise
            raise StoreUnavailable(f"the Chroma server at {chroma_url} failed: {exc}") from exc
        if check_vectors:
            self._check_vectors_present()
        self._recover()

    def _check_vectors_present(self) -> None:
        """Rows without their vectors (a deleted Chroma folder, a server that lost its data or
        another vector store) would make searches silently miss: refuse, naming the fix."""
        from rag.ingest.reindex import vector_store_problem

        problem = vector_store_problem(self)
        if problem:
            raise StoreUnavailable(problem)

    def collection_name(self, kind: str) -> str:
        """Local stores keep the plain names; on a shared Chroma server each data dir (and all
        the replicas sharing it) gets its own pair, so two deployments never mix vectors."""
        if self.chroma_url is None:
            return kind
        return f"newsdesk-{self.store_id}-{kind}"

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def reset_vectors(self) -> None:
        """Start this data dir's collections empty (rows stay), for a rebuild by `reindex`."""
        with self._writing(), self._lock:
            for kind in KINDS:
                name = self.collection_name(kind)
                with contextlib.suppress(Exception):  # a lost store may not have it any more
                    self._chroma.delete_collection(name)
                self._collections[kind] = self._chroma.get_or_create_collection(
                    name, embedding_function=None, metadata=HNSW_METADATA
                )
            with self._db:
                self._db.execute("DELETE FROM stale_vectors")

    def ping(self) -> None:
        """Raise `StoreUnavailable` unless the vector store answers (a server can go away)."""
        if self.chroma_url is not None:
            _heartbeat(self._chroma, self.chroma_url)

    def _writing(self) -> contextlib.AbstractContextManager[None]:
        return _writer_lock(self._thread_writer, self.data_dir)

    def _migrate(self) -> None:
        """Data dirs from before versioned vector ids: add the column, keep every row."""
        for kind in KINDS:
            columns = {r[1] for r in self._db.execute(f"PRAGMA table_info({kind})")}
            if "version" not in columns:
                self._db.execute(f"ALTER TABLE {kind} ADD COLUMN version TEXT")

    def _recover(self) -> None:
        """Delete the vectors a crashed (or failed) write left behind; live ones are untouched."""
        with self._writing(), self._lock:
            rows = self._db.execute("SELECT kind, vector_id FROM stale_vectors").fetchall()
            if not rows:
                return
            stale: dict[str, list[str]] = {kind: [] for kind in KINDS}
            for kind, vid in rows:
                if kind in stale:
                    stale[kind].append(vid)
            self._delete_vectors(stale, batch=_BATCH)  # no query runs yet: large batches
            with self._db:
                self._db.execute("DELETE FROM stale_vectors")

    @contextlib.contextmanager
    def reading(self) -> Iterator[Store]:
        """Hold for a whole query: every call inside sees the same version of each document.

        Readers run concurrently; a document swap waits for them (and new readers wait for a
        waiting swap). Do not ingest or delete from inside this block.
        """
        with self._rw.read():
            yield self

    # ---- documents -------------------------------------------------------------------------

    def get_document(self, doc_id: str) -> DocumentRecord | None:
        return self.get_documents([doc_id]).get(doc_id)

    def get_documents(self, doc_ids: Iterable[str]) -> dict[str, DocumentRecord]:
        ids = sorted(set(doc_ids))
        if not ids:
            return {}
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_DOC_COLUMNS} FROM documents"
                f" WHERE doc_id IN ({','.join('?' * len(ids))})",
                ids,
            ).fetchall()
        return {r[0]: DocumentRecord(*r) for r in rows}

    def list_documents(self) -> list[DocumentRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_DOC_COLUMNS} FROM documents ORDER BY doc_id"
            ).fetchall()
        return [DocumentRecord(*r) for r in rows]

    def doc_ids_for_outlets(self, outlets: Sequence[str]) -> list[str]:
        wanted = [o.lower() for o in outlets]
        return [d.doc_id for d in self.list_documents() if (d.outlet or "").lower() in wanted]

    def document_text(self, doc_id: str) -> str:
        with self._lock:
            row = self._db.execute(
                "SELECT text FROM documents WHERE doc_id = ?", (doc_id,)
            ).fetchone()
        if row is None:
            raise NewsdeskError(f"unknown document {doc_id!r}")
        return row[0]

    def count_chunks(self) -> int:
        return self.count("chunks")

    def count(self, kind: str = "chunks") -> int:
        with self._count_lock:
            return int(self._count_db.execute(f"SELECT COUNT(*) FROM {_kind(kind)}").fetchone()[0])

    def give_way(self, spent: float = 0.0) -> None:
        """Called by a writer between batches (`spent`: seconds the last one took): let the
        queries in flight finish, and while queries keep coming, rest a while."""
        self._rw.readers_idle(_GIVE_WAY_S)
        if spent and time.monotonic() - self._rw.last_read < _BUSY_S:
            time.sleep(min(spent * _REST_FACTOR, 0.5))

    def count_vectors(self, kind: str = "chunks") -> int:
        """Vectors in Chroma, live or not (equals `count(kind)` when no write is in flight)."""
        return int(self._collections[_kind(kind)].count())

    def stale_count(self, kind: str = "chunks") -> int:
        """Vectors listed as not live: an upper bound on Chroma's vectors that no row names."""
        with self._lock:
            return int(
                self._db.execute(
                    "SELECT COUNT(*) FROM stale_vectors WHERE kind = ?", (_kind(kind),)
                ).fetchone()[0]
            )

    def replace_document(
        self,
        article: Article,
        units: dict[str, Sequence[Unit]],
        embeddings: dict[str, np.ndarray],
        content_hash: str,
        source_path: str | None,
    ) -> None:
        """Swap a document's units for new ones, atomically for readers and crash-safely.

        (a) list the new vector ids as stale, (b) write the new vectors next to the old ones,
        (c) `_swap` the rows in one transaction under the write lock, (d) `_retire` the old
        vectors. A crash before (c) commits leaves the old version; after, the new one. Either
        way the next open deletes the leftovers that `stale_vectors` lists.
        """
        doc_id = article.doc_id
        version = content_hash[:12]
        new_ids = {
            kind: [vector_id(u.unit_id, version) for u in units.get(kind, ())] for kind in KINDS
        }
        with self._writing():
            with self._lock:
                live = {kind: set(self._doc_vector_ids(kind, doc_id)) for kind in KINDS}
            # Re-ingesting the live version reuses its ids: those are overwritten in place by
            # the upsert and must never be listed as stale (recovery would delete live vectors).
            pending = {kind: [v for v in new_ids[kind] if v not in live[kind]] for kind in KINDS}
            self._mark_stale(pending)  # (a)
            try:
                self._write_vectors(doc_id, version, units, embeddings)  # (b)
                retired = self._swap(article, units, version, content_hash, source_path)  # (c)
            except BaseException:
                # Drop the new vectors now unless the swap committed (the next open would anyway).
                with contextlib.suppress(Exception):
                    self._drop_vectors(self._still_stale(pending))
                raise
            self._retire(doc_id, retired)  # (d)

    def delete_document(self, doc_id: str) -> bool:
        with self._writing():
            retired, existed = self._unlink(doc_id)
            self._retire(doc_id, retired)
        return existed

    # ---- write steps -----------------------------------------------------------------------

    def _doc_vector_ids(self, kind: str, doc_id: str) -> list[str]:
        return [
            r[0]
            for r in self._db.execute(
                f"SELECT {_VECTOR_ID_SQL} FROM {kind} WHERE doc_id = ?", (doc_id,)
            )
        ]

    def _still_stale(self, ids: dict[str, Sequence[str]]) -> dict[str, list[str]]:
        with self._lock:
            listed = {
                (kind, vid)
                for kind, vid in self._db.execute("SELECT kind, vector_id FROM stale_vectors")
            }
        return {kind: [v for v in vids if (kind, v) in listed] for kind, vids in ids.items()}

    def _mark_stale(self, ids: dict[str, Sequence[str]]) -> None:
        with self._lock, self._db:
            for kind, vids in ids.items():
                self._db.executemany(
                    "INSERT OR IGNORE INTO stale_vectors (kind, vector_id) VALUES (?, ?)",
                    [(kind, v) for v in vids],
                )

    def _write_vectors(
        self,
        doc_id: str,
        version: str,
        units: dict[str, Sequence[Unit]],
        embeddings: dict[str, np.ndarray],
    ) -> None:
        """Step (b): upsert, so a retry after a crash (or the same version again) cannot clash."""
        for kind in KINDS:
            collection = self._collections[kind]
            items = list(units.get(kind, ()))
            # Not under `_lock`: these vectors are already listed as stale (step (a), under the
            # lock), so a query counting stale vectors over-fetches for them either way.
            spent = 0.0
            for lo in range(0, len(items), _WRITE_BATCH):
                batch = items[lo : lo + _WRITE_BATCH]
                self.give_way(spent)
                began = time.perf_counter()
                collection.upsert(
                    ids=[vector_id(u.unit_id, version) for u in batch],
                    embeddings=embeddings[kind][lo : lo + len(batch)].tolist(),
                    metadatas=[
                        {"doc_id": doc_id, "index": u.index, "version": version} for u in batch
                    ],
                )
                spent = time.perf_counter() - began

    def _swap(
        self,
        article: Article,
        units: dict[str, Sequence[Unit]],
        version: str,
        content_hash: str,
        source_path: str | None,
    ) -> dict[str, list[str]]:
        """Step (c): old rows out, new rows in, in one transaction; returns the retired ids."""
        doc_id = article.doc_id
        retired: dict[str, list[str]] = {}
        with self._rw.write(), self._lock, self._db:
            for kind in KINDS:
                items = list(units.get(kind, ()))
                new_ids = [vector_id(u.unit_id, version) for u in items]
                kept = set(new_ids)
                retired[kind] = [v for v in self._doc_vector_ids(kind, doc_id) if v not in kept]
                self._db.execute(f"DELETE FROM {kind} WHERE doc_id = ?", (doc_id,))
                self._db.executemany(
                    f"INSERT INTO {kind} ({_UNIT_COLUMNS}, version)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (u.unit_id, doc_id, u.index, u.start, u.end, u.text, u.parent_id, version)
                        for u in items
                    ],
                )
                self._db.executemany(
                    "DELETE FROM stale_vectors WHERE kind = ? AND vector_id = ?",
                    [(kind, v) for v in new_ids],
                )
                self._db.executemany(
                    "INSERT OR IGNORE INTO stale_vectors (kind, vector_id) VALUES (?, ?)",
                    [(kind, v) for v in retired[kind]],
                )
            self._db.execute(
                f"INSERT OR REPLACE INTO documents ({_DOC_COLUMNS}, text)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc_id,
                    article.source_file,
                    source_path,
                    content_hash,
                    article.title,
                    article.outlet,
                    len(units.get("chunks", ())),
                    time.time(),
                    article.text,
                ),
            )
        return retired

    def _unlink(self, doc_id: str) -> tuple[dict[str, list[str]], bool]:
        """Step (c) of a delete: the document's rows go, its vector ids become stale."""
        retired: dict[str, list[str]] = {}
        with self._rw.write(), self._lock, self._db:
            for kind in KINDS:
                retired[kind] = self._doc_vector_ids(kind, doc_id)
                self._db.execute(f"DELETE FROM {kind} WHERE doc_id = ?", (doc_id,))
                self._db.executemany(
                    "INSERT OR IGNORE INTO stale_vectors (kind, vector_id) VALUES (?, ?)",
                    [(kind, v) for v in retired[kind]],
                )
            cur = self._db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return retired, cur.rowcount > 0

    def _retire(self, doc_id: str, retired: dict[str, list[str]]) -> None:
        """Step (d): delete vectors no row names any more from Chroma, then forget them.

        Also sweeps the document's orphans (vectors neither live nor listed, which only a crash
        under the old, unversioned scheme could leave).
        """
        ids: dict[str, list[str]] = {}
        for kind in KINDS:
            with self._lock:
                live = set(self._doc_vector_ids(kind, doc_id))
            present = self._collections[kind].get(where={"doc_id": doc_id}, include=[])
            orphans = [v for v in present["ids"] if v not in live]
            ids[kind] = list(dict.fromkeys([*retired.get(kind, ()), *orphans]))
        self._drop_vectors(ids)

    def _drop_vectors(self, ids: dict[str, Sequence[str]]) -> None:
        """Delete from Chroma first, then from the log, so a crash between them is harmless."""
        self._delete_vectors(ids)
        with self._lock, self._db:
            for kind, vids in ids.items():
                self._db.executemany(
                    "DELETE FROM stale_vectors WHERE kind = ? AND vector_id = ?",
                    [(kind, v) for v in vids],
                )

    def _delete_vectors(self, ids: dict[str, Sequence[str]], batch: int = _WRITE_BATCH) -> None:
        for kind, vids in ids.items():
            vids = list(vids)
            # No row names these any more, so no query can return them: no `_lock` needed.
            spent = 0.0
            for lo in range(0, len(vids), batch):
                if batch == _WRITE_BATCH:
                    self.give_way(spent)
                began = time.perf_counter()
                self._collections[kind].delete(ids=vids[lo : lo + batch])
                spent = time.perf_counter() - began

    # ---- units -----------------------------------------------------------------------------

    def get_units(self, kind: str, unit_ids: Iterable[str]) -> dict[str, Unit]:
        return {u.unit_id: u for u, _ in self._unit_rows(kind, unit_ids)}

    def _unit_rows(self, kind: str, unit_ids: Iterable[str]) -> list[tuple[Unit, str]]:
        """Units by id with their live vector ids."""
        kind = _kind(kind)
        ids = list(dict.fromkeys(unit_ids))
        out: list[tuple[Unit, str]] = []
        with self._lock:
            for lo in range(0, len(ids), _SQL_BATCH):
                batch = ids[lo : lo + _SQL_BATCH]
                rows = self._db.execute(
                    f"SELECT {_UNIT_COLUMNS}, version FROM {kind}"
                    f" WHERE unit_id IN ({','.join('?' * len(batch))})",
                    batch,
                ).fetchall()
                out.extend((Unit(*r[:7]), vector_id(r[0], r[7])) for r in rows)
        return out

    def document_units(self, kind: str, doc_id: str) -> list[Unit]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_UNIT_COLUMNS} FROM {_kind(kind)} WHERE doc_id = ? ORDER BY idx",
                (doc_id,),
            ).fetchall()
        return [Unit(*r) for r in rows]

    def embeddings(self, kind: str, unit_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Live vectors by unit id."""
        if not unit_ids:
            return {}
        collection = self._collections[_kind(kind)]
        with self._lock:
            by_vector = {vid: unit.unit_id for unit, vid in self._unit_rows(kind, unit_ids)}
            if not by_vector:
                return {}
            got = collection.get(ids=list(by_vector), include=["embeddings"])
        return {
            by_vector[vid]: np.asarray(vec, dtype=np.float32)
            for vid, vec in zip(got["ids"], got["embeddings"], strict=True)
        }

    def dense_search(
        self,
        kind: str,
        embedding: np.ndarray,
        k: int,
        doc_ids: Sequence[str] | None = None,
        with_embeddings: bool = False,
    ) -> list[Hit]:
        """Nearest live units by cosine similarity (1 - Chroma's cosine distance)."""
        kind = _kind(kind)
        collection = self._collections[kind]
        if k <= 0:
            return []
        where = {"doc_id": {"$in": list(doc_ids)}} if doc_ids else None
        include = ["distances", "embeddings"] if with_embeddings else ["distances"]
        with self._lock:  # one snapshot of rows, log and vectors (writes take this lock too)
            # SQLite counts are ~100x cheaper than Chroma's count(). Every vector is either
            # live (named by a row; written before the row, deleted after it) or listed in
            # stale_vectors, so rows <= vectors <= rows + stale. Over-fetch by the stale count
            # so that hits on vectors no row names cost no live results.
            live = self.count(kind)
            if live == 0:
                return []
            stale = self.stale_count(kind)
            total = live if stale == 0 else min(live + stale, self.count_vectors(kind))
            result = collection.query(
                query_embeddings=[embedding.tolist()],
                n_results=max(1, min(k + stale, total)),
                where=where,
                include=include,
            )
            ids = result["ids"][0]
            candidates = set(ids) | {v.rpartition("@")[0] for v in ids if "@" in v}
            records = {vid: unit for unit, vid in self._unit_rows(kind, candidates)}
        distances = result["distances"][0]
        vectors = result["embeddings"][0] if with_embeddings else [None] * len(ids)
        hits = [
            Hit(
                records[vid],
                1.0 - float(dist),
                None if vec is None else np.asarray(vec, dtype=np.float32),
            )
            for vid, dist, vec in zip(ids, distances, vectors, strict=True)
            if vid in records
        ]
        return hits[:k]

    def lexical_search(
        self, kind: str, query: str, k: int, doc_ids: Sequence[str] | None = None
    ) -> list[Hit]:
        """BM25 over unit text (SQLite FTS5); scores are positive, higher is better."""
        kind = _kind(kind)
        terms = [t for t in re.findall(r"\w+", query.lower()) if len(t) > 1]
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in dict.fromkeys(terms))
        cols = ", ".join(f"u.{c.strip()}" for c in _UNIT_COLUMNS.split(","))
        sql = (
            f"SELECT {cols}, bm25({kind}_fts) AS s FROM {kind}_fts"
            f" JOIN {kind} u ON u.rowid = {kind}_fts.rowid WHERE {kind}_fts MATCH ?"
        )
        params: list[object] = [match]
        if doc_ids:
            sql += f" AND u.doc_id IN ({','.join('?' * len(doc_ids))})"
            params.extend(doc_ids)
        sql += " ORDER BY s LIMIT ?"
        params.append(k)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [Hit(Unit(*r[:7]), -float(r[7])) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
        with self._count_lock:
            self._count_db.close()


# Chroma's defaults (16 links per node, ef 100) left one or two of the seeds' 129 sentence
# vectors unreachable in about two of three fresh builds (the graph differs from build to build),
# so dense search silently missed them and a rebuilt store answered differently. Building with
# 64 links and ef 200, every build tried (six with search ef 200, six with 100) returned the
# exact top 30 for all 98 golden questions. The search ef stays at Chroma's 100: at 10k chunks
# (37k sentence vectors) 200 took retrieval p50 from 119 to 217 ms (`scripts/scale_bench.py`)
# and bought nothing measurable. (Chroma 1.5 keeps no thread count: `hnsw:num_threads` is
# dropped from the configuration.)
HNSW_METADATA = {
    "hnsw:space": "cosine",
    "hnsw:M": 64,
    "hnsw:construction_ef": 200,
    "hnsw:search_ef": 100,
}


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown unit kind {kind!r}")
    return kind
