"""Re-uploading a changed document swaps its units atomically, and a killed ingest loses nothing.

Real parts only: Chroma on a tmp dir, the MiniLM embedder, the real ingest; the crash is a real
SIGKILL of a subprocess in the middle of `Store.replace_document`. The tests taking
`backend_settings` run with the record in SQLite and again in PostgreSQL.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag.config import PROJECT_ROOT, Settings
from rag.index.documents import KINDS, vector_id
from rag.index.locks import ReadWriteLock
from rag.index.store import Store
from rag.ingest.loading import Article, parse_article
from rag.ingest.pipeline import article_units, document_hash, ingest_article, pipeline_fingerprint

DOC = "harbour_report"
OTHER = "weather_report"
MARKERS = ("ALPHA", "BETA")


def run_together(*targets: Callable[[], None], timeout: float = 300) -> None:
    """Run each target on its own thread at once, and fail if one has not ended in time."""
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads)


def harbour_text(marker: str) -> str:
    """Every sentence names the version, so any unit shows which version it came from."""
    sentences = [
        f"The {marker} harbour reopened on Monday after three days of storms, officials said.",
        f"Fishing boats returned to the {marker} harbour before noon with their first catch.",
        f"Dock workers at the {marker} harbour cleared fallen cranes and broken pallets.",
        f"The {marker} harbour master said the outer breakwater had held against the waves.",
        f"Ferry services from the {marker} harbour will resume on a reduced timetable.",
        f"Insurers sent assessors to the {marker} harbour to inspect damaged warehouses.",
        f"Residents near the {marker} harbour were told to boil drinking water until Friday.",
        f"The {marker} harbour authority estimated repairs at two million pounds in total.",
        f"Volunteers handed out food to families living along the {marker} harbour front.",
        f"Officials at the {marker} harbour expect cargo traffic to recover within weeks.",
    ]
    return f"{marker} Harbour Reopens After Storm\n" + " ".join(sentences) + "\nSource: Test Wire\n"


OTHER_TEXT = (
    "Heatwave Expected Inland\n"
    "Forecasters warned that temperatures inland could pass thirty five degrees this weekend. "
    "Farmers were advised to move livestock into shade and to check water troughs twice a day. "
    "The national weather office issued an amber warning for the central valleys.\n"
    "Source: Weather Desk\n"
)


def harbour(marker: str) -> Article:
    return parse_article(harbour_text(marker), DOC, f"{DOC}.txt")


def other() -> Article:
    return parse_article(OTHER_TEXT, OTHER, f"{OTHER}.txt")


def markers_in(texts) -> set[str]:
    texts = list(texts)
    return {m for m in MARKERS if any(m in t for t in texts)}


def digest(article: Article, settings: Settings, embedder) -> str:
    return document_hash(article, pipeline_fingerprint(settings, embedder.name))


@pytest.fixture(params=["sqlite", "postgres"])
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """A data dir whose record is SQLite, or a new PostgreSQL database."""
    url = request.getfixturevalue("database_url") if request.param == "postgres" else None
    return Settings(data_dir=tmp_path / "data", database_url=url)


def open_store(settings: Settings) -> Store:
    return Store(settings.data_dir, database_url=settings.database_url)


def chroma_ids(store: Store, kind: str) -> set[str]:
    return set(store._vectors.collections[kind].get(include=[])["ids"])


def sqlite_rows(data_dir: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(data_dir / "documents.sqlite3")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def record_rows(store: Store | Settings, sql: str) -> list[tuple]:
    """Rows read straight from the record's database, past the store's code."""
    if store.database_url:
        import psycopg

        with psycopg.connect(store.database_url) as conn:
            return conn.execute(sql).fetchall()
    return sqlite_rows(store.data_dir, sql)


def live_vector_ids(store: Store, kind: str) -> set[str]:
    return {vector_id(u, v) for u, v in record_rows(store, f"SELECT unit_id, version FROM {kind}")}


def assert_clean(store: Store) -> None:
    """Chroma holds exactly the vectors the unit rows name, and nothing is left to clean up."""
    for kind in KINDS:
        assert store.stale_count(kind) == 0
        assert store.count_vectors(kind) == store.count(kind) > 0
        assert chroma_ids(store, kind) == live_vector_ids(store, kind)


def assert_only_version(store: Store, embedder, marker: str) -> None:
    """Text, units, dense and lexical search for the doc all show `marker` and nothing else."""
    assert markers_in([store.document_text(DOC)]) == {marker}
    vec = embedder.encode_one("Which harbour reopened after the storm?")
    for kind in KINDS:
        units = store.document_units(kind, DOC)
        assert units and markers_in(u.text for u in units) == {marker}
        dense = store.dense_search(kind, vec, 50, [DOC])
        assert len(dense) == len(units)
        assert markers_in(h.unit.text for h in dense) == {marker}
        lexical = store.lexical_search(kind, "ALPHA BETA harbour", 50, [DOC])
        assert len(lexical) == len(units)
        assert markers_in(h.unit.text for h in lexical) == {marker}
        vectors = store.embeddings(kind, [u.unit_id for u in units])
        assert set(vectors) == {u.unit_id for u in units}
    # The other document is never touched by the harbour report's versions.
    assert store.document_units("sentences", OTHER)
    heat = embedder.encode_one("heatwave warning for farmers")
    assert store.dense_search("sentences", heat, 1)[0].unit.doc_id == OTHER


def test_reingest_changed_document_leaves_only_new_version(backend_settings, embedder):
    settings = backend_settings
    store = open_store(settings)
    assert ingest_article(other(), store, embedder, settings)[0] == "added"
    assert ingest_article(harbour("ALPHA"), store, embedder, settings)[0] == "added"
    assert_clean(store)
    alpha_ids = chroma_ids(store, "sentences")

    status, *_ = ingest_article(harbour("BETA"), store, embedder, settings)
    assert status == "updated"
    assert_clean(store)
    assert_only_version(store, embedder, "BETA")
    assert store.lexical_search("sentences", "ALPHA", 50) == []

    # Vector ids carry the version; unit ids (cited in answers) do not.
    version = digest(harbour("BETA"), settings, embedder)[:12]
    got = store._vectors.collections["sentences"].get(where={"doc_id": DOC}, include=["metadatas"])
    assert all(vid.endswith(f"@{version}") for vid in got["ids"])
    assert all(m["version"] == version for m in got["metadatas"])
    assert all("@" not in u.unit_id for u in store.document_units("sentences", DOC))
    assert not {i for i in alpha_ids if i.startswith(DOC)} & chroma_ids(store, "sentences")

    # Back to the first version, then removal: still exact.
    assert ingest_article(harbour("ALPHA"), store, embedder, settings)[0] == "updated"
    assert_clean(store)
    assert_only_version(store, embedder, "ALPHA")
    assert store.delete_document(DOC)
    assert store.document_units("sentences", DOC) == []
    assert store.lexical_search("sentences", "harbour", 50) == []
    assert_clean(store)  # the other document's vectors and rows are all that is left


def test_same_version_again_keeps_its_vectors(backend_settings, embedder):
    """Re-writing the live version reuses its vector ids: upserted in place, never deleted."""
    settings = backend_settings
    store = open_store(settings)
    ingest_article(other(), store, embedder, settings)
    article = harbour("ALPHA")
    ingest_article(article, store, embedder, settings)
    units = article_units(article, settings)
    embeddings = {k: embedder.encode([u.text for u in units[k]]) for k in KINDS}
    content_hash = digest(article, settings, embedder)
    store.replace_document(article, units, embeddings, content_hash, None)
    assert_clean(store)
    assert_only_version(store, embedder, "ALPHA")


def test_failed_vector_write_keeps_old_version(backend_settings, embedder, monkeypatch):
    settings = backend_settings
    store = open_store(settings)
    ingest_article(other(), store, embedder, settings)
    ingest_article(harbour("ALPHA"), store, embedder, settings)
    real = Store._write_vectors

    def write_then_fail(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(Store, "_write_vectors", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        ingest_article(harbour("BETA"), store, embedder, settings)
    monkeypatch.undo()
    assert_clean(store)
    assert_only_version(store, embedder, "ALPHA")
    assert ingest_article(harbour("BETA"), store, embedder, settings)[0] == "updated"
    assert_clean(store)
    assert_only_version(store, embedder, "BETA")


def test_concurrent_queries_see_one_version(backend_settings, embedder):
    settings = backend_settings
    store = open_store(settings)
    ingest_article(other(), store, embedder, settings)
    ingest_article(harbour("ALPHA"), store, embedder, settings)
    vec = embedder.encode_one("ships in the harbour after the storm")
    done = threading.Event()
    failures: list[str] = []
    seen: set[str] = set()
    reads = 0

    def check(what: str, texts: list[str]) -> None:
        found = markers_in(texts)
        if len(found) != 1:
            failures.append(f"{what}: {'nothing' if not found else 'both versions'} ({texts})")
        seen.update(found)

    def writer() -> None:
        try:
            for i in range(10):
                article = harbour("BETA" if i % 2 == 0 else "ALPHA")
                status, *_ = ingest_article(article, store, embedder, settings)
                if status != "updated":
                    failures.append(f"writer: ingest {i} was {status}")
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(f"writer: {exc!r}")
        finally:
            done.set()

    def reader() -> None:
        nonlocal reads
        try:
            while not done.is_set():
                with store.reading():
                    sentences = store.dense_search("sentences", vec, 8, [DOC], True)
                    chunks = store.dense_search("chunks", vec, 3, [DOC])
                    lexical = store.lexical_search("sentences", "harbour", 50, [DOC])
                    text = store.document_text(DOC)
                    ids = [h.unit.unit_id for h in sentences]
                    live = store.embeddings("sentences", ids)
                query = [h.unit.text for h in sentences + chunks + lexical] + [text]
                # A hit is a live unit scored by its own live vector, once: never an old
                # vector that happens to share the unit id (sentence ids repeat across versions).
                if len(set(ids)) != len(ids):
                    failures.append(f"duplicate units: {ids}")
                if not all(np.array_equal(h.embedding, live[h.unit.unit_id]) for h in sentences):
                    failures.append("a hit came from a vector that is not the unit's live one")
                if not (sentences and chunks and lexical):
                    failures.append(f"one query found nothing: {query}")
                check("one query", query)
                # Outside reading() each single call must still see exactly one version.
                alone = store.dense_search("sentences", vec, 8, [DOC])
                check("one dense call", [h.unit.text for h in alone])
                reads += 1
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(f"reader: {exc!r}")

    run_together(writer, reader)
    assert failures == []
    assert reads >= 10 and seen == {"ALPHA", "BETA"}  # the reader really saw both sides
    assert_clean(store)
    assert_only_version(store, embedder, "ALPHA")  # 10 writes: the last one is ALPHA


def test_readers_share_the_lock_and_cannot_write():
    lock = ReadWriteLock()
    both_in = threading.Barrier(2, timeout=10)

    def read() -> None:
        with lock.read():
            both_in.wait()  # only passes when two readers hold the lock at once

    threads = [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not both_in.broken

    # Nested reads in one thread do not wait; writing from inside a read fails fast.
    with lock.read(), lock.read(), pytest.raises(RuntimeError), lock.write():
        pass

    # A waiting writer goes before readers that arrive after it.
    order: list[str] = []
    first_in = threading.Event()

    def long_read() -> None:
        with lock.read():
            first_in.set()
            time.sleep(0.3)
            order.append("reader 1")

    def write() -> None:
        with lock.write():
            order.append("writer")

    def late_read() -> None:
        with lock.read():
            order.append("reader 2")

    r1 = threading.Thread(target=long_read)
    r1.start()
    first_in.wait(5)
    w = threading.Thread(target=write)
    w.start()
    time.sleep(0.1)
    r2 = threading.Thread(target=late_read)
    r2.start()
    for t in (r1, w, r2):
        t.join(timeout=10)
    assert order == ["reader 1", "writer", "reader 2"]


# Runs in a fresh interpreter: ingest ALPHA (and the other doc), then ingest BETA with one step of
# replace_document replaced by SIGKILL. Exits 3 if the kill never came.
KILL_SCRIPT = """
import json, os, signal, sys
from pathlib import Path

