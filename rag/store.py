"""Where documents live: SQLite for text, metadata and the lexical index; Chroma for vectors.

SQLite holds the original article text (so every citation can be quoted exactly, even after the
file moves) and is the commit point of an ingest: a document's row is written last, after its
vectors, so a crash mid-ingest leaves a hash mismatch that the next ingest repairs.
Chroma's local mode has no sparse index, so the lexical (FTS5/BM25) index lives in SQLite too.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import NewsdeskError
from rag.loading import Article

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
    parent_id TEXT
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


class Store:
    """One open handle on the data dir; reuse it for the life of the process."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NewsdeskError(f"cannot create data dir {self.data_dir}: {exc}") from exc
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.data_dir / "documents.sqlite3", check_same_thread=False)
        self._db.executescript(_DOCS_SCHEMA + "".join(_UNIT_SCHEMA.format(kind=k) for k in KINDS))
        self._db.commit()

        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self._chroma = chromadb.PersistentClient(
            path=str(self.data_dir / "chroma"),
            settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
        )
        self._collections = {
            kind: self._chroma.get_or_create_collection(
                kind, embedding_function=None, metadata={"hnsw:space": "cosine"}
            )
            for kind in KINDS
        }

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
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM {_kind(kind)}").fetchone()[0])

    def count_vectors(self, kind: str = "chunks") -> int:
        return int(self._collections[_kind(kind)].count())

    def replace_document(
        self,
        article: Article,
        units: dict[str, Sequence[Unit]],
        embeddings: dict[str, np.ndarray],
        content_hash: str,
        source_path: str | None,
    ) -> None:
        """Swap a document's units for new ones; vectors first, the SQLite row last."""
        doc_id = article.doc_id
        with self._lock:
            for kind in KINDS:
                collection = self._collections[kind]
                collection.delete(where={"doc_id": doc_id})
                items = list(units.get(kind, ()))
                for lo in range(0, len(items), 1000):
                    batch = items[lo : lo + 1000]
                    collection.add(
                        ids=[u.unit_id for u in batch],
                        embeddings=embeddings[kind][lo : lo + len(batch)].tolist(),
                        metadatas=[{"doc_id": doc_id, "index": u.index} for u in batch],
                    )
            with self._db:
                for kind in KINDS:
                    self._db.execute(f"DELETE FROM {kind} WHERE doc_id = ?", (doc_id,))
                    self._db.executemany(
                        f"INSERT INTO {kind} ({_UNIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [
                            (u.unit_id, doc_id, u.index, u.start, u.end, u.text, u.parent_id)
                            for u in units.get(kind, ())
                        ],
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

    def delete_document(self, doc_id: str) -> bool:
        with self._lock:
            for collection in self._collections.values():
                collection.delete(where={"doc_id": doc_id})
            with self._db:
                for kind in KINDS:
                    self._db.execute(f"DELETE FROM {kind} WHERE doc_id = ?", (doc_id,))
                cur = self._db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            return cur.rowcount > 0

    # ---- units -----------------------------------------------------------------------------

    def get_units(self, kind: str, unit_ids: Iterable[str]) -> dict[str, Unit]:
        ids = list(unit_ids)
        if not ids:
            return {}
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_UNIT_COLUMNS} FROM {_kind(kind)}"
                f" WHERE unit_id IN ({','.join('?' * len(ids))})",
                ids,
            ).fetchall()
        return {r[0]: Unit(*r) for r in rows}

    def document_units(self, kind: str, doc_id: str) -> list[Unit]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_UNIT_COLUMNS} FROM {_kind(kind)} WHERE doc_id = ? ORDER BY idx",
                (doc_id,),
            ).fetchall()
        return [Unit(*r) for r in rows]

    def embeddings(self, kind: str, unit_ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not unit_ids:
            return {}
        with self._lock:
            got = self._collections[_kind(kind)].get(ids=list(unit_ids), include=["embeddings"])
        return {
            uid: np.asarray(vec, dtype=np.float32)
            for uid, vec in zip(got["ids"], got["embeddings"], strict=True)
        }

    def dense_search(
        self,
        kind: str,
        embedding: np.ndarray,
        k: int,
        doc_ids: Sequence[str] | None = None,
        with_embeddings: bool = False,
    ) -> list[Hit]:
        """Nearest units by cosine similarity (1 - Chroma's cosine distance)."""
        collection = self._collections[_kind(kind)]
        # SQLite's row count is ~100x cheaper than Chroma's count(); vectors are written before
        # rows and deleted with them, so it never exceeds the number of vectors.
        n = self.count(kind)
        if n == 0 or k <= 0:
            return []
        where = {"doc_id": {"$in": list(doc_ids)}} if doc_ids else None
        include = ["distances", "embeddings"] if with_embeddings else ["distances"]
        with self._lock:
            result = collection.query(
                query_embeddings=[embedding.tolist()],
                n_results=min(k, n),
                where=where,
                include=include,
            )
        ids = result["ids"][0]
        distances = result["distances"][0]
        vectors = result["embeddings"][0] if with_embeddings else [None] * len(ids)
        records = self.get_units(kind, ids)
        return [
            Hit(
                records[uid],
                1.0 - float(dist),
                None if vec is None else np.asarray(vec, dtype=np.float32),
            )
            for uid, dist, vec in zip(ids, distances, vectors, strict=True)
            if uid in records
        ]

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


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown unit kind {kind!r}")
    return kind
