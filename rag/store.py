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

from rag.chunking import Chunk
from rag.errors import NewsdeskError
from rag.loading import Article

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

COLLECTION = "chunks"
_SCHEMA = """
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
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT UNIQUE NOT NULL,
    doc_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, content='chunks', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
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
class ChunkRecord:
    chunk_id: str
    doc_id: str
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Hit:
    chunk: ChunkRecord
    score: float


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
        self._db.executescript(_SCHEMA)
        self._db.commit()

        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self._chroma = chromadb.PersistentClient(
            path=str(self.data_dir / "chroma"),
            settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
        )
        self._collection = self._chroma.get_or_create_collection(
            COLLECTION, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    # ---- documents -------------------------------------------------------------------------

    def get_document(self, doc_id: str) -> DocumentRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT doc_id, source_file, source_path, content_hash, title, outlet, n_chunks,"
                " ingested_at FROM documents WHERE doc_id = ?",
                (doc_id,),
            ).fetchone()
        return DocumentRecord(*row) if row else None

    def list_documents(self) -> list[DocumentRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_id, source_file, source_path, content_hash, title, outlet, n_chunks,"
                " ingested_at FROM documents ORDER BY doc_id"
            ).fetchall()
        return [DocumentRecord(*r) for r in rows]

    def get_documents(self, doc_ids: Iterable[str]) -> dict[str, DocumentRecord]:
        ids = sorted(set(doc_ids))
        if not ids:
            return {}
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_id, source_file, source_path, content_hash, title, outlet, n_chunks,"
                f" ingested_at FROM documents WHERE doc_id IN ({','.join('?' * len(ids))})",
                ids,
            ).fetchall()
        return {r[0]: DocumentRecord(*r) for r in rows}

    def document_text(self, doc_id: str) -> str:
        with self._lock:
            row = self._db.execute(
                "SELECT text FROM documents WHERE doc_id = ?", (doc_id,)
            ).fetchone()
        if row is None:
            raise NewsdeskError(f"unknown document {doc_id!r}")
        return row[0]

    def count_chunks(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def count_vectors(self) -> int:
        return int(self._collection.count())

    def replace_document(
        self,
        article: Article,
        chunks: Sequence[Chunk],
        embeddings: np.ndarray,
        content_hash: str,
        source_path: str | None,
    ) -> None:
        """Swap a document's chunks for new ones; vectors first, the SQLite row last."""
        with self._lock:
            self._collection.delete(where={"doc_id": article.doc_id})
            if chunks:
                self._collection.add(
                    ids=[c.chunk_id for c in chunks],
                    embeddings=embeddings.tolist(),
                    documents=[c.text for c in chunks],
                    metadatas=[
                        {
                            "doc_id": c.doc_id,
                            "source_file": article.source_file,
                            "title": article.title,
                            "outlet": article.outlet or "",
                            "start": c.start,
                            "end": c.end,
                            "index": c.index,
                        }
                        for c in chunks
                    ],
                )
            with self._db:
                self._db.execute("DELETE FROM chunks WHERE doc_id = ?", (article.doc_id,))
                self._db.executemany(
                    'INSERT INTO chunks (chunk_id, doc_id, idx, start, "end", text)'
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [(c.chunk_id, c.doc_id, c.index, c.start, c.end, c.text) for c in chunks],
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO documents (doc_id, source_file, source_path,"
                    " content_hash, title, outlet, text, n_chunks, ingested_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        article.doc_id,
                        article.source_file,
                        source_path,
                        content_hash,
                        article.title,
                        article.outlet,
                        article.text,
                        len(chunks),
                        time.time(),
                    ),
                )

    def delete_document(self, doc_id: str) -> bool:
        with self._lock:
            self._collection.delete(where={"doc_id": doc_id})
            with self._db:
                self._db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
                cur = self._db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            return cur.rowcount > 0

    # ---- chunks ----------------------------------------------------------------------------

    def get_chunks(self, chunk_ids: Iterable[str]) -> dict[str, ChunkRecord]:
        ids = list(chunk_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f'SELECT chunk_id, doc_id, idx, start, "end", text FROM chunks'
                f" WHERE chunk_id IN ({marks})",
                ids,
            ).fetchall()
        return {r[0]: ChunkRecord(*r) for r in rows}

    def dense_search(
        self, embedding: np.ndarray, k: int, doc_ids: Sequence[str] | None = None
    ) -> list[Hit]:
        """Nearest chunks by cosine similarity (1 - Chroma's cosine distance)."""
        n = self.count_vectors()
        if n == 0:
            return []
        where = None
        if doc_ids:
            where = {"doc_id": {"$in": list(doc_ids)}}
        with self._lock:
            result = self._collection.query(
                query_embeddings=[embedding.tolist()],
                n_results=min(k, n),
                where=where,
                include=["distances"],
            )
        ids = result["ids"][0]
        distances = result["distances"][0] if result.get("distances") else [1.0] * len(ids)
        records = self.get_chunks(ids)
        return [
            Hit(records[cid], 1.0 - float(dist))
            for cid, dist in zip(ids, distances, strict=True)
            if cid in records
        ]

    def lexical_search(
        self, query: str, k: int, doc_ids: Sequence[str] | None = None
    ) -> list[Hit]:
        """BM25 over chunk text (SQLite FTS5); scores are positive, higher is better."""
        terms = [t for t in re.findall(r"\w+", query.lower()) if len(t) > 1]
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        sql = (
            'SELECT c.chunk_id, c.doc_id, c.idx, c.start, c."end", c.text, bm25(chunks_fts) AS s'
            " FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid"
            " WHERE chunks_fts MATCH ?"
        )
        params: list[object] = [match]
        if doc_ids:
            sql += f" AND c.doc_id IN ({','.join('?' * len(doc_ids))})"
            params.extend(doc_ids)
        sql += " ORDER BY s LIMIT ?"
        params.append(k)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [Hit(ChunkRecord(*r[:6]), -float(r[6])) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