from rag.config import Settings
from rag.index.embedding import Embedder
from rag.ingest.pipeline import ingest_article
from rag.ingest.loading import parse_article
from rag.index.store import Store

args = json.loads(sys.argv[1])
settings = Settings(data_dir=Path(args["data_dir"]), database_url=args["database_url"])
embedder = Embedder()
store = Store(settings.data_dir, database_url=settings.database_url)
for doc_id, text in args["before"]:
    ingest_article(parse_article(text, doc_id, doc_id + ".txt"), store, embedder, settings)
setattr(Store, args["step"], lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL))
doc_id, text = args["after"]
ingest_article(parse_article(text, doc_id, doc_id + ".txt"), store, embedder, settings)
sys.exit(3)
"""


@pytest.mark.parametrize("step", ["_swap", "_retire"])
def test_killed_ingest_leaves_one_whole_version(backend_settings, embedder, step):
    settings = backend_settings
    args = {
        "data_dir": str(settings.data_dir),
        "database_url": settings.database_url,
        "step": step,
        "before": [[OTHER, OTHER_TEXT], [DOC, harbour_text("ALPHA")]],
        "after": [DOC, harbour_text("BETA")],
    }
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, json.dumps(args)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]

    # The write-ahead log names what the crash left behind: the uncommitted new vectors before
    # the swap, the retired old ones after it.
    alpha = digest(harbour("ALPHA"), settings, embedder)[:12]
    beta = digest(harbour("BETA"), settings, embedder)[:12]
    left = record_rows(settings, "SELECT vector_id FROM stale_vectors")
    assert left and {vid.rpartition("@")[2] for (vid,) in left} == {
        beta if step == "_swap" else alpha
    }

    store = open_store(settings)  # opening repairs
    assert_clean(store)
    survivor = "ALPHA" if step == "_swap" else "BETA"
    assert_only_version(store, embedder, survivor)
    expected = harbour(survivor)
    assert store.get_document(DOC).content_hash == digest(expected, settings, embedder)

    # The interrupted upload can simply be retried.
    status, *_ = ingest_article(harbour("BETA"), store, embedder, settings)
    assert status == ("updated" if step == "_swap" else "unchanged")
    assert_clean(store)
    assert_only_version(store, embedder, "BETA")


# The unit tables as they were before vectors were versioned (no `version` column).
_LEGACY_UNITS = """
CREATE TABLE {kind} (
    rowid INTEGER PRIMARY KEY,
    unit_id TEXT UNIQUE NOT NULL,
    doc_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    parent_id TEXT
);
CREATE INDEX {kind}_doc ON {kind}(doc_id, idx);
CREATE VIRTUAL TABLE {kind}_fts USING fts5(
    text, content='{kind}', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER {kind}_ai AFTER INSERT ON {kind} BEGIN
    INSERT INTO {kind}_fts(rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER {kind}_ad AFTER DELETE ON {kind} BEGIN
    INSERT INTO {kind}_fts({kind}_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
"""
_LEGACY_DOCS = """
CREATE TABLE documents (
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


def write_legacy_store(settings: Settings, embedder, articles: list[Article]) -> None:
    """A data dir as the unversioned store wrote it: bare unit ids in Chroma, no version column."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings.data_dir.mkdir(parents=True)
    db = sqlite3.connect(settings.data_dir / "documents.sqlite3")
    db.executescript(_LEGACY_DOCS + "".join(_LEGACY_UNITS.format(kind=k) for k in KINDS))
    client = chromadb.PersistentClient(
        path=str(settings.data_dir / "chroma"),
        settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
    )
    for article in articles:
        units = article_units(article, settings)
        for kind in KINDS:
            collection = client.get_or_create_collection(
                kind, embedding_function=None, metadata={"hnsw:space": "cosine"}
            )
            vectors = np.asarray(embedder.encode([u.text for u in units[kind]]))
            collection.add(
                ids=[u.unit_id for u in units[kind]],
                embeddings=vectors.tolist(),
                metadatas=[{"doc_id": article.doc_id, "index": u.index} for u in units[kind]],
            )
            db.executemany(
                f'INSERT INTO {kind} (unit_id, doc_id, idx, start, "end", text, parent_id)'
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (u.unit_id, u.doc_id, u.index, u.start, u.end, u.text, u.parent_id)
                    for u in units[kind]
                ],
            )
        db.execute(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article.doc_id,
                article.source_file,
                None,
                digest(article, settings, embedder),
                article.title,
                article.outlet,
                article.text,
                len(units["chunks"]),
                time.time(),
            ),
        )
    db.commit()
    db.close()


def test_legacy_store_is_migrated_in_place(tmp_path, embedder):
    settings = Settings(data_dir=tmp_path / "data")
    write_legacy_store(settings, embedder, [other(), harbour("ALPHA")])
    rows_before = {k: sqlite_rows(settings.data_dir, f"SELECT COUNT(*) FROM {k}") for k in KINDS}

    store = Store(settings.data_dir)
    for kind in KINDS:
        assert sqlite_rows(settings.data_dir, f"SELECT COUNT(*) FROM {kind}") == rows_before[kind]
        assert sqlite_rows(settings.data_dir, f"SELECT COUNT(*) FROM {kind} WHERE version IS NULL")
        assert all("@" not in vid for vid in chroma_ids(store, kind))
    assert_clean(store)
    assert_only_version(store, embedder, "ALPHA")  # legacy ids resolve to their rows
    assert ingest_article(harbour("ALPHA"), store, embedder, settings)[0] == "unchanged"

    # Re-ingesting converts the document to versioned ids and removes its legacy vectors.
    assert ingest_article(harbour("BETA"), store, embedder, settings)[0] == "updated"
    assert_clean(store)
    assert_only_version(store, embedder, "BETA")
    for kind in KINDS:
        harbour_ids = {v for v in chroma_ids(store, kind) if v.startswith(DOC)}
        assert harbour_ids and all("@" in v for v in harbour_ids)
        assert not sqlite_rows(
            settings.data_dir, f"SELECT 1 FROM {kind} WHERE doc_id = '{DOC}' AND version IS NULL"
        )

    # Reopening an already migrated store changes nothing.
    assert_clean(Store(settings.data_dir))
