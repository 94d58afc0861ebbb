"""Embedded vs server mode, measured on real processes: `newsdesk bench --deploy`.

Five topologies, each serving the seeds over HTTP from `newsdesk serve` processes:

* embedded — one replica with the local Chroma store and the model in its own process;
* server, 1 replica — vectors on a `chroma run` server, generation on llama-cpp-python's
  OpenAI-compatible server (same GGUF, same threads);
* server, 2 replicas — two `newsdesk serve` processes sharing that Chroma server, that model
  server and one data dir, with clients spread round-robin over both;
* PostgreSQL, 1 and 2 replicas — the documents and lexical index in a PostgreSQL server, each
  replica with a data dir of its own (as on separate hosts), sharing the same Chroma and model
  servers. Skipped, saying so, when the PostgreSQL server binaries are not installed.

For each: sequential latency (search; ask end to end, time to sources and to first token), then
throughput under concurrent clients for search and for ask.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from eval.bench import _r, bench_questions, pct, stream_once
from eval.servers import chroma_server, llm_server, newsdesk_replica, pg_bin_dir, postgres_server
from rag.config import Settings
from rag.llm.generation import physical_cores
from rag.llm.model_files import resolve_model


def _latency(urls: list[str], questions: list[str], searches: int) -> dict[str, object]:
    url = urls[0]
    stream_once(url, questions[0])  # warm: the system prompt's KV and every lazy import
    with httpx.Client(base_url=url, timeout=60) as client:
        search_ms = []
        for i in range(searches):
            started = time.perf_counter()
            client.post("/v1/search", json={"query": questions[i % len(questions)]})
            search_ms.append((time.perf_counter() - started) * 1000)
    timings = [stream_once(url, q) for q in questions]
    totals = [t.total_s for t in timings]
    firsts = [t.first_token_s for t in timings if t.first_token_s is not None]
    sources = [t.sources_ms for t in timings]
    return {
        "search_ms": {"p50": _r(pct(search_ms, 0.5), 1), "p95": _r(pct(search_ms, 0.95), 1)},
        "ask_s": {"p50": _r(pct(totals, 0.5)), "p95": _r(pct(totals, 0.95))},
        "first_token_s": {"p50": _r(pct(firsts, 0.5)), "p95": _r(pct(firsts, 0.95))},
        "sources_ms": {"p50": _r(pct(sources, 0.5), 1)},
        "answered": sum(t.answerable for t in timings),
    }


def _throughput(
    urls: list[str], requests: int, concurrency: int, send: Callable[[httpx.Client, int], int]
) -> dict[str, object]:
    """Closed loop: each client sends its next request when the last is answered."""
    counter = iter(range(requests))
    lock = threading.Lock()
    statuses: list[int] = []
    latencies: list[float] = []

    def worker(k: int) -> None:
        with httpx.Client(base_url=urls[k % len(urls)], timeout=900) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                started = time.perf_counter()
                try:
                    status = send(client, i)
                except httpx.HTTPError:
                    status = 0
                with lock:
                    statuses.append(status)
                    if status == 200:
                        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ok = statuses.count(200)
    return {
        "requests": requests,
        "concurrency": concurrency,
        "ok": ok,
        "busy_503": statuses.count(503),
        "errors": len(statuses) - ok - statuses.count(503),
        "per_s": round(ok / wall, 3),
        "latency_p50_s": _r(pct(latencies, 0.5), 3),
        "wall_s": round(wall, 1),
    }


def _load(urls: list[str], questions: list[str], asks: int, concurrency: int) -> dict[str, object]:
    def search(client: httpx.Client, i: int) -> int:
        body = {"query": questions[i % len(questions)]}
        return client.post("/v1/search", json=body).status_code

    def ask(client: httpx.Client, i: int) -> int:
        return client.post("/v1/ask", json={"question": questions[i % len(questions)]}).status_code

    return {
        "search_load": _throughput(urls, 200, 8, search),
        "ask_load": _throughput(urls, asks, concurrency, ask),
    }


def run_deploy_bench(
    settings: Settings,
    n_questions: int = 6,
    asks: int = 8,
    concurrency: int = 4,
    console: Console | None = None,
) -> dict[str, object]:
    console = console or Console(stderr=True)
    questions = bench_questions(n_questions)
    model_path = resolve_model(settings.model, settings.cache_dir, show_progress=True)
    threads = settings.n_threads or physical_cores()
    report: dict[str, object] = {
        "model": settings.model,
        "questions": len(questions),
        "threads": threads,
    }
    # The load repeats a few questions: every one must be answered, not given from the cache.
    common = {
        "NEWSDESK_MODEL": settings.model,
        "NEWSDESK_N_THREADS": str(threads),
        "NEWSDESK_ANSWER_CACHE": "0",
    }

    def alone(url: str) -> dict[str, object]:
        return {**_latency([url], questions, 40), **_load([url], questions, asks, concurrency)}

    def servers(stack: contextlib.ExitStack, chroma_dir: str) -> dict[str, str]:
        """A fresh `chroma run` and model server for one topology, as replica settings."""
        chroma = stack.enter_context(chroma_server(work / chroma_dir, work))
        llm = stack.enter_context(llm_server(model_path, work, n_threads=threads))
        return {**common, "NEWSDESK_CHROMA_URL": chroma, "NEWSDESK_LLM_URL": llm}

    def one_then_two(
        stack: contextlib.ExitStack,
        envs: tuple[dict[str, str], dict[str, str]],
        label: str,
        logs: str,
    ) -> tuple[dict[str, object], dict[str, object]]:
        """One replica timed alone and under load, then a second beside it sharing the load."""
        a = stack.enter_context(
            newsdesk_replica(envs[0], work / f"{logs}-a.log", ingest_seeds=True)
        )
        console.print(f"{label}: 1 replica …")
        one = alone(a)
        b = stack.enter_context(newsdesk_replica(envs[1], work / f"{logs}-b.log"))
        console.print(f"{label}: 2 replicas …")
        return one, _load([a, b], questions, asks, concurrency)

    with tempfile.TemporaryDirectory(prefix="newsdesk-deploy-") as tmp:
        work = Path(tmp)
        console.print("embedded: one replica, local Chroma, model in process …")
        local = {"NEWSDESK_CHROMA_URL": "", "NEWSDESK_LLM_URL": ""}  # whatever the shell says
        env = {**common, **local, "NEWSDESK_DATA_DIR": str(work / "embedded")}
        with newsdesk_replica(env, work / "embedded.log", ingest_seeds=True) as url:
            report["embedded"] = alone(url)
        with contextlib.ExitStack() as stack:
            console.print("server mode: chroma run + llama_cpp.server …")
            shared = {**servers(stack, "chroma"), "NEWSDESK_DATA_DIR": str(work / "shared")}
            report["server_1_replica"], report["server_2_replicas"] = one_then_two(
                stack, (shared, shared), "server mode, one data dir", "server"
            )
        pg_bin = pg_bin_dir()
        if pg_bin is None:
            report["postgres"] = "skipped: no PostgreSQL server (apt-get install postgresql)"
        else:
            with contextlib.ExitStack() as stack:
                database = stack.enter_context(postgres_server(pg_bin)).create_database()
                hosts = {**servers(stack, "chroma-pg"), "NEWSDESK_DATABASE_URL": database}
                envs = (
                    {**hosts, "NEWSDESK_DATA_DIR": str(work / "host_a")},
                    {**hosts, "NEWSDESK_DATA_DIR": str(work / "host_b")},
                )
                report["postgres_1_replica"], report["postgres_2_replicas"] = one_then_two(
                    stack, envs, "PostgreSQL, a data dir each", "pg"
                )
    embedded, server = report["embedded"], report["server_1_replica"]
    report["ask_overhead_p50"] = _ratio(embedded, server, "ask_s")
    report["search_overhead_p50"] = _ratio(embedded, server, "search_ms")
    return report


def _ratio(base: object, other: object, key: str) -> float | None:
    try:
        return round(other[key]["p50"] / base[key]["p50"] - 1, 3)  # type: ignore[index]
    except (KeyError, TypeError, ZeroDivisionError):
        return None


ROWS = [
    ("search p50 / p95 ms", "search_ms"),
    ("ask p50 / p95 s (sequential)", "ask_s"),
    ("first token p50 s", "first_token_s"),
    ("sources event p50 ms", "sources_ms"),
    ("answered", "answered"),
    ("search throughput /s (8 clients)", "search_load"),
    ("ask throughput /s", "ask_load"),
]
MODES = [
    "embedded",
    "server_1_replica",
    "server_2_replicas",
    "postgres_1_replica",
    "postgres_2_replicas",
]


def _cell(value: object) -> str:
    if isinstance(value, dict):
        if "per_s" in value:
            return (
                f"{value['per_s']} (p50 {value['latency_p50_s']} s, "
                f"{value['ok']} ok, {value['busy_503']} busy, {value['errors']} errors)"
            )
        return " / ".join(str(v) for v in value.values())
    return "—" if value is None else str(value)


def print_deploy(report: dict[str, object], console: Console) -> None:
    table = Table(title=f"embedded vs server mode — {report['model']}, {report['threads']} threads")
    table.add_column("measure")
    for mode in MODES:
        table.add_column(mode.replace("_", " "))
    for label, key in ROWS:
        table.add_row(label, *(_cell(report.get(m, {}).get(key)) for m in MODES))  # type: ignore[union-attr]
    console.print(table)
    if isinstance(report.get("postgres"), str):
        console.print(f"PostgreSQL topologies {report['postgres']}")
    console.print(
        f"server-mode overhead at p50: ask {report['ask_overhead_p50']}, "
        f"search {report['search_overhead_p50']}"
    )
