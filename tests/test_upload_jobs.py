"""Writes never hold reads up for long: a big upload is a job (202), embeds in slices that
give way to searches, and embeds each distinct text once. Real embedder, store and server."""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np
import pytest
from conftest import SEEDS, live_server

from api.app import create_app
from rag.config import Settings
from rag.engine import Engine
from rag.index.store import Store
from rag.ingest.loading import parse_article
from rag.ingest.pipeline import ingest_article

REPEATED = "The harbour council met again on Tuesday to discuss the new sea wall."


def distinct_sentences(n: int) -> list[str]:
    return [
        f"Inspector number {i} of the county reported {i * 7 % 97} cracked tiles in ward {i}."
        for i in range(n)
    ]


class CountingEmbedder:
    """The real embedder, counting every text it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.texts: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.encode(texts)

    def encode_background(self, texts: list[str], progress=None, pause=None) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.encode_background(texts, progress=progress, pause=pause)

    def encode_one(self, text: str) -> np.ndarray:
        self.texts.append(text)
        return self.inner.encode_one(text)


def test_repeated_sentences_are_embedded_once(tmp_path, embedder):
    settings = Settings(data_dir=tmp_path / "data")
    store = Store(settings.data_dir)
    counting = CountingEmbedder(embedder)
    body = " ".join([REPEATED] * 400 + distinct_sentences(5) + [REPEATED] * 400)
    article = parse_article(f"Sea wall meeting\n\n{body}\n", "seawall", "seawall.txt")

    status, chunks, _ = ingest_article(article, store, counting, settings)

    assert status == "added"
    sentences = store.document_units("sentences", "seawall")
    assert len(sentences) >= 800
    assert len(counting.texts) == len(set(counting.texts))  # nothing embedded twice
    # 805 sentences and their chunks come down to a handful of distinct texts.
    assert len(counting.texts) < 40, len(counting.texts)
    # Every unit still has its own vector, the one its own text gives.
    for kind in ("chunks", "sentences"):
        assert store.count(kind) == store.count_vectors(kind)
    units = store.document_units("sentences", "seawall")
    stored = store.embeddings("sentences", [u.unit_id for u in units])
    probe = [units[0], units[400], units[403], units[-1]]
    window = [
        " ".join(u.text for u in units[max(0, units.index(p) - 1) : units.index(p) + 1])
        for p in probe
    ]
    expected = embedder.encode(window)
    for p, vec in zip(probe, expected, strict=True):
        assert float(stored[p.unit_id] @ vec) > 0.999
    assert chunks == store.count("chunks")


@pytest.fixture
def job_server(tmp_path, embedder):
    settings = Settings(data_dir=tmp_path / "data", upload_job_bytes=20_000)
    engine = Engine(settings)
    engine.__dict__["embedder"] = embedder
    engine.ingest([SEEDS])
    with live_server(create_app(engine=engine)) as url:
        yield url, engine


def test_small_uploads_still_answer_at_once(job_server):
    url, _ = job_server
    r = httpx.post(
        f"{url}/v1/documents", json={"text": " ".join(distinct_sentences(3)), "doc_id": "tiny"}
    )
    assert r.status_code == 201 and r.json()["status"] == "added", r.text


def test_search_and_health_answer_while_a_big_upload_embeds(job_server, embedder, monkeypatch):
    url, engine = job_server
    started, finished = threading.Event(), threading.Event()
    real = embedder.encode_background

    def observed(texts, progress=None, pause=None):
        def report(done: int, total: int) -> None:
            started.set()
            if progress is not None:
                progress(done, total)

        vectors = real(texts, progress=report, pause=pause)
        finished.set()
        return vectors

    monkeypatch.setattr(embedder, "encode_background", observed)
    text = "County inspection report\n\n" + " ".join(distinct_sentences(600)) + "\n"
    assert len(text.encode()) > engine.settings.upload_job_bytes

    r = httpx.post(f"{url}/v1/documents", files={"file": ("inspection.txt", text.encode())})
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    assert r.headers["location"] == f"/v1/jobs/{job_id}"
    assert started.wait(300), "the upload never started embedding"

    # While the upload embeds, reads and health checks are answered, not queued behind it.
    hits = httpx.post(f"{url}/v1/search", json={"query": "troops Ukraine"}, timeout=120)
    assert hits.status_code == 200 and hits.json()["results"]
    assert httpx.get(f"{url}/healthz", timeout=120).status_code == 200
    assert httpx.get(f"{url}/readyz", timeout=120).status_code in (200, 503)
    state = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=120).json()
    assert not finished.is_set(), "the search waited for the whole embedding"
    assert state["status"] == "running" and state["progress"]["stage"] == "embedding", state
    assert 0 < state["progress"]["done"] < state["progress"]["total"], state

    deadline = time.monotonic() + 900
    while state["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(1)
        state = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=120).json()
    assert state["status"] == "done", state
    assert state["result_status"] == 201 and state["result"]["status"] == "added"
    assert state["result"]["document"]["doc_id"] == "inspection"
    assert state["progress"]["done"] == state["progress"]["total"] > 0
    hits = httpx.post(
        f"{url}/v1/search", json={"query": "How many cracked tiles did inspector 321 report?"}
    ).json()["results"]
    assert hits and hits[0]["doc_id"] == "inspection"
    for kind in ("chunks", "sentences"):
        assert engine.store.count(kind) == engine.store.count_vectors(kind)

    missing = httpx.get(f"{url}/v1/jobs/{'0' * 32}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_job_ids_of_the_wrong_shape_are_422(job_server):
    url, _ = job_server
    r = httpx.get(f"{url}/v1/jobs/not-a-job")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
