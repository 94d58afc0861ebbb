"""The record: each document's original text, its units' exact offsets, and the store's settings.

SQLite holds the original article text so every citation can be quoted exactly, even after the
file moves, and it is the commit point of an ingest: every vector in Chroma is derived from
these rows, and `newsdesk reindex` rebuilds them from here. A unit row names its live vector
(`vector_id`), which is how a vector that no row names is told apart and ignored.

`Documents` runs the SQL; the store decides the locks and transactions around it (a swap spans
these tables, the full-text index and the stale-vector log in one transaction).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import NewsdeskError
from rag.ingest.loading import Article

KINDS = ("chunks", "sentences")
DOCS_SCHEMA = """
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
UNIT_SCHEMA = """
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
"""
# Which Chroma collections belong to this data dir, when a Chroma server holds many stores.
META_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# A row's vector id: legacy rows (from before versioned ids) have no version.
_VECTOR_ID_SQL = "CASE WHEN version IS NULL THEN unit_id ELSE unit_id || '@' || version END"
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


UNIT_COLUMNS = 'unit_id, doc_id, idx, start, "end", text, parent_id'
_DOC_COLUMNS = (
    "doc_id, source_file, source_path, content_hash, title, outlet, n_chunks, ingested_at"
)


def document_row(
    article: Article, n_chunks: int, content_hash: str, source_path: str | None
) -> tuple[object, ...]:
    """A documents row in the order of its columns (`_DOC_COLUMNS`, then `text`), written by
    both records, so SQLite and PostgreSQL store the same fields."""
    return (
        article.doc_id,
        article.source_file,
        source_path,
        content_hash,
        article.title,
        article.outlet,
        n_chunks,
        time.time(),
        article.text,
    )


def corpus_version(rows: Iterable[tuple[str, str]]) -> str:
    """A digest of every (doc_id, content_hash), in doc_id order: both records compute it the
    same way, so they agree on one corpus's version."""
    return hashlib.sha256("\n".join(f"{d} {h}" for d, h in rows).encode()).hexdigest()[:16]


def vector_id(unit_id: str, version: str | None) -> str:
    """The Chroma id of a unit row: `unit_id@version`, or the bare unit id for legacy rows."""
    return unit_id if version is None else f"{unit_id}@{version}"


def unit_kind(kind: str) -> str:
    """`kind` if it names a unit table; it is put into SQL and collection names, so anything
    else is refused before it reaches either."""
    if kind not in KINDS:
        raise ValueError(f"unknown unit kind {kind!r}")
    return kind


