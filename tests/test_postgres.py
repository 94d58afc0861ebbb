"""The record in PostgreSQL (`NEWSDESK_DATABASE_URL`), against a real server from Debian's
package started in a temporary directory (`postgres_server` in eval/servers.py).

Two stores with separate data dirs stand for two hosts: they share the database (and, where
dense search is checked, a `chroma run` server) and nothing else, not even in-process locks.
The store tests of tests/test_store_atomic.py run on both backends as well.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
from conftest import SEEDS
from fastapi.testclient import TestClient
from scripted import ScriptedModel
from test_store_atomic import (
    DOC,
    MARKERS,
    OTHER,
    harbour,
    harbour_text,
    markers_in,
    other,
    run_together,
)

from api.app import create_app
from eval.servers import chroma_server
from rag.config import Settings
from rag.engine import Engine
from rag.errors import NewsdeskError, StoreUnavailable
from rag.index.datadir import require_articles, store_counts
from rag.index.documents import KINDS
from rag.index.postgres import MIGRATIONS, shown_url
from rag.index.record import open_record
from rag.index.store import Store
from rag.ingest.loading import parse_article
from rag.ingest.pipeline import ingest_article


def rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


# ---- schema and errors --------------------------------------------------------------------


def test_schema_is_migrated_once_under_a_lock(database_url, tmp_path):
    """Replicas starting together apply each migration exactly once and share one store id."""
    records, errors = [], []

    def open_one(i: int) -> None:
        try:
            records.append(open_record(tmp_path / f"host{i}", database_url))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    (tmp_path / "host0").mkdir()
    threads = [threading.Thread(target=open_one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len({r.store_id for r in records}) == 1
    versions = rows(database_url, "SELECT version FROM schema_version ORDER BY version")
    assert versions == [(n,) for n in range(1, len(MIGRATIONS) + 1)]
    for r in records:
        r.close()
    # No record in the data dir: neither SQLite nor its lock files.
    assert not any((tmp_path / "host0").glob("*"))

    # A database migrated by a newer newsdesk is refused, not written.
    rows_sql = f"INSERT INTO schema_version (version) VALUES ({len(MIGRATIONS) + 1})"
    with psycopg.connect(database_url) as conn:
        conn.execute(rows_sql)
    with pytest.raises(NewsdeskError, match="newer than this newsdesk"):
        open_record(tmp_path / "host0", database_url)


def test_bad_or_unreachable_database_is_a_one_line_error(pg_server, tmp_path):
    with pytest.raises(NewsdeskError, match="must start with postgresql://"):
        Store(tmp_path / "a", database_url="mysql://user@localhost/news")
    with pytest.raises(NewsdeskError, match="is not valid"):
        Store(tmp_path / "a", database_url="postgresql://u@h/db?nosuchoption=1")
    started = time.monotonic()
    missing = pg_server.url("no_such_database")
    with pytest.raises(StoreUnavailable, match="no_such_database") as got:
        Store(tmp_path / "a", database_url=missing)
    assert "\n" not in str(got.value)
    nowhere = "postgresql://u:secret@/db?host=/nonexistent&connect_timeout=2"
    with pytest.raises(StoreUnavailable, match="unavailable") as got:
        Store(tmp_path / "a", database_url=nowhere)
    assert "secret" not in str(got.value) and "u:***@" in str(got.value)
    assert time.monotonic() - started < 20
    assert shown_url("postgresql://a:b@h:1/d") == "postgresql://a:***@h:1/d"

    # A role that may connect but not create tables (PostgreSQL 15 and later, by default).
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute("CREATE ROLE visitor LOGIN")
    visitor = pg_server.create_database().replace("newsdesk@", "visitor@")
    with pytest.raises(NewsdeskError, match="cannot set up the schema.*permission denied"):
        Store(tmp_path / "a", database_url=visitor)

    # Counting for `newsdesk info` or a reading command: the same error, or "no store yet".
    with pytest.raises(StoreUnavailable):
        store_counts(tmp_path, nowhere)
    empty = pg_server.create_database()
    assert store_counts(tmp_path, empty) is None
    with pytest.raises(NewsdeskError, match="no store at postgresql://"):
        require_articles(Settings(data_dir=tmp_path, database_url=empty))


def test_a_database_that_goes_away_answers_store_unavailable(database_url, tmp_path, pg_server):
    store = Store(tmp_path / "data", database_url=database_url)
    store.ping()
    name = database_url.split("/")[-1].split("?")[0]
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
    # The pool checks a connection before lending it: one lost connection costs a reconnect.
    store.ping()
    assert store.list_documents() == []
    store.close()


# ---- ingest and search --------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_engine(tmp_path_factory, embedder, pg_server) -> Engine:
    """The seeds in PostgreSQL (vectors in a local Chroma store)."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("pg") / "data", database_url=pg_server.create_database()
    )
    engine = Engine(settings)
    engine.__dict__["embedder"] = embedder
    engine.ingest([SEEDS])
    return engine


