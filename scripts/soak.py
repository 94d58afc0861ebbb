"""Soak one newsdesk server with mixed, concurrent use and check nothing was lost or misquoted.

    .venv/bin/python scripts/soak.py --minutes 20            # start a server on a temp data dir
    .venv/bin/python scripts/soak.py --minutes 2 --llm qwen2.5-coder-0.5b
    .venv/bin/python scripts/soak.py --url http://127.0.0.1:8000 --data-dir data

Bounded in time (`--minutes`) and in count (`--max-requests`), and loopback only: it starts
`newsdesk serve` on 127.0.0.1 (or connects to a loopback `--url`). One client thread asks and
streams (the model answers one question at a time, so more askers only queue); the others search,
upload, re-upload, read and delete their own documents; one CLI `newsdesk ingest` runs beside the
server part-way through. At the end it prints counts by status and p50/p95 per endpoint, then
checks that every citation quote equals its document's text at the cited offsets, and (with the
server stopped) that every stored passage and sentence has exactly one vector and no vector is
left over. Exits 1 on any 5xx other than 503 (busy), any transport error or timeout, any
mismatch, or a CLI ingest that fails with more than one line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "Which countries refused to send troops to Ukraine?",
    "Who is the UK Defence Secretary?",
    "What did Keir Starmer propose?",
    "How many visitors came to the lighthouse museum on its first day?",
    "Who guides the tours of the lighthouse?",
]
QUERIES = [
    "Italy troops",
    "coalition of the willing",
    "lighthouse museum visitors",
    "harbour trust cost",
    "John Healey discussions",
]
TOWNS = ["Port Ellery", "Marden Vale", "Castlebrook", "Wenlow Bay", "Ashford Cross"]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def story(owner: int, k: int, version: int) -> str:
    """A small article whose facts change with each version, so a stale quote shows."""
    town = TOWNS[(owner + k) % len(TOWNS)]
    visitors = 1000 + 97 * k + 13 * version
    return (
        f"{town} opens lighthouse museum, edition {version}\n\n"
        f"The town of {town} opened a lighthouse museum on Saturday. The museum cost "
        f"{3 + version} million pounds and was paid for by the harbour trust. Mayor Ada Quint "
        f"said {visitors:,} visitors came on the first day. The old lighthouse keeper, Tom "
        f"Reyes, now guides tours {2 + version % 3} times a week. Entry is free for children "
        f"under {10 + k % 5}, and the trust plans a second gallery next spring.\n\n"
        f"Source: Soak Gazette {owner}\n"
    )


@dataclass
class Tally:
    """Everything the clients saw, shared between threads."""

    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    citations: list[dict] = field(default_factory=list)
    passages: list[dict] = field(default_factory=list)
    texts: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    notes: list[str] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, endpoint: str, status: int | str, seconds: float) -> None:
        with self.lock:
            self.statuses[endpoint][status] += 1
            self.seconds[endpoint].append(seconds)

    def take(self, limit: int) -> bool:
        """Count one request against the bound; False once it is spent."""
        with self.lock:
            if self.requests >= limit:
                return False
            self.requests += 1
            return True

    def note(self, text: str) -> None:
        with self.lock:
            self.notes.append(text)


class Soak:
    def __init__(self, base: str, tally: Tally, deadline: float, limit: int, key: str | None):
        self.base, self.tally, self.deadline, self.limit = base, tally, deadline, limit
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def running(self) -> bool:
        return time.monotonic() < self.deadline and self.tally.take(self.limit)

    def call(self, client: httpx.Client, endpoint: str, method: str, path: str, **kw):
        """One request, timed and tallied by endpoint and status; None on a transport error."""
        started = time.perf_counter()
        try:
            r = client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            self.tally.record(endpoint, type(exc).__name__, time.perf_counter() - started)
            return None
        self.tally.record(endpoint, r.status_code, time.perf_counter() - started)
        if r.status_code >= 500 and r.status_code != 503:
            self.tally.note(f"{endpoint} {r.status_code}: {r.text[:300]}")
        return r

    def keep_citations(self, answer: dict) -> None:
        with self.tally.lock:
            for c in answer.get("citations", []):
                self.tally.citations.append(c)
                self.tally.citations.extend(
                    {**a, "quote": a["quote"]} for a in c.get("also_in", []) if "quote" in a
                )

    # ---- the asker -----------------------------------------------------------------------------

    def asker(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=600) as client:
            n = 0
            while self.running():
                question = QUESTIONS[n % len(QUESTIONS)]
                if n % 2 == 0:
                    r = self.call(client, "ask", "POST", "/v1/ask", json={"question": question})
                    if r is not None and r.status_code == 200:
                        self.keep_citations(r.json())
                else:
                    self.stream(client, question)
                n += 1

    def stream(self, client: httpx.Client, question: str) -> None:
        started = time.perf_counter()
        try:
            with client.stream("POST", "/v1/ask/stream", json={"question": question}) as r:
                if r.status_code != 200:
                    r.read()
                    self.tally.record("stream", r.status_code, time.perf_counter() - started)
                    return
                events, name, data = [], None, []
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line and data:
                        events.append((name, json.loads("\n".join(data))))
                        name, data = None, []
        except httpx.HTTPError as exc:
            self.tally.record("stream", type(exc).__name__, time.perf_counter() - started)
            return
        final = [body for kind, body in events if kind == "answer"]
        errors = [body for kind, body in events if kind == "error"]
        status: int | str = 200 if final and not errors else "200+error-event"
        self.tally.record("stream", status, time.perf_counter() - started)
        if errors:
            self.tally.note(f"stream error event: {errors[0]}")
        if final:
            self.keep_citations(final[0])

    # ---- the document clients ------------------------------------------------------------------

    def documents(self, owner: int) -> None:
        """Search, upload, re-upload, read and delete documents only this thread names, so every
        version of its documents' text is known when their citations are checked."""
        rng = random.Random(owner)
        live: list[str] = []
        versions: dict[str, int] = {}
        k = 0
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=120) as client:
            while self.running():
                op = rng.choice(["search", "search", "upload", "reupload", "delete", "read"])
                if op == "search":
                    query = rng.choice(QUERIES)
                    r = self.call(client, "search", "POST", "/v1/search", json={"query": query})
                    if r is not None and r.status_code == 200:
                        with self.tally.lock:  # a passage's text is its document's [start:end]
                            self.tally.passages.extend(
                                {**h, "quote": h["text"]} for h in r.json()["results"]
                            )
                elif op == "upload" or (op == "reupload" and not live):
                    doc_id = f"soak-{owner}-{k}"
                    k += 1
                    if self.upload(client, "upload", doc_id, 0, multipart=k % 2 == 0):
                        live.append(doc_id)
                        versions[doc_id] = 0
                elif op == "reupload":
                    doc_id = rng.choice(live)
                    versions[doc_id] += 1
                    self.upload(client, "reupload", doc_id, versions[doc_id], rng.random() < 0.5)
                elif op == "delete" and len(live) > 1:
                    doc_id = live.pop(0)
                    self.call(client, "delete", "DELETE", f"/v1/documents/{doc_id}")
                else:
                    self.call(client, "list", "GET", "/v1/documents")

    def upload(
        self, client: httpx.Client, endpoint: str, doc_id: str, version: int, multipart: bool
    ) -> bool:
        text = story(int(doc_id.split("-")[1]), int(doc_id.split("-")[2]), version)
        if multipart:
            files = {"file": (f"{doc_id}.txt", text.encode(), "text/plain")}
            r = self.call(client, endpoint, "POST", "/v1/documents", files=files)
        else:
            body = {"text": text, "doc_id": doc_id}
            r = self.call(client, endpoint, "POST", "/v1/documents", json=body)
        if r is None or r.status_code not in (200, 201, 202):
            return False
        if r.status_code == 202:  # accepted as a job: follow it, bounded
            job = r.json()["job_id"]
            state = "queued"
            for _ in range(600):
                j = self.call(client, "job", "GET", f"/v1/jobs/{job}")
                state = (
                    j.json().get("status", "?") if j is not None and j.status_code == 200 else "?"
                )
                if state not in ("queued", "running"):
                    break
                time.sleep(0.5)
            if state != "done":  # a failed job is a 500 the client never saw
                self.tally.record("job", f"job {state}", 0.0)
                self.tally.note(f"upload job {job} of {doc_id} ended {state}: {j and j.text[:300]}")
                return False
        got = self.call(client, "read", "GET", f"/v1/documents/{doc_id}")
        if got is not None and got.status_code == 200:
            with self.tally.lock:
                self.tally.texts[doc_id].add(got.json()["text"])
        return True

    # ---- the CLI beside the server -------------------------------------------------------------

    def cli_ingest(self, data_dir: Path, delay: float) -> None:
        time.sleep(delay)
        if time.monotonic() >= self.deadline:
            return
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="soak-cli-") as tmp:
            folder = Path(tmp)
            for i in range(3):
                (folder / f"soak-cli-{i}.txt").write_text(story(9, i, 0), encoding="utf-8")
            proc = subprocess.run(
                [sys.executable, "-m", "rag.frontend.cli", "ingest", "-q", str(folder)],
                env={**os.environ, "NEWSDESK_DATA_DIR": str(data_dir)},
                capture_output=True,
                text=True,
                timeout=600,
                cwd=ROOT,
            )
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        ok = proc.returncode == 0 or (len(lines) == 1 and "Traceback" not in proc.stderr)
        self.tally.record("cli ingest", f"exit {proc.returncode}", time.perf_counter() - started)
        self.tally.note(f"cli ingest exit {proc.returncode}: {lines[-1] if lines else ''}")
        if not ok:
            self.tally.note(f"cli ingest failed badly:\n{proc.stderr[-2000:]}")
            self.tally.record("cli ingest", "bad failure", 0.0)