class Documents:
    """The document and unit tables of one data dir, on the connection the store writes with.

    Reads take the store's lock themselves; the write steps (`replace_units`, `put_document`,
    ...) run inside the transaction the store holds, so they never commit on their own.
    """

    def __init__(self, path: Path, lock: threading.RLock) -> None:
        self._lock = lock
        # WAL: readers in other processes (replicas) never wait for a writer's transaction.
        self.db = sqlite3.connect(path, check_same_thread=False, timeout=30.0)
        # Counts for /readyz read their own connection: under WAL it sees the last commit and
        # never waits for `_lock`, which a big document's swap holds for a while.
        self._count_db = sqlite3.connect(path, check_same_thread=False, timeout=30.0)
        self._count_lock = threading.Lock()

    def migrate(self) -> None:
        """Data dirs from before versioned vector ids: add the column, keep every row."""
        for kind in KINDS:
            columns = {r[1] for r in self.db.execute(f"PRAGMA table_info({kind})")}
            if "version" not in columns:
                self.db.execute(f"ALTER TABLE {kind} ADD COLUMN version TEXT")

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock, self.db:
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # ---- documents -------------------------------------------------------------------------

    def get_documents(self, doc_ids: Iterable[str]) -> dict[str, DocumentRecord]:
        ids = sorted(set(doc_ids))
        if not ids:
            return {}
        with self._lock:
            rows = self.db.execute(
                f"SELECT {_DOC_COLUMNS} FROM documents"
                f" WHERE doc_id IN ({','.join('?' * len(ids))})",
                ids,
            ).fetchall()
        return {r[0]: DocumentRecord(*r) for r in rows}

    def list_documents(self) -> list[DocumentRecord]:
        with self._lock:
            rows = self.db.execute(
                f"SELECT {_DOC_COLUMNS} FROM documents ORDER BY doc_id"
            ).fetchall()
        return [DocumentRecord(*r) for r in rows]

    def version(self) -> str:
        """A digest of every document's id and content hash: it changes with any upload,
        re-upload or delete, whichever process made it. Read on the counting connection, so it
        sees the last commit without waiting behind a swap in progress."""
        with self._count_lock:
            rows = self._count_db.execute(
                "SELECT doc_id, content_hash FROM documents ORDER BY doc_id"
            ).fetchall()
        return corpus_version(rows)

    def document_text(self, doc_id: str) -> str:
        with self._lock:
            row = self.db.execute(
                "SELECT text FROM documents WHERE doc_id = ?", (doc_id,)
            ).fetchone()
        if row is None:
            raise NewsdeskError(f"unknown document {doc_id!r}")
        return row[0]

    def count(self, kind: str = "chunks") -> int:
        with self._count_lock:
            return int(
                self._count_db.execute(f"SELECT COUNT(*) FROM {unit_kind(kind)}").fetchone()[0]
            )

    # ---- units -----------------------------------------------------------------------------

    def unit_rows(self, kind: str, unit_ids: Iterable[str]) -> list[tuple[Unit, str]]:
        """Units by id with their live vector ids."""
        kind = unit_kind(kind)
        ids = list(dict.fromkeys(unit_ids))
        out: list[tuple[Unit, str]] = []
        with self._lock:
            for lo in range(0, len(ids), _SQL_BATCH):
                batch = ids[lo : lo + _SQL_BATCH]
                rows = self.db.execute(
                    f"SELECT {UNIT_COLUMNS}, version FROM {kind}"
                    f" WHERE unit_id IN ({','.join('?' * len(batch))})",
                    batch,
                ).fetchall()
                out.extend((Unit(*r[:7]), vector_id(r[0], r[7])) for r in rows)
        return out

    def document_units(self, kind: str, doc_id: str) -> list[Unit]:
        with self._lock:
            rows = self.db.execute(
                f"SELECT {UNIT_COLUMNS} FROM {unit_kind(kind)} WHERE doc_id = ? ORDER BY idx",
                (doc_id,),
            ).fetchall()
        return [Unit(*r) for r in rows]

    def vector_ids(self, kind: str, doc_id: str) -> list[str]:
        """The live vector ids of a document's units (the caller holds the store's lock)."""
        return [
            r[0]
            for r in self.db.execute(
                f"SELECT {_VECTOR_ID_SQL} FROM {kind} WHERE doc_id = ?", (doc_id,)
            )
        ]

    # ---- write steps, inside the store's transaction ---------------------------------------

    def replace_units(self, kind: str, doc_id: str, items: Sequence[Unit], version: str) -> None:
        """A document's rows of one kind become `items`, each naming its vector by `version`."""
        self.db.execute(f"DELETE FROM {kind} WHERE doc_id = ?", (doc_id,))
        self.db.executemany(
            f"INSERT INTO {kind} ({UNIT_COLUMNS}, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (u.unit_id, doc_id, u.index, u.start, u.end, u.text, u.parent_id, version)
                for u in items
            ],
        )

    def delete_units(self, kind: str, doc_id: str) -> None:
        self.db.execute(f"DELETE FROM {kind} WHERE doc_id = ?", (doc_id,))

    def put_document(
        self,
        article: Article,
        n_chunks: int,
        content_hash: str,
        source_path: str | None,
    ) -> None:
        self.db.execute(
            f"INSERT OR REPLACE INTO documents ({_DOC_COLUMNS}, text)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            document_row(article, n_chunks, content_hash, source_path),
        )

    def delete_document(self, doc_id: str) -> bool:
        """Whether there was a row to delete."""
        cur = self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return cur.rowcount > 0

    def close(self) -> None:
        with self._lock:
            self.db.close()
        with self._count_lock:
            self._count_db.close()
