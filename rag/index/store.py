"""Where documents live: the record (SQLite, or PostgreSQL when configured) for text, metadata
and the lexical index; Chroma for vectors.

`Store` is the one handle every caller uses; its parts each keep one concern:

* `record`: which database holds the record, and how processes sharing it exclude each other.
* `documents`: the record, SQLite's document and unit tables (text, exact offsets, meta).
* `fulltext`: the FTS5/BM25 index over unit text, kept in step by SQLite triggers.
* `postgres`: the same three parts in PostgreSQL, coordinated by its transactions and locks.
* `vectors`: the Chroma collections, local or on a server, and the pacing of their writes.
* `stale_log`: the write-ahead log of vectors that no row names.
* `locks` (with `interprocess`): the read/write lock and the one-writer lock per data dir.

What stays here is what spans them: opening a data dir, and replacing a document atomically for
readers and safely against a crash at any point:

* Vector ids carry the document version (`unit_id@version`, version = content hash prefix), so a
  new version's vectors are written next to the old ones instead of over them. A unit row names
  its live vector; a vector no row names is ignored by every search.
* `stale_vectors` is a write-ahead log of vectors that are not live: new ones are listed before
  they are written, old ones from the moment their rows go until they are deleted from Chroma.
  Opening the store deletes whatever is listed there, which repairs a crash at any point.
* The switch from old to new is one transaction of the record (`Store._swap`) taken under the
  write side of a read/write lock; a query wrapped in `Store.reading()` therefore sees one
  version throughout.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from rag.errors import NewsdeskError, StoreUnavailable
from rag.index.documents import KINDS, DocumentRecord, Hit, Unit, unit_kind, vector_id
from rag.index.record import open_record
from rag.index.vectors import BATCH, VectorIndex, give_way
from rag.ingest.loading import Article


class Store:
    """One open handle on the data dir; reuse it for the life of the process.

    Writers (`replace_document`, `delete_document`) are serialised; readers never wait for a
    writer's embedding or Chroma work, only for the short SQLite swap.
    """

    def __init__(
        self,
        data_dir: Path,
        chroma_url: str | None = None,
        check_vectors: bool = True,
        database_url: str | None = None,
    ) -> None:
        """`check_vectors=False` opens a store whose vectors are lost, for `newsdesk reindex`;
        `database_url` puts the record in PostgreSQL instead of SQLite in the data dir (the
        data dir then holds only a local vector store, if there is one)."""
        self.data_dir = Path(data_dir)
        self.chroma_url = chroma_url
        self.database_url = database_url
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NewsdeskError(f"cannot create data dir {self.data_dir}: {exc}") from exc
        self._record = open_record(self.data_dir, database_url)
        self._lock = self._record.lock
        self._rw = self._record.rw
        self._documents = self._record.documents
        self._fulltext = self._record.fulltext
        self._stale = self._record.stale
        self.store_id = self._record.store_id

        try:
            self._vectors = VectorIndex(self.data_dir, chroma_url, self.store_id)
            if check_vectors:
                self._check_vectors_present()
            self._recover()
        except BaseException:
            self._record.close()
            raise

    def _check_vectors_present(self) -> None:
        """Rows without their vectors (a deleted Chroma folder, a server that lost its data or
        another vector store) would make searches silently miss: refuse, naming the fix."""
        from rag.ingest.reindex import vector_store_problem

        problem = vector_store_problem(self)
        if problem:
            raise StoreUnavailable(problem)

    def collection_name(self, kind: str) -> str:
        """The Chroma collection holding this data dir's vectors of `kind`."""
        return self._vectors.name(kind)

    def get_meta(self, key: str) -> str | None:
        return self._documents.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self._documents.set_meta(key, value)

    def reset_vectors(self) -> None:
        """Start this data dir's collections empty (rows stay), for a rebuild by `reindex`."""
        with self._writing(), self._lock:
            self._vectors.reset()
            self._stale.clear()

    def ping(self) -> None:
        """Raise `StoreUnavailable` unless the vector store and the record's database answer
        (a server can go away)."""
        self._vectors.ping()
        self._record.ping()

    def _writing(self) -> contextlib.AbstractContextManager[None]:
        return self._record.writing()

    def _recover(self) -> None:
        """Delete the vectors a crashed (or failed) write left behind; live ones are untouched."""
        with self._writing(), self._lock:
            stale = self._stale.pending()
            if not stale:
                return
            # No query runs yet: large batches.
            self._vectors.delete(stale, self.give_way, batch=BATCH)
            self._stale.clear()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Store]:
        """Hold for a whole query: every call inside sees the same version of each document.

        Readers run concurrently; a document swap waits for them (and new readers wait for a
        waiting swap). Do not ingest or delete from inside this block.
        """
        with self._record.reading():
            yield self

    # ---- documents -------------------------------------------------------------------------

    def get_document(self, doc_id: str) -> DocumentRecord | None:
        return self.get_documents([doc_id]).get(doc_id)

    def get_documents(self, doc_ids: Iterable[str]) -> dict[str, DocumentRecord]:
        return self._documents.get_documents(doc_ids)

    def list_documents(self) -> list[DocumentRecord]:
        return self._documents.list_documents()

    def doc_ids_for_outlets(self, outlets: Sequence[str]) -> list[str]:
        wanted = [o.lower() for o in outlets]
        return [d.doc_id for d in self.list_documents() if (d.outlet or "").lower() in wanted]

    def document_text(self, doc_id: str) -> str:
        return self._documents.document_text(doc_id)

    def version(self) -> str:
        """Changes whenever any document is added, replaced or deleted."""
        return self._documents.version()

    def count_chunks(self) -> int:
        return self.count("chunks")

    def count(self, kind: str = "chunks") -> int:
        return self._documents.count(kind)

    def give_way(self, spent: float = 0.0) -> None:
        """Called by a writer between batches (`spent`: seconds the last one took): let the
        queries in flight finish, and while queries keep coming, rest a while."""
        give_way(self._rw, spent)

    def count_vectors(self, kind: str = "chunks") -> int:
        """Vectors in Chroma, live or not (equals `count(kind)` when no write is in flight)."""
        return self._vectors.count(unit_kind(kind))

    def stale_count(self, kind: str = "chunks") -> int:
        """Vectors listed as not live: an upper bound on Chroma's vectors that no row names."""
        return self._stale.count(kind)

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
                live = {kind: set(self._documents.vector_ids(kind, doc_id)) for kind in KINDS}
            # Re-ingesting the live version reuses its ids: those are overwritten in place by
            # the upsert and must never be listed as stale (recovery would delete live vectors).
            pending = {kind: [v for v in new_ids[kind] if v not in live[kind]] for kind in KINDS}
            self._stale.mark(pending)  # (a)
            try:
                self._write_vectors(doc_id, version, units, embeddings)  # (b)
                retired = self._swap(article, units, version, content_hash, source_path)  # (c)
            except BaseException:
                # Drop the new vectors now unless the swap committed (the next open would anyway).
                with contextlib.suppress(Exception):
                    self._drop_vectors(self._stale.still_listed(pending))
                raise
            self._retire(doc_id, retired)  # (d)

    def delete_document(self, doc_id: str) -> bool:
        with self._writing():
            retired, existed = self._unlink(doc_id)
            self._retire(doc_id, retired)
        return existed

    # ---- write steps -----------------------------------------------------------------------

    def _write_vectors(
        self,
        doc_id: str,
        version: str,
        units: dict[str, Sequence[Unit]],
        embeddings: dict[str, np.ndarray],
    ) -> None:
        """Step (b): upsert, so a retry after a crash (or the same version again) cannot clash."""
        self._vectors.write(doc_id, version, units, embeddings, self.give_way)

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
        with self._record.swapping():
            for kind in KINDS:
                items = list(units.get(kind, ()))
                new_ids = [vector_id(u.unit_id, version) for u in items]
                kept = set(new_ids)
                retired[kind] = [
                    v for v in self._documents.vector_ids(kind, doc_id) if v not in kept
                ]
                self._documents.replace_units(kind, doc_id, items, version)
                self._stale.delete(kind, new_ids)
                self._stale.insert(kind, retired[kind])
            self._documents.put_document(
                article, len(units.get("chunks", ())), content_hash, source_path
            )
        return retired

    def _unlink(self, doc_id: str) -> tuple[dict[str, list[str]], bool]:
        """Step (c) of a delete: the document's rows go, its vector ids become stale."""
        retired: dict[str, list[str]] = {}
        with self._record.swapping():
            for kind in KINDS:
                retired[kind] = self._documents.vector_ids(kind, doc_id)
                self._documents.delete_units(kind, doc_id)
                self._stale.insert(kind, retired[kind])
            existed = self._documents.delete_document(doc_id)
        return retired, existed

    def _retire(self, doc_id: str, retired: dict[str, list[str]]) -> None:
        """Step (d): delete vectors no row names any more from Chroma, then forget them.

        Also sweeps the document's orphans (vectors neither live nor listed, which only a crash
        under the old, unversioned scheme could leave).
        """
        ids: dict[str, list[str]] = {}
        for kind in KINDS:
            with self._lock:
                live = set(self._documents.vector_ids(kind, doc_id))
            present = self._vectors.document_ids(kind, doc_id)
            orphans = [v for v in present if v not in live]
            ids[kind] = list(dict.fromkeys([*retired.get(kind, ()), *orphans]))
        self._drop_vectors(ids)

    def _drop_vectors(self, ids: dict[str, Sequence[str]]) -> None:
        """Delete from Chroma first, then from the log, so a crash between them is harmless."""
        self._vectors.delete(ids, self.give_way)
        self._stale.forget(ids)

    # ---- units -----------------------------------------------------------------------------

    def get_units(self, kind: str, unit_ids: Iterable[str]) -> dict[str, Unit]:
        return {u.unit_id: u for u, _ in self._documents.unit_rows(kind, unit_ids)}

    def document_units(self, kind: str, doc_id: str) -> list[Unit]:
        return self._documents.document_units(kind, doc_id)

    def embeddings(self, kind: str, unit_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Live vectors by unit id."""
        if not unit_ids:
            return {}
        kind = unit_kind(kind)
        with self._lock:
            by_vector = {
                vid: unit.unit_id for unit, vid in self._documents.unit_rows(kind, unit_ids)
            }
            if not by_vector:
                return {}
            got = self._vectors.get(kind, list(by_vector))
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
        kind = unit_kind(kind)
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
            result = self._vectors.query(
                kind, embedding, max(1, min(k + stale, total)), where, include
            )
            ids = result["ids"][0]
            candidates = set(ids) | {v.rpartition("@")[0] for v in ids if "@" in v}
            records = {vid: unit for unit, vid in self._documents.unit_rows(kind, candidates)}
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
        """BM25 over unit text (SQLite FTS5), or `ts_rank_cd` (PostgreSQL); scores are
        positive, higher is better."""
        return self._fulltext.search(kind, query, k, doc_ids)

    def close(self) -> None:
        self._record.close()