def test_ingest_and_search_through_postgres(pg_engine, seeded_engine):
    store = pg_engine.store
    assert store.database_url
    assert store.list_documents() and [d.doc_id for d in store.list_documents()] == [
        d.doc_id for d in seeded_engine.store.list_documents()
    ]
    counts = store_counts(pg_engine.settings.data_dir, pg_engine.settings.database_url)
    assert counts and counts.documents == len(store.list_documents())
    for kind in KINDS:
        assert store.count(kind) == seeded_engine.store.count(kind) == store.count_vectors(kind)
    assert store.version() == seeded_engine.store.version()  # same corpus, same digest

    # Every result quotes the stored text exactly, at its offsets.
    got = pg_engine.search("Which countries refused to send troops to Ukraine?", limit=5)
    assert got.results
    for r in got.results:
        assert store.document_text(r.doc_id)[r.start : r.end] == r.text
    assert "troops" in got.results[0].text

    # Dense search reads the same vectors whichever database holds the rows.
    vec = pg_engine.embedder.encode_one("peacekeeping troops in Ukraine")
    pg = pg_engine.store.dense_search("sentences", vec, 5)
    lite = seeded_engine.store.dense_search("sentences", vec, 5)
    assert [h.unit for h in pg] == [h.unit for h in lite]


@pytest.mark.parametrize(
    "query, word",
    [
        ("Lavrov unveiled involvement of Nato members", "Lavrov"),
        ("coalition of the willing countries", "coalition of the willing"),
        ("Healey make the skies safe", "skies safe"),
    ],
)
def test_lexical_search_ranks_the_right_document(pg_engine, query, word):
    """PostgreSQL's ranking puts first a sentence holding the query's rarest words."""
    pg = pg_engine.store.lexical_search("sentences", query, 5)
    assert pg and all(h.score > 0 for h in pg)
    assert [h.score for h in pg] == sorted((h.score for h in pg), reverse=True)
    assert word.lower() in pg[0].unit.text.lower()
    # Stemmed: plural and inflected forms match.
    assert pg_engine.store.lexical_search("sentences", "negotiation settlements", 3)
    # Scoped to documents, and words that cannot match find nothing.
    doc = pg[0].unit.doc_id
    assert {h.unit.doc_id for h in pg_engine.store.lexical_search("chunks", query, 9, [doc])} == {
        doc
    }
    assert pg_engine.store.lexical_search("sentences", "the of & | ! :*", 5) == []


# ---- two hosts ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    servers = tmp_path_factory.mktemp("chroma")
    with chroma_server(servers / "chroma", servers) as url:
        yield url


def two_hosts(tmp_path: Path, database_url: str, chroma_url: str | None) -> tuple[Store, Store]:
    a = Store(tmp_path / "host_a", chroma_url=chroma_url, database_url=database_url)
    b = Store(tmp_path / "host_b", chroma_url=chroma_url, database_url=database_url)
    return a, b


