"""The vectors: a Chroma collection per unit kind, local on disk or on a shared Chroma server.

Vectors are derived data: each is named by a unit row (`documents.vector_id`), and whatever no
row names is ignored. This module talks to Chroma and paces its writes so searches keep moving;
which vectors are live is decided by the rows and the stale-vector log, never here.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

from rag.errors import StoreUnavailable
from rag.index.documents import KINDS, Unit, vector_id
from rag.index.locks import ReadWriteLock

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import GetResult, QueryResult

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

BATCH = 1000  # ids per Chroma read
# Vectors per Chroma write. Chroma serialises a query behind a write in flight, and inserting a
# vector into the denser graph (HNSW_METADATA) costs a few ms: 8 keep that wait to tens of ms
# where 1,000 made it seconds. A write batch also waits (up to _GIVE_WAY_S) for the queries in
# flight to finish, so a search rarely meets a batch, and a stream of queries cannot starve it.
WRITE_BATCH = 8
_GIVE_WAY_S = 0.25
# Chroma holds the GIL while it writes, so every thread of the process (the event loop too)
# stalls for each batch. While queries keep coming (one in the last _BUSY_S), a writer rests
# _REST_FACTOR times as long as its last batch took, so it gets about a seventh of the time.
# With 3 the search p95 during a big upload was 4x idle; with 6 it was 1.9x
# (`scripts/upload_bench.py`). With no queries the writer runs at full speed.
_BUSY_S = 1.0
_REST_FACTOR = 6.0

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


def give_way(rw: ReadWriteLock, spent: float = 0.0) -> None:
    """Called by a writer between batches (`spent`: seconds the last one took): let the
    queries in flight finish, and while queries keep coming, rest a while."""
    rw.readers_idle(_GIVE_WAY_S)
    if spent and time.monotonic() - rw.last_read < _BUSY_S:
        time.sleep(min(spent * _REST_FACTOR, 0.5))


def chroma_client(data_dir: Path, url: str | None) -> ClientAPI:
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
    heartbeat(client, url)
    return client


def heartbeat(client: ClientAPI, url: str) -> None:
    """Raise `StoreUnavailable` unless the Chroma server at `url` answers."""
    try:
        client.heartbeat()
    except Exception as exc:  # chromadb wraps transport errors in several types
        raise StoreUnavailable(f"cannot reach the Chroma server at {url}: {exc}") from exc


class VectorIndex:
    """One data dir's collections, opened (and created if missing) with `HNSW_METADATA`."""

    def __init__(self, data_dir: Path, chroma_url: str | None, store_id: str) -> None:
        self.chroma_url = chroma_url
        self.store_id = store_id
        self.client = chroma_client(data_dir, chroma_url)
        try:
            self.collections: dict[str, Collection] = {
                kind: self.client.get_or_create_collection(
                    self.name(kind),
                    embedding_function=None,
                    metadata=HNSW_METADATA,
                )
                for kind in KINDS
            }
        except Exception as exc:
            if chroma_url is None:
                raise
            raise StoreUnavailable(f"the Chroma server at {chroma_url} failed: {exc}") from exc

    def name(self, kind: str) -> str:
        """Local stores keep the plain names; on a shared Chroma server each data dir (and all
        the replicas sharing it) gets its own pair, so two deployments never mix vectors."""
        if self.chroma_url is None:
            return kind
        return f"newsdesk-{self.store_id}-{kind}"

    def reset(self) -> None:
        """Start every collection empty, for a rebuild from the record."""
        for kind in KINDS:
            name = self.name(kind)
            with contextlib.suppress(Exception):  # a lost store may not have it any more
                self.client.delete_collection(name)
            self.collections[kind] = self.client.get_or_create_collection(
                name, embedding_function=None, metadata=HNSW_METADATA
            )

    def ping(self) -> None:
        """Raise `StoreUnavailable` unless the vector store answers (a server can go away)."""
        if self.chroma_url is not None:
            heartbeat(self.client, self.chroma_url)

    def write(
        self,
        doc_id: str,
        version: str,
        units: dict[str, Sequence[Unit]],
        embeddings: dict[str, np.ndarray],
        pause: Callable[[float], None],
    ) -> None:
        """Upsert in small batches, calling `pause` with the last batch's seconds before each,
        so a retry after a crash (or the same version again) cannot clash and queries keep
        moving."""
        for kind in KINDS:
            collection = self.collections[kind]
            items = list(units.get(kind, ()))
            # Not under the store's lock: these vectors are already listed as stale (under the
            # lock), so a query counting stale vectors over-fetches for them either way.
            spent = 0.0
            for lo in range(0, len(items), WRITE_BATCH):
                batch = items[lo : lo + WRITE_BATCH]
                pause(spent)
                began = time.perf_counter()
                collection.upsert(
                    ids=[vector_id(u.unit_id, version) for u in batch],
                    embeddings=embeddings[kind][lo : lo + len(batch)].tolist(),
                    metadatas=[
                        {"doc_id": doc_id, "index": u.index, "version": version} for u in batch
                    ],
                )
                spent = time.perf_counter() - began

    def delete(
        self,
        ids: dict[str, Sequence[str]],
        pause: Callable[[float], None],
        batch: int = WRITE_BATCH,
    ) -> None:
        """Delete by id; batches of `WRITE_BATCH` pause like writes, larger ones (the repair at
        open, when no query runs yet) do not."""
        for kind, vids in ids.items():
            vids = list(vids)
            # No row names these any more, so no query can return them: no lock needed.
            spent = 0.0
            for lo in range(0, len(vids), batch):
                if batch == WRITE_BATCH:
                    pause(spent)
                began = time.perf_counter()
                self.collections[kind].delete(ids=vids[lo : lo + batch])
                spent = time.perf_counter() - began

    def document_ids(self, kind: str, doc_id: str) -> list[str]:
        """Every vector id Chroma holds for a document, live or not."""
        present = self.collections[kind].get(where={"doc_id": doc_id}, include=[])
        return present["ids"]

    def get(self, kind: str, vids: list[str]) -> GetResult:
        """Chroma's record of these vectors, with their embeddings."""
        return self.collections[kind].get(ids=vids, include=["embeddings"])

    def query(
        self,
        kind: str,
        embedding: np.ndarray,
        n_results: int,
        where: dict[str, Any] | None,
        include: list[str],
    ) -> QueryResult:
        """Chroma's nearest vectors, live or not; the caller keeps the ones a row names."""
        return self.collections[kind].query(
            query_embeddings=[embedding.tolist()],
            n_results=n_results,
            where=where,
            include=include,
        )

    def count(self, kind: str) -> int:
        return int(self.collections[kind].count())
