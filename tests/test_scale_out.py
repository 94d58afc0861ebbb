"""Server backends, against real servers on loopback: `chroma run` for the vectors,
`python -m llama_cpp.server` with the default GGUF for generation, and two `newsdesk serve`
replicas sharing both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import chromadb
import httpx
import pytest
from conftest import SEEDS, live_server, sse_events
from pydantic import SecretStr
from test_http import STORY, ask_about_the_lighthouse

from api.app import create_app
from eval.servers import (
    chroma_server,
    free_port,
    llm_server,
    newsdesk_process,
    newsdesk_replica,
)
from rag.config import Settings
from rag.engine import Engine
from rag.errors import ModelError, StoreUnavailable
from rag.ingest.loading import article_from_upload
from rag.ingest.reindex import reindex
from rag.llm.model_files import resolve_model
from rag.llm.remote_llm import RemoteGenerator, _sse_piece

pytestmark = pytest.mark.slow

KEY = "llm-test-key"
QUESTION = "Which countries refused to send troops to Ukraine?"
DAIRY = (
    "Valley dairy cooperative grows\n\n"
    "The Brightwater dairy cooperative in Wales now has 1,240 member farms, its chair Mair "
    "Pryce said on Monday. The cooperative sells cheese to 31 countries.\n\n"
    "Source: Cambrian Post\n"
)


@pytest.fixture(scope="module")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="module")
def chroma_url(servers_dir: Path):
    with chroma_server(servers_dir / "chroma", servers_dir) as url:
        yield url


@pytest.fixture(scope="module")
def llm_url(servers_dir: Path):
    settings = Settings()
    model = resolve_model(settings.model, settings.cache_dir, show_progress=False)
    with llm_server(model, servers_dir, api_key=KEY) as url:
        yield url


def server_vectors(url: str, store, kind: str = "chunks") -> int:
    """What the Chroma server itself holds for this store, asked by a separate client."""
    port = int(url.rsplit(":", 1)[1])
    client = chromadb.HttpClient(host="127.0.0.1", port=port)
    return client.get_collection(store.collection_name(kind)).count()


# ---- Chroma server ----------------------------------------------------------------------------


def test_store_on_chroma_server(chroma_url, tmp_path, embedder):
    settings = Settings(data_dir=tmp_path / "data", chroma_url=chroma_url)
    engine = Engine(settings)
    engine.__dict__["embedder"] = embedder
    report = engine.ingest([SEEDS])
    store = engine.store
    assert len(report.added) == 5, report.summary()
    assert not (settings.data_dir / "chroma").exists(), "vectors must live on the server"
    for kind in ("chunks", "sentences"):
        assert server_vectors(chroma_url, store, kind) == store.count(kind) > 0

    hits = engine.search("Which countries refused to send troops?").results
    assert hits and any("troops" in h.text for h in hits)
    assert hits[0].similarity > 0.3  # a dense score: the query reached the server's index

    article = article_from_upload(STORY.encode(), "lighthouse.txt")
    assert engine.add_document(article)[0] == "added"
    changed = article_from_upload(STORY.replace("4,000", "5,500").encode(), "lighthouse.txt")
    assert engine.add_document(changed)[0] == "updated"
    found = engine.search("visitors on the first day at the lighthouse museum").results
    texts = [h.text for h in found if h.doc_id == "lighthouse"]
    assert any("5,500" in t for t in texts) and not any("4,000" in t for t in texts)
    assert server_vectors(chroma_url, store) == store.count("chunks")
    assert store.stale_count() == 0

    assert engine.delete_document("lighthouse")
    assert server_vectors(chroma_url, store) == store.count("chunks")
    assert all(h.doc_id != "lighthouse" for h in engine.search("lighthouse museum").results)

    # A second data dir on the same server gets its own collections: nothing is shared.
    other = Engine(Settings(data_dir=tmp_path / "other", chroma_url=chroma_url))
    assert other.store.collection_name("chunks") != store.collection_name("chunks")
    assert other.store.count_vectors("chunks") == 0


def test_chroma_server_errors(chroma_url, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreUnavailable, match="cannot reach the Chroma server"):
        _ = Engine(Settings(data_dir=tmp_path / "a", chroma_url=dead)).store
    with pytest.raises(StoreUnavailable, match="not an http"):
        _ = Engine(Settings(data_dir=tmp_path / "a", chroma_url="ftp://x:1")).store

    # A data dir indexed locally cannot silently switch to an empty server collection.
    local = Engine(Settings(data_dir=tmp_path / "b"))
    local.add_document(article_from_upload(STORY.encode(), "lighthouse.txt"))
    with pytest.raises(StoreUnavailable, match="holds 0 vectors") as refused:
        _ = Engine(Settings(data_dir=tmp_path / "b", chroma_url=chroma_url)).store
    assert f"newsdesk reindex --data-dir {(tmp_path / 'b').resolve()} --chroma-url" in str(
        refused.value
    )
    # ... and that fix moves it onto the server.
    reindex(Settings(data_dir=tmp_path / "b", chroma_url=chroma_url), show_progress=False)
    moved = Engine(Settings(data_dir=tmp_path / "b", chroma_url=chroma_url))
    assert moved.store.count_vectors("sentences") == moved.store.count("sentences") > 0
    assert moved.search("lighthouse museum").results[0].doc_id == "lighthouse"

    # The CLI reports it in one line, without a traceback.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "rag.frontend.cli",
            "ingest",
            str(SEEDS),
            "--data-dir",
            str(tmp_path / "c"),
        ],
        env={"NEWSDESK_CHROMA_URL": dead, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr
    assert "cannot reach the Chroma server" in run.stderr and "Traceback" not in run.stderr


# ---- model server -----------------------------------------------------------------------------


def test_sse_lines_from_model_servers():
    assert _sse_piece('data: {"choices":[{"delta":{"content":"Hi"}}]}') == "Hi"
    assert _sse_piece('data: {"choices":[{"delta":{"role":"assistant"}}]}') == ""
    assert _sse_piece(": keep-alive") == ""
    assert _sse_piece("data: [DONE]") is None
    with pytest.raises(ModelError, match="overloaded"):
        _sse_piece('data: {"error": {"message": "overloaded"}}')


@pytest.fixture(scope="module")
def remote_engine(seeded_engine, llm_url) -> Engine:
    """The seeded store, generating on the model server."""
    settings = seeded_engine.settings.model_copy(
        update={"llm_url": llm_url, "llm_api_key": SecretStr(KEY)}
    )
    engine = Engine(settings)
    engine.__dict__["embedder"] = seeded_engine.embedder
    engine.__dict__["store"] = seeded_engine.store
    return engine


def test_ask_through_model_server(remote_engine, seeded_engine):
    assert isinstance(remote_engine.generator, RemoteGenerator)
    # The model's own tokenizer (vocabulary only) budgets the passages, as in-process, so the
    # same passages reach the model either way (a words-based estimate says 3 here).
    text = "Prime Minister Sir Keir Starmer met Volodymyr Zelensky in Kyiv."
    assert remote_engine.count_tokens(text) == seeded_engine.count_tokens(text)
    assert remote_engine.count_tokens("Keir Starmer") == 4
    answer = remote_engine.ask(QUESTION)
    assert answer.answerable, answer
    assert answer.model.endswith(".gguf") or "qwen" in answer.model.lower()
    assert answer.citations and all(c.supported for c in answer.citations)
    for c in answer.citations:
        text = remote_engine.store.document_text(c.doc_id)
        assert text[c.start : c.end] == c.quote
    assert {"Germany", "Italy"} & set(answer.answer.replace(",", " ").split()), answer.answer
    # Same GGUF and chat template: the server evaluates the very prompt the in-process model
    # does. (Not always the same draft: the server splits its prompt cache where its own last
    # prompt ended, which moves the last bits of the logits; see tests/test_generation.py.)
    prepared = remote_engine.prepare(QUESTION)
    remote = remote_engine.generator.chat(prepared.messages, max_tokens=64)
    local = seeded_engine.generator.chat(prepared.messages, max_tokens=64)
    assert remote.prompt_tokens == local.prompt_tokens > 500
    for draft in (remote.text, local.text):
        assert "Italy" in draft, draft


def test_a_near_miss_through_model_server_is_declined(remote_engine):
    # "How many soldiers" answered by a true sentence that gives no number passes the judge
    # and the relevance reading through the server; the figure check declines it.
    silent = remote_engine.ask("How many soldiers does Ukraine's army have?")
    assert not silent.answerable, silent.answer


def test_stream_and_cancel_through_model_server(remote_engine):
    with live_server(create_app(engine=remote_engine)) as url:
        with httpx.stream(
            "POST", f"{url}/v1/ask/stream", json={"question": QUESTION}, timeout=120
        ) as r:
            assert r.status_code == 200
            events = sse_events(r.iter_lines())
        names = [name for name, _ in events]
        assert names[0] == "sources" and names[-1] == "answer", names
        tokens = "".join(data["text"] for name, data in events if name == "token")
        assert names.count("token") > 3 and tokens.strip()
        final = events[-1][1]
        assert final["answerable"] and final["citations"]

    # Cancelling mid-stream closes the connection to the model server and stops the answer.
    cancel = threading.Event()
    pieces = []
    prepared = remote_engine.prepare(QUESTION)
    for event in remote_engine.generate(prepared, cancel):
        if event.kind == "token":
            pieces.append(event.text)
            cancel.set()
        assert event.kind != "answer"
    assert len(pieces) == 1
    # The server is free again at once: a new short request is answered.
    assert remote_engine.generator.chat([{"role": "user", "content": "Say OK."}], 2).text


def test_model_server_errors(seeded_engine, llm_url):
    wrong = RemoteGenerator(llm_url, api_key="wrong", model="x")
    with pytest.raises(ModelError, match="refused the key"):
        wrong.chat([{"role": "user", "content": "hi"}], 2)
    dead = RemoteGenerator(f"http://127.0.0.1:{free_port()}/v1", model="x")
    with pytest.raises(ModelError, match="cannot reach the model server"):
        dead.chat([{"role": "user", "content": "hi"}], 2)
    with pytest.raises(ModelError, match="cannot reach the model server"):
        list(dead.stream([{"role": "user", "content": "hi"}], 2))

    # Over HTTP: 503 in the one error shape, not a 500 or a hang.
    settings = seeded_engine.settings.model_copy(
        update={"llm_url": llm_url, "llm_api_key": SecretStr("wrong"), "llm_model": "m"}
    )
    engine = Engine(settings)
    engine.__dict__["embedder"] = seeded_engine.embedder
    engine.__dict__["store"] = seeded_engine.store
    with live_server(create_app(engine=engine)) as url:
        r = httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, timeout=120)
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "model_error"
    assert "refused the key" in r.json()["error"]["message"]


# ---- two replicas -----------------------------------------------------------------------------


@pytest.mark.long
def test_two_replicas_share_one_chroma_and_one_model_server(chroma_url, llm_url, tmp_path):
    env = {
        "NEWSDESK_DATA_DIR": str(tmp_path / "shared"),
        "NEWSDESK_CHROMA_URL": chroma_url,
        "NEWSDESK_LLM_URL": llm_url,
        "NEWSDESK_LLM_API_KEY": KEY,
    }
    with (
        newsdesk_replica(env, tmp_path / "a.log", ingest_seeds=True) as a,
        newsdesk_replica(env, tmp_path / "b.log", ingest_seeds=True) as b,
    ):
        assert "5 unchanged" in (tmp_path / "b.log").read_text(), "B reuses A's ingest"
        for url in (a, b):
            ready = httpx.get(f"{url}/readyz").json()
            assert ready["vector_store"] == chroma_url and ready["generation"] == llm_url
            assert ready["chunks"] > 0

        # Concurrent uploads, one to each replica, are both kept.
        uploads = [
            (a, ("lighthouse.txt", STORY.encode())),
            (b, ("dairy.txt", DAIRY.encode())),
        ]
        with ThreadPoolExecutor(2) as pool:
            codes = list(
                pool.map(
                    lambda u: httpx.post(f"{u[0]}/v1/documents", files={"file": u[1]}).status_code,
                    uploads,
                )
            )
        assert codes == [201, 201]
        for url in (a, b):
            ids = {d["doc_id"] for d in httpx.get(f"{url}/v1/documents").json()["documents"]}
            assert {"lighthouse", "dairy"} <= ids and len(ids) == 7

        # Each replica answers about the document uploaded to the other, at the same time.
        asks = [
            (b, "How many visitors came to the lighthouse museum on the first day?"),
            (a, "How many member farms does the Brightwater dairy cooperative have?"),
        ]
        with ThreadPoolExecutor(2) as pool:
            answers = list(
                pool.map(
                    lambda q: httpx.post(
                        f"{q[0]}/v1/ask", json={"question": q[1]}, timeout=300
                    ).json(),
                    asks,
                )
            )
        assert answers[0]["answerable"] and "4,000" in answers[0]["answer"], answers[0]
        assert {c["doc_id"] for c in answers[0]["citations"]} == {"lighthouse"}
        assert answers[1]["answerable"] and "1,240" in answers[1]["answer"], answers[1]
        assert {c["doc_id"] for c in answers[1]["citations"]} == {"dairy"}

        # A delete through one replica is seen by the other at once.
        assert httpx.delete(f"{b}/v1/documents/lighthouse").status_code == 200
        assert httpx.get(f"{a}/v1/documents/lighthouse").status_code == 404
        hits = httpx.post(f"{a}/v1/search", json={"query": "lighthouse museum visitors"}).json()
        assert all(h["doc_id"] != "lighthouse" for h in hits["results"])


# ---- two hosts: documents in PostgreSQL -------------------------------------------------------


def _dairy(farms: str, title: str) -> bytes:
    return DAIRY.replace("1,240", farms).replace("Valley dairy cooperative grows", title).encode()


# Two versions of one document: a different figure, and a different title so that every
# offset after it differs too (a quote cut from one version at the other's offsets is caught).
VERSIONS = {
    "1,240": "Valley dairy cooperative grows",
    "1,315": "Valley dairy cooperative grows again",
}
FARMS = "How many member farms does the Brightwater dairy cooperative have?"


def _bulk(lines: int) -> bytes:
    """An article long enough that embedding it takes seconds, so an upload can be cut off."""
    body = " ".join(
        f"The Quarnish ledger office counted {i * 7 + 3} crates at pier {i} on day {i % 9 + 1}."
        for i in range(lines)
    )
    return f"Quarnish ledger office report\n\n{body}\n\nSource: Pier Bulletin\n".encode()


@pytest.mark.long
def test_two_hosts_share_one_corpus_through_postgres(chroma_url, llm_url, pg_server, tmp_path):
    """Two `newsdesk serve` processes with their own data dirs (two hosts) share PostgreSQL,
    the Chroma server and the model server: an upload through one is asked and cited through
    the other at once; re-uploads through one while the other answers never give a quote
    that is not exactly the text of one version; a replica killed mid-upload leaves nothing
    the other can see, and no lock behind."""
    shared = {
        "NEWSDESK_DATABASE_URL": pg_server.create_database(),
        "NEWSDESK_CHROMA_URL": chroma_url,
        "NEWSDESK_LLM_URL": llm_url,
        "NEWSDESK_LLM_API_KEY": KEY,
    }
    env_a = {**shared, "NEWSDESK_DATA_DIR": str(tmp_path / "host_a")}
    env_b = {**shared, "NEWSDESK_DATA_DIR": str(tmp_path / "host_b")}
    with newsdesk_replica(env_b, tmp_path / "b.log") as b:
        with newsdesk_process(env_a, tmp_path / "a.log") as (a, proc_a):
            # A new deployment starts empty: questions are refused until the first upload.
            empty = httpx.post(f"{b}/v1/ask", json={"question": FARMS})
            assert empty.status_code == 409 and "no articles" in empty.text, empty.text
            texts = {}
            for farms, title in VERSIONS.items():
                r = httpx.post(
                    f"{a}/v1/documents", files={"file": ("dairy.txt", _dairy(farms, title))}
                )
                assert r.status_code in (200, 201), r.text
                got = httpx.get(f"{b}/v1/documents/dairy")  # through the other host
                assert got.status_code == 200, got.text
                texts[farms] = got.json()["text"]
                assert farms in texts[farms]
            ready = httpx.get(f"{b}/readyz").json()
            assert ready["chunks"] > 0 and ready["documents"].startswith("postgresql://")

            # Asked through B while A keeps replacing the document with the other version.
            stop = threading.Event()

            def reupload() -> int:
                count = 0
                while not stop.is_set():
                    for farms, title in VERSIONS.items():
                        files = {"file": ("dairy.txt", _dairy(farms, title))}
                        r = httpx.post(f"{a}/v1/documents", files=files, timeout=120)
                        assert r.status_code == 200, r.text
                        count += 1
                return count

            with ThreadPoolExecutor(1) as pool:
                swaps = pool.submit(reupload)
                try:
                    answers = [
                        httpx.post(f"{b}/v1/ask", json={"question": FARMS}, timeout=300).json()
                        for _ in range(3)
                    ]
                finally:
                    stop.set()
                assert swaps.result() >= 2
            for answer in answers:
                assert answer["answerable"], answer
                cited = [c for c in answer["citations"] if c["doc_id"] == "dairy"]
                assert cited, answer
                for cite in cited:
                    whole = [
                        farms
                        for farms, text in texts.items()
                        if text[cite["start"] : cite["end"]] == cite["quote"]
                    ]
                    assert len(whole) == 1, (cite, texts)
                    figures = [f for f in VERSIONS if f in answer["answer"]]
                    assert figures in ([], whole), answer

            # A is killed halfway through a long upload (a job): B sees none of it. Deaths
            # inside the store's write itself are tests/test_store_atomic.py's, on both records.
            files = {"file": ("bulk.txt", _bulk(1500))}
            job = httpx.post(f"{a}/v1/documents", files=files, timeout=60)
            assert job.status_code == 202, job.text
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                progress = httpx.get(f"{a}{job.json()['url']}").json()["progress"]
                if progress["total"] and progress["done"] * 2 >= progress["total"]:
                    break
                time.sleep(0.05)
            assert progress["stage"] == "embedding", progress
            os.killpg(proc_a.pid, signal.SIGKILL)
            proc_a.wait()
        assert httpx.get(f"{b}/v1/documents/bulk").status_code == 404
        ids = {d["doc_id"] for d in httpx.get(f"{b}/v1/documents").json()["documents"]}
        assert ids == {"dairy"}
        hits = httpx.post(f"{b}/v1/search", json={"query": "Quarnish ledger crates pier"}).json()
        assert all(h["doc_id"] != "bulk" for h in hits["results"]), hits

        # A restarts on the same data dir: no lock is left behind, its uploads land again.
        with newsdesk_replica(env_a, tmp_path / "a2.log") as a2:
            files = {"file": ("lighthouse.txt", STORY.encode())}
            assert httpx.post(f"{a2}/v1/documents", files=files, timeout=120).status_code == 201
        ask_about_the_lighthouse(b, timeout=300)