def test_two_hosts_see_each_others_writes_at_once(tmp_path, database_url, chroma_url, embedder):
    settings = Settings(data_dir=tmp_path / "host_a", database_url=database_url)
    a, b = two_hosts(tmp_path, database_url, chroma_url)
    assert a.store_id == b.store_id
    assert a.collection_name("sentences") == b.collection_name("sentences")

    ingest_article(other(), a, embedder, settings)
    assert [d.doc_id for d in b.list_documents()] == [OTHER]
    heat = embedder.encode_one("heatwave warning for farmers")
    assert b.dense_search("sentences", heat, 1)[0].unit.doc_id == OTHER
    assert b.lexical_search("sentences", "livestock troughs", 1)[0].unit.doc_id == OTHER

    ingest_article(harbour("ALPHA"), b, embedder, settings)
    version = a.version()
    assert version == b.version()
    assert markers_in([a.document_text(DOC)]) == {"ALPHA"}
    ingest_article(harbour("BETA"), a, embedder, settings)
    assert b.version() != version
    assert markers_in(u.text for u in b.document_units("sentences", DOC)) == {"BETA"}
    assert markers_in(h.unit.text for h in b.lexical_search("chunks", "harbour", 9)) == {"BETA"}

    assert b.delete_document(DOC)
    assert a.get_document(DOC) is None and a.lexical_search("sentences", "harbour", 9) == []
    for kind in KINDS:
        assert a.stale_count(kind) == 0
        assert a.count_vectors(kind) == a.count(kind) == b.count(kind)
    a.close()
    b.close()


def test_a_reupload_on_one_host_is_seen_whole_on_the_other(
    tmp_path, database_url, chroma_url, embedder
):
    """Host A re-uploads a document over and over while host B queries it: every query on B
    sees one version from its first read to its last, with the vectors of that version."""
    settings = Settings(data_dir=tmp_path / "host_a", database_url=database_url)
    a, b = two_hosts(tmp_path, database_url, chroma_url)
    ingest_article(other(), a, embedder, settings)
    ingest_article(harbour("ALPHA"), a, embedder, settings)
    vec = embedder.encode_one("ships in the harbour after the storm")
    done = threading.Event()
    failures: list[str] = []
    seen: set[str] = set()
    reads = 0

    def writer() -> None:
        try:
            for i in range(8):
                ingest_article(harbour(MARKERS[(i + 1) % 2]), a, embedder, settings)
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(f"writer: {exc!r}")
        finally:
            done.set()

    def reader() -> None:
        nonlocal reads
        try:
            while not done.is_set():
                with b.reading():
                    sentences = b.dense_search("sentences", vec, 8, [DOC])
                    lexical = b.lexical_search("sentences", "harbour", 50, [DOC])
                    time.sleep(0.02)  # a swap on A may commit now: this query must not see it
                    text = b.document_text(DOC)
                    units = b.document_units("chunks", DOC)
                texts = [h.unit.text for h in sentences + lexical] + [text]
                texts += [u.text for u in units]
                found = markers_in(texts)
                if len(found) != 1 or not (sentences and lexical and units):
                    failures.append(f"one query saw {sorted(found)}: {texts}")
                seen.update(found)
                reads += 1
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(f"reader: {exc!r}")

    run_together(writer, reader)
    assert failures == []
    assert reads >= 8 and seen == {"ALPHA", "BETA"}
    for kind in KINDS:
        assert b.stale_count(kind) == 0
        assert b.count_vectors(kind) == b.count(kind)
    a.close()
    b.close()


def replica(data_dir: Path, database_url: str, chroma_url: str, embedder) -> Engine:
    """A `newsdesk serve` replica's engine, generating with the scripted stand-in."""
    settings = Settings(
        data_dir=data_dir, database_url=database_url, chroma_url=chroma_url, verify=False
    )
    engine = Engine(settings)
    engine.__dict__["embedder"] = embedder
    engine.__dict__["_generator"] = ScriptedModel(lambda text: len(text.split()))
    return engine