# ---- server ------------------------------------------------------------------------------------


def start_server(data_dir: Path, llm: str | None, log: Path) -> tuple[subprocess.Popen, str]:
    from api.server import free_port

    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "rag.frontend.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if llm and urlsplit(llm).scheme in ("http", "https"):
        cmd += ["--llm-url", llm]
    elif llm:
        cmd += ["--model", llm]
    env = {**os.environ, "NEWSDESK_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(1)
    proc.kill()
    raise SystemExit(f"the server was not ready within 600 s; see {log}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---- checks ------------------------------------------------------------------------------------


def check_citations(client: httpx.Client, tally: Tally) -> tuple[int, list[str]]:
    """Each quote must be its document's text at the cited offsets, in a version the document
    had: the soak uploaded its own versions; other documents (seeds, the CLI's) are read now."""
    problems: list[str] = []
    for c in [*tally.citations, *tally.passages]:
        doc_id = c["doc_id"]
        if doc_id not in tally.texts:
            r = client.get(f"/v1/documents/{doc_id}")
            if r.status_code == 200:
                tally.texts[doc_id].add(r.json()["text"])
        if not any(t[c["start"] : c["end"]] == c["quote"] for t in tally.texts.get(doc_id, ())):
            problems.append(f"quote {doc_id}[{c['start']}:{c['end']}] {c['quote'][:60]!r}")
    return len(tally.citations) + len(tally.passages), problems


def check_vectors(data_dir: Path) -> tuple[dict[str, int], list[str]]:
    """Every unit row has exactly one vector, under its live id; no vector names no row.

    Read straight from SQLite and Chroma (not through `Store`, whose opening repairs)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    db = sqlite3.connect(data_dir / "documents.sqlite3")
    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    counts: dict[str, int] = {}
    problems: list[str] = []
    for kind in ("chunks", "sentences"):
        live = {
            uid if version is None else f"{uid}@{version}": uid
            for uid, version in db.execute(f"SELECT unit_id, version FROM {kind}")
        }
        stored = client.get_collection(kind).get(include=[])["ids"]
        per_unit = Counter(v.rpartition("@")[0] or v for v in stored)
        counts[kind] = len(live)
        missing = [v for v in live if v not in set(stored)]
        extra = [v for v in stored if v not in live]
        doubled = [u for u in live.values() if per_unit[u] != 1]
        for label, ids in (("no vector", missing), ("vector of no row", extra)):
            if ids:
                problems.append(f"{kind}: {len(ids)} {label}, e.g. {ids[:3]}")
        if doubled:
            problems.append(f"{kind}: {len(doubled)} units without exactly one vector")
    db.close()
    return counts, problems


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def print_table(tally: Tally, out=sys.stdout) -> None:
    print(f"{'endpoint':<12} {'n':>5}  {'p50 s':>7} {'p95 s':>7}  statuses", file=out)
    for endpoint in sorted(tally.statuses):
        times = tally.seconds[endpoint]
        counts = sorted(tally.statuses[endpoint].items(), key=lambda item: str(item[0]))
        statuses = ", ".join(f"{s}: {n}" for s, n in counts)
        print(
            f"{endpoint:<12} {len(times):>5}  {percentile(times, 50):>7.2f} "
            f"{percentile(times, 95):>7.2f}  {statuses}",
            file=out,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="How long to run.")
    parser.add_argument("--max-requests", type=int, default=20_000, help="Stop after this many.")
    parser.add_argument("--clients", type=int, default=3, help="Client threads (one asks).")
    parser.add_argument("--llm", help="Model preset, .gguf path or model-server URL for serve.")
    parser.add_argument("--url", help="A running loopback server instead of starting one.")
    parser.add_argument("--data-dir", type=Path, help="The server's data dir (with --url).")
    parser.add_argument("--json", type=Path, help="Also write the results to this file.")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 120 or args.clients < 2 or args.max_requests < 1:
        parser.error("--minutes must be in (0, 120], --clients at least 2")
    if args.url and (urlsplit(args.url).hostname not in LOOPBACK or not args.data_dir):
        parser.error("--url must be a loopback address (127.0.0.1) and needs --data-dir")

    key = os.environ.get("NEWSDESK_API_KEY") or None
    tmp = None if args.url else tempfile.TemporaryDirectory(prefix="soak-")
    data_dir = args.data_dir or Path(tmp.name) / "data"
    proc = None
    if args.url:
        base = args.url.rstrip("/")
    else:
        log = Path(tmp.name) / "server.log"
        print(f"starting newsdesk serve on {data_dir} (log {log}) …", file=sys.stderr)
        proc, base = start_server(data_dir, args.llm, log)
    tally = Tally()
    try:
        started = time.monotonic()
        deadline = started + args.minutes * 60
        soak = Soak(base, tally, deadline, args.max_requests, key)
        threads = [threading.Thread(target=soak.asker, name="asker")]
        threads += [
            threading.Thread(target=soak.documents, args=(i,), name=f"docs-{i}")
            for i in range(1, args.clients)
        ]
        threads.append(
            threading.Thread(
                target=soak.cli_ingest, args=(data_dir, args.minutes * 60 / 3), name="cli"
            )
        )
        print(f"soaking {base} for {args.minutes:g} min with {args.clients} clients …")
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        with httpx.Client(base_url=base, headers=soak.headers, timeout=120) as client:
            _, citation_problems = check_citations(client, tally)
    finally:
        if proc is not None:
            stop_server(proc)
    counts, vector_problems = check_vectors(data_dir)

    print(f"\n{tally.requests} requests in {elapsed:.0f} s")
    print_table(tally)
    server_errors = sum(
        n
        for statuses in tally.statuses.values()
        for s, n in statuses.items()
        if not (isinstance(s, int) and (s < 500 or s == 503)) and not str(s).startswith("exit")
    )
    print(f"\n5xx other than 503, transport errors, failed streams: {server_errors}")
    print(
        f"quotes checked: {len(tally.citations)} citations, {len(tally.passages)} search "
        f"passages; mismatches: {len(citation_problems)}"
    )
    print(
        f"vectors checked: {counts.get('chunks', 0)} chunks, {counts.get('sentences', 0)} "
        f"sentences; mismatches: {len(vector_problems)}"
    )
    for line in [*tally.notes, *citation_problems, *vector_problems][:40]:
        print(f"  {line}")
    failed = server_errors or citation_problems or vector_problems
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "requests": tally.requests,
                    "seconds": elapsed,
                    "statuses": {
                        e: {str(s): n for s, n in c.items()} for e, c in tally.statuses.items()
                    },
                    "p50": {e: percentile(v, 50) for e, v in tally.seconds.items()},
                    "p95": {e: percentile(v, 95) for e, v in tally.seconds.items()},
                    "server_errors": server_errors,
                    "citations": len(tally.citations),
                    "passages": len(tally.passages),
                    "citation_mismatches": citation_problems,
                    "vectors": counts,
                    "vector_mismatches": vector_problems,
                    "notes": tally.notes,
                },
                indent=1,
            ),
            encoding="utf-8",
        )
    if failed and proc is not None:
        print("\nlast lines of the server log:")
        print("".join(log.read_text(errors="replace").splitlines(keepends=True)[-40:]))
    if tmp is not None:
        tmp.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
