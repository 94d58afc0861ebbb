"""A lost, short or foreign vector store is reported with one fix, and `newsdesk reindex` rebuilds
it from the document database: real Chroma on disk, the real embedder, the real CLI."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys

import httpx
import pytest
from conftest import SEEDS, live_server
from test_cli import newsdesk, one_line

from api.app import create_app
from rag.config import PROJECT_ROOT, Settings
from rag.engine import Engine
from rag.errors import StoreUnavailable
from rag.index.documents import KINDS
from rag.index.store import Store
from rag.ingest.pipeline import document_hash, pipeline_fingerprint
from rag.ingest.reindex import reindex, stored_article

QUERY = "Italy troops Ukraine"
FILES = [SEEDS / "000_0ab7ffefb9095089.txt", SEEDS / "001_c6956a57b30c8ba9.txt"]
# Run in a fresh process: rows and vectors per kind, and whether the live ids are exactly the
# ids in Chroma (read without Store, whose opening would refuse or repair).
VECTORS = """
import json, sqlite3, sys
import chromadb
db = sqlite3.connect(sys.argv[1] + "/documents.sqlite3")
client = chromadb.PersistentClient(path=sys.argv[1] + "/chroma")
out = {}
for kind in ("chunks", "sentences"):
    rows = db.execute(f"SELECT unit_id, version FROM {kind}")
    live = {u if v is None else f"{u}@{v}" for u, v in rows}
    ids = client.get_collection(kind).get(include=[])["ids"]
    out[kind] = [len(live), len(ids), sorted(live) == sorted(ids)]
print(json.dumps(out))
"""


def vectors_of(data_dir) -> dict[str, list]:
    r = subprocess.run(
        [sys.executable, "-c", VECTORS, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
        check=True,
    )
    return json.loads(r.stdout)


def spans(search_json: str) -> list[tuple[str, int, int, str]]:
    return [
        (h["doc_id"], h["start"], h["end"], h["text"]) for h in json.loads(search_json)["results"]
    ]


def test_a_deleted_vector_store_is_reported_everywhere_and_reindex_rebuilds_it(tmp_path, embedder):
    data = tmp_path / "data"
    engine = Engine(Settings(data_dir=data))
    engine.__dict__["embedder"] = embedder
    engine.ingest(FILES)
    before = json.loads(engine.search(QUERY).model_dump_json())["results"]
    assert before
    shutil.rmtree(data / "chroma")

    fix = f"newsdesk reindex --data-dir {data.resolve()}"
    for args in (["search", QUERY], ["ingest", "-q", str(FILES[0])]):
        r = newsdesk(*args, data_dir=data)
        assert r.returncode == 1, (args, r.stderr)
        assert fix in one_line(r.stderr), args

    r = newsdesk("reindex", data_dir=data)
    assert r.returncode == 0, r.stderr
    assert "2 documents re-embedded" in r.stderr
    after = newsdesk("search", QUERY, "--json", data_dir=data)
    assert after.returncode == 0, after.stderr
    assert spans(after.stdout) == [(h["doc_id"], h["start"], h["end"], h["text"]) for h in before]
    for kind, (rows, vectors, same_ids) in vectors_of(data).items():
        assert rows > 0 and rows == vectors and same_ids, kind


def test_readyz_names_reindex_when_the_folder_goes_or_vectors_are_missing(tmp_path, embedder):
    settings = Settings(data_dir=tmp_path / "data")
    engine = Engine(settings)
    engine.__dict__["embedder"] = embedder
    engine.ingest(FILES[:1])
    fix = f"newsdesk reindex --data-dir {settings.data_dir.resolve()}"
    with live_server(create_app(engine=engine)) as url:
        sentences = engine.store._vectors.collections["sentences"]
        lost = sentences.get(limit=2, include=[])["ids"]
        sentences.delete(ids=lost)  # a short store: rows whose vectors are gone
        r = httpx.get(f"{url}/readyz", timeout=30)
        assert r.status_code == 503
        message = r.json()["error"]["message"]
        assert fix in message
        n = engine.store.count("sentences")
        assert f"holds {n - 2} vectors for the {n} sentences" in message

        reindex(settings, show_progress=False, embedder=embedder)
        fresh = Store(settings.data_dir)  # new collection handles: the rebuilt ones
        assert all(fresh.count_vectors(k) == fresh.count(k) > 0 for k in KINDS)

        shutil.rmtree(settings.data_dir / "chroma")
        r = httpx.get(f"{url}/readyz", timeout=30)
        assert r.status_code == 503
        assert "is missing" in r.json()["error"]["message"]
        assert fix in r.json()["error"]["message"]
        # Writes are refused the same way, not failed deep inside Chroma with a 500.
        text = "Harbour museum opens\n\nThe harbour museum opened on Monday in the old town."
        r = httpx.post(f"{url}/v1/documents", json={"text": text}, timeout=60)
        assert r.status_code == 503 and fix in r.json()["error"]["message"], r.text
        r = httpx.delete(f"{url}/v1/documents/{FILES[0].stem}", timeout=60)
        assert r.status_code == 503 and fix in r.json()["error"]["message"], r.text


def test_another_embedder_is_refused_until_reindexed(tmp_path, embedder):
    settings = Settings(data_dir=tmp_path / "data")
    engine = Engine(settings)
    engine.__dict__["embedder"] = embedder
    engine.ingest(FILES[:1])
    assert engine.store.get_meta("embedder") == embedder.name
    with sqlite3.connect(settings.data_dir / "documents.sqlite3") as db:
        db.execute("UPDATE meta SET value = 'some-other-embedder' WHERE key = 'embedder'")
    with pytest.raises(StoreUnavailable, match="some-other-embedder") as refused:
        _ = Engine(settings).store
    assert "newsdesk reindex --data-dir" in str(refused.value)

    reindex(settings, show_progress=False, embedder=embedder)
    again = Engine(settings)
    again.__dict__["embedder"] = embedder
    assert again.store.get_meta("embedder") == embedder.name
    assert again.search(QUERY).results


def test_reindex_with_a_changed_pipeline_re_chunks_and_leaves_no_old_vectors(tmp_path, embedder):
    settings = Settings(data_dir=tmp_path / "data")
    engine = Engine(settings)
    engine.__dict__["embedder"] = embedder
    engine.ingest(FILES)
    old_hashes = {d.doc_id: d.content_hash for d in engine.store.list_documents()}

    wider = Settings(data_dir=settings.data_dir, sentence_window=2, chunk_max_words=80)
    report = reindex(wider, show_progress=False, embedder=embedder)
    assert report.documents == 2
    store = Store(settings.data_dir)
    fingerprint = pipeline_fingerprint(wider, embedder.name)
    for doc in store.list_documents():
        assert doc.content_hash != old_hashes[doc.doc_id]
        assert doc.content_hash == document_hash(stored_article(store, doc), fingerprint)
    for kind, (rows, vectors, same_ids) in vectors_of(settings.data_dir).items():
        assert rows == vectors and same_ids, kind


def test_reindex_is_refused_while_a_server_owns_the_data_dir(tmp_path, embedder):
    from rag.errors import NewsdeskError
    from rag.index.owner import serving

    settings = Settings(data_dir=tmp_path / "data")
    owned = serving(settings.data_dir, "http://127.0.0.1:9")
    with owned, pytest.raises(NewsdeskError, match="stop it, run reindex"):
        reindex(settings, show_progress=False, embedder=embedder)