def test_replicas_on_two_hosts_serve_one_corpus(tmp_path, database_url, chroma_url, embedder):
    """Uploaded through one replica, searched, asked, cited and deleted through another."""
    a = replica(tmp_path / "host_a", database_url, chroma_url, embedder)
    b = replica(tmp_path / "host_b", database_url, chroma_url, embedder)
    question = {"question": "Which harbour reopened on Monday after the storm?"}
    with TestClient(create_app(engine=a)) as ra, TestClient(create_app(engine=b)) as rb:
        r = ra.post("/v1/documents", json={"text": harbour_text("ALPHA"), "doc_id": DOC})
        assert r.status_code == 201, r.text
        found = rb.post("/v1/search", json={"query": "harbour reopened", "limit": 3})
        assert found.status_code == 200, found.text
        results = found.json()["results"]
        assert results and {x["doc_id"] for x in results} == {DOC}
        assert markers_in(x["text"] for x in results) == {"ALPHA"}

        for marker in MARKERS:
            if marker != "ALPHA":
                r = ra.post("/v1/documents", json={"text": harbour_text(marker), "doc_id": DOC})
                assert r.status_code == 200 and r.json()["status"] == "replaced", r.text
            answer = rb.post("/v1/ask", json=question).json()
            text = rb.get(f"/v1/documents/{DOC}").json()["text"]
            assert answer["citations"], answer
            for cite in answer["citations"]:
                assert text[cite["start"] : cite["end"]] == cite["quote"]
                assert markers_in([cite["quote"]]) == {marker}

        ready = rb.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["documents"] == shown_url(database_url)
        assert ready.json()["vector_store"] == chroma_url
        assert rb.delete(f"/v1/documents/{DOC}").status_code == 200
        assert ra.get("/v1/documents").json()["documents"] == []
        assert ra.get(f"/v1/documents/{DOC}").status_code == 404


def test_an_unfinished_swap_is_invisible_and_rolls_back(tmp_path, database_url, embedder):
    """A swap stopped halfway (its process dies, or it fails) shows nothing to another host
    meanwhile, and afterwards the old version is whole. The local vector stores differ per
    host here, so only the record is compared."""
    settings = Settings(data_dir=tmp_path / "host_a", database_url=database_url)
    a = Store(tmp_path / "host_a", database_url=database_url)
    ingest_article(other(), a, embedder, settings)
    ingest_article(harbour("ALPHA"), a, embedder, settings)
    b = Store(tmp_path / "host_b", database_url=database_url, check_vectors=False)
    halfway, release = threading.Event(), threading.Event()
    real = a._documents.put_document

    def stall_then_die(*args, **kwargs):
        real(*args, **kwargs)  # every row of the new version is written, uncommitted
        halfway.set()
        release.wait(30)
        raise KeyboardInterrupt  # as a kill would end it: no commit

    a._documents.put_document = stall_then_die  # type: ignore[method-assign]
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            ingest_article(harbour("BETA"), a, embedder, settings)
        except BaseException as exc:
            errors.append(exc)

    writer = threading.Thread(target=upload)
    writer.start()
    assert halfway.wait(60)
    # Single reads see the last commit: all ALPHA.
    assert markers_in([b.document_text(DOC)]) == {"ALPHA"}
    assert markers_in(u.text for u in b.document_units("sentences", DOC)) == {"ALPHA"}
    assert markers_in(h.unit.text for h in b.lexical_search("sentences", "harbour", 50)) == {
        "ALPHA"
    }
    # A whole query waits for the swap to end (it holds the swap lock).
    entered = threading.Event()

    def query() -> None:
        with b.reading():
            entered.set()

    q = threading.Thread(target=query)
    q.start()
    assert not entered.wait(0.5)
    release.set()
    writer.join(60)
    q.join(60)
    assert entered.is_set() and errors and isinstance(errors[0], KeyboardInterrupt)
    assert markers_in([b.document_text(DOC)]) == {"ALPHA"}
    for kind in KINDS:
        assert markers_in(u.text for u in b.document_units(kind, DOC)) == {"ALPHA"}
    # The uncommitted version's vectors were listed before they were written, and dropped.
    assert rows(database_url, "SELECT count(*) FROM stale_vectors") == [(0,)]
    a.close()
    b.close()


def test_one_writer_at_a_time_across_hosts(tmp_path, database_url):
    """The startup repair of one host waits for a write in flight on another: it would delete
    vectors that write has listed but not yet swapped in."""
    a = Store(tmp_path / "host_a", database_url=database_url)
    order: list[str] = []
    with a._writing():
        opened = threading.Thread(
            target=lambda: order.append(
                Store(tmp_path / "host_b", database_url=database_url).store_id
            )
        )
        opened.start()
        time.sleep(0.5)
        order.append("writer done")
    opened.join(30)
    assert order == ["writer done", a.store_id]
    a.close()


