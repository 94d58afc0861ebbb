"""`newsdesk ingest` beside a running server on the same data dir, with real processes: the
server in this process over a real store, the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from conftest import SEEDS, live_server

from api.app import create_app
from rag.config import PROJECT_ROOT, Settings
from rag.engine import Engine
from rag.index.owner import RECORD_FILE, read_record, server_owns, serving

ARTICLES = {
    "lighthouse.txt": (
        "Harbour town opens new lighthouse museum\n\n"
        "The town of Port Ellery opened a lighthouse museum on Saturday. The museum cost 3 "
        "million pounds and was paid for by the harbour trust. Mayor Ada Quint said 4,000 "
        "visitors came on the first day.\n\nSource: Ellery Gazette\n"
    ),
    "ferry.txt": (
        "Island ferry service resumes after storm\n\n"
        "The ferry between Carrow and Leith Island sailed again on Monday after a storm damaged "
        "the pier. Engineers from the county council repaired the pier in nine days. The "
        "operator said 600 passengers booked the first crossing.\n\nSource: Carrow Times\n"
    ),
    "orchard.txt": (
        "Community orchard planted on old rail line\n\n"
        "Volunteers planted 120 apple trees along the disused rail line at Brindle on Sunday. "
        "The orchard was funded by a lottery grant of 40,000 pounds. Organiser Mina Osei said "
        "the first fruit is expected in three years.\n\nSource: Brindle Post\n"
    ),
}


def newsdesk(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEWSDESK_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "rag.frontend.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=PROJECT_ROOT,
    )


def search(url: str, query: str) -> list[dict]:
    r = httpx.post(f"{url}/v1/search", json={"query": query, "limit": 5}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_cli_ingest_beside_a_running_server_keeps_it_answering(tmp_path, embedder):
    settings = Settings(data_dir=tmp_path / "data")
    engine = Engine(settings)
    engine.__dict__["embedder"] = embedder
    engine.ingest([SEEDS])
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")

    with live_server(create_app(engine=engine)) as url, serving(settings.data_dir, url):
        assert search(url, "Which countries refused to send troops to Ukraine?")
        assert server_owns(settings.data_dir) is not None
        assert (settings.data_dir / RECORD_FILE).stat().st_mode & 0o077 == 0  # owner only

        run = newsdesk("ingest", str(folder), "--quiet", data_dir=settings.data_dir)
        assert run.returncode == 0, run.stderr
        assert "through the server" in run.stderr and "3 added" in run.stderr, run.stderr

        # The server answers from the new articles and the old ones, with no 500s.
        for query, doc_id in [
            ("How many visitors came to the lighthouse museum?", "lighthouse"),
            ("When did the island ferry sail again?", "ferry"),
            ("How many apple trees did volunteers plant?", "orchard"),
        ]:
            assert search(url, query)[0]["doc_id"] == doc_id
        assert search(url, "Which countries refused to send troops to Ukraine?")
        assert httpx.get(f"{url}/readyz", timeout=60).status_code in (200, 503)

        # Unchanged files are skipped, a changed one replaced and a removed one deleted, as by
        # a local ingest; the server's view stays whole throughout.
        (folder / "orchard.txt").unlink()
        changed = ARTICLES["ferry.txt"].replace("600 passengers", "750 passengers")
        (folder / "ferry.txt").write_text(changed, encoding="utf-8")
        run = newsdesk("ingest", str(folder), "--quiet", data_dir=settings.data_dir)
        assert run.returncode == 0, run.stderr
        assert "1 updated, 1 unchanged, 1 removed" in run.stderr, run.stderr
        hits = search(url, "How many passengers booked the first ferry crossing?")
        assert hits[0]["doc_id"] == "ferry" and "750" in " ".join(h["text"] for h in hits)
        assert all(h["doc_id"] != "orchard" for h in search(url, "apple trees orchard"))

        # A bad file fails in one line, as it does locally, and the server is unharmed.
        (folder / "broken.txt").write_bytes(b"\x7fELF\x02\x01\x00" * 40)
        run = newsdesk("ingest", str(folder), "--quiet", data_dir=settings.data_dir)
        assert run.returncode == 1
        lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
        assert search(url, "lighthouse museum visitors")[0]["doc_id"] == "lighthouse"

        for kind in ("chunks", "sentences"):  # every passage has exactly one vector
            assert engine.store.count(kind) == engine.store.count_vectors(kind)

    # Once the server is gone its claim is too, and the CLI writes the store itself again.
    assert server_owns(settings.data_dir) is None and read_record(settings.data_dir) is None
    (folder / "broken.txt").unlink()
    run = newsdesk("ingest", str(folder), "--quiet", data_dir=settings.data_dir)
    assert run.returncode == 0 and "through the server" not in run.stderr, run.stderr
    assert "2 unchanged" in run.stderr, run.stderr