def test_document_text_round_trips_exactly(tmp_path, database_url, embedder):
    """Offsets index the stored text: PostgreSQL must return it character for character."""
    text = "Café Ünïcode 😀 Tabs\tand\r\nCRLF\n\nThe café reopened, officials said.\nSource: W\n"
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    store = Store(settings.data_dir, database_url=database_url)
    article = parse_article(text, "cafe", "cafe.txt")
    ingest_article(article, store, embedder, settings)
    assert store.document_text("cafe") == article.text
    for u in store.document_units("sentences", "cafe"):
        assert article.text[u.start : u.end] == u.text
    store.close()


def test_reindex_rebuilds_lost_vectors_from_postgres(tmp_path, database_url, embedder):
    """The database is the record: a vector store that lost its vectors is refused, then
    rebuilt from it."""
    from rag.ingest.reindex import reindex

    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    store = Store(settings.data_dir, database_url=database_url)
    ingest_article(other(), store, embedder, settings)
    ingest_article(harbour("ALPHA"), store, embedder, settings)
    vec = embedder.encode_one("Which harbour reopened after the storm?")
    before = [h.unit for h in store.dense_search("sentences", vec, 5)]
    store.reset_vectors()  # the collections empty, the rows kept
    store.close()

    with pytest.raises(StoreUnavailable, match="newsdesk reindex"):
        Store(settings.data_dir, database_url=database_url)
    report = reindex(settings, show_progress=False, embedder=embedder)
    assert report.documents == 2
    store = Store(settings.data_dir, database_url=database_url)
    assert [h.unit for h in store.dense_search("sentences", vec, 5)] == before
    for kind in KINDS:
        assert store.count_vectors(kind) == store.count(kind) > 0 == store.stale_count(kind)
    store.close()


def test_the_cli_keeps_its_documents_in_the_database(tmp_path, database_url):
    """`NEWSDESK_DATABASE_URL` is all a command needs; a bad one is one line, password hidden."""
    import json

    from test_cli import one_line, run_from

    env = {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": database_url}
    seed = SEEDS / "000_0ab7ffefb9095089.txt"
    r = run_from(tmp_path, "ingest", "-q", str(seed), env=env)
    assert r.returncode == 0, r.stderr
    r = run_from(tmp_path, "search", "Healey skies safe", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["results"][0]["doc_id"] == seed.stem
    info = json.loads(run_from(tmp_path, "info", "--json", env=env).stdout)
    assert info["database_url"] == shown_url(database_url)
    assert info["store"]["documents"] == 1 and info["store_problem"] is None
    assert rows(database_url, "SELECT doc_id FROM documents") == [(seed.stem,)]
    assert not (tmp_path / "data" / "documents.sqlite3").exists()

    env["NEWSDESK_DATABASE_URL"] = "postgresql://u:pw@/db?host=/nonexistent&connect_timeout=2"
    r = run_from(tmp_path, "search", "Healey", env=env)
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert "unavailable" in line and ":pw@" not in line


# ---- the eval on PostgreSQL (newsdesk eval --database-url) ------------------------------------


def test_eval_keeps_each_corpus_in_a_scratch_database_dropped_after(pg_server, tmp_path, embedder):
    from eval.corpora import CORPORA
    from eval.harness import corpus_engine
    from eval.servers import scratch_database

    admin = pg_server.url()
    with scratch_database(admin) as url:
        name = url.split("?")[0].rsplit("/", 1)[1]
        engine = corpus_engine(Settings(), tmp_path, CORPORA["seeds"], embedder, database_url=url)
        assert engine.store.database_url == url
        assert len(engine.store.list_documents()) == 5
        assert rows(url, "SELECT count(*) FROM documents") == [(5,)]
        assert not list(tmp_path.rglob("documents.sqlite3")), "nothing in SQLite"
        assert engine.search("Which countries refused to send troops?").results
        engine.store.close()
    assert (name,) not in rows(admin, "SELECT datname FROM pg_database")

    nowhere = scratch_database("postgresql://u:secret@/postgres?host=/nonexistent")
    with pytest.raises(StoreUnavailable, match="unavailable"), nowhere:
        pass
