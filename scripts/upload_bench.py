"""Search latency while a large document is uploaded, against idle: do writes hold reads up?

    .venv/bin/python scripts/upload_bench.py                   # 2 MB, one sentence repeated
    .venv/bin/python scripts/upload_bench.py --kind distinct --max-seconds 120

It serves the seeds from a fresh temporary data dir on 127.0.0.1 (real store and embedder, no
language model: search needs none). It then times sequential searches while idle, and again
while one upload of `--bytes` is processed. `/healthz` and `/readyz` are polled meanwhile.
`--kind repeated` is one sentence over and over: little to embed, but tens of thousands of
passages to store. `--kind distinct` has every sentence different, so the embedding dominates.
The searches during the upload stop when its job finishes or after `--max-seconds`. It prints
p50/p95 for each phase and their ratio (the target is a p95 at most 2x idle), and what the
upload returned.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.app import create_app  # noqa: E402
from api.server import serve_in_thread  # noqa: E402
from rag.config import PROJECT_ROOT, Settings  # noqa: E402
from rag.engine import Engine  # noqa: E402

QUERIES = [
    "Which countries refused to send troops to Ukraine?",
    "Who is the UK Defence Secretary?",
    "What did Russia say about Western troops in Ukraine?",
    "How many soldiers does Ukraine's army have?",
]


def article(kind: str, size: int) -> bytes:
    head = "Harbour council report\n\n"
    if kind == "repeated":
        sentence = "The harbour council met again on Tuesday to discuss the new sea wall. "
        body = sentence * ((size - len(head)) // len(sentence))
    else:
        parts, i, total = [], 0, len(head)
        while total < size - 200:
            s = (
                f"Inspector {i} of the county reported {i * 7 % 97} cracked tiles and "
                f"{i * 13 % 89} loose railings in ward {i % 250} on day {i % 31}. "
            )
            parts.append(s)
            total += len(s)
            i += 1
        body = "".join(parts)
    return (head + body + "\n\nSource: Harbour Gazette\n").encode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed_searches(client: httpx.Client, n: int | None, stop: threading.Event) -> list[float]:
    times: list[float] = []
    i = 0
    while (n is None or i < n) and not stop.is_set():
        started = time.perf_counter()
        r = client.post("/v1/search", json={"query": QUERIES[i % len(QUERIES)], "limit": 8})
        if r.status_code != 200:
            raise SystemExit(f"search failed: {r.status_code} {r.text[:200]}")
        times.append(time.perf_counter() - started)
        i += 1
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=1_990_000, help="upload size")
    parser.add_argument("--kind", choices=["repeated", "distinct"], default="repeated")
    parser.add_argument("--idle", type=int, default=40, help="searches timed while idle")
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        engine = Engine(settings)
        engine.ingest([PROJECT_ROOT / "seeds"])
        with serve_in_thread(create_app(engine=engine)) as url:
            client = httpx.Client(base_url=url, timeout=600)
            timed_searches(client, 4, threading.Event())  # warm up
            idle = timed_searches(client, args.idle, threading.Event())

            stop = threading.Event()
            health: dict[str, list[float]] = {"/healthz": [], "/readyz": []}

            def poll() -> None:
                with httpx.Client(base_url=url, timeout=600) as c:
                    while not stop.is_set():
                        for path, times in health.items():
                            started = time.perf_counter()
                            c.get(path)
                            times.append(time.perf_counter() - started)
                        stop.wait(0.5)

            data = article(args.kind, args.bytes)
            started = time.perf_counter()
            r = client.post("/v1/documents", files={"file": ("harbour.txt", data)})
            accepted_s = time.perf_counter() - started
            if r.status_code not in (200, 201, 202):
                raise SystemExit(f"upload failed: {r.status_code} {r.text[:300]}")
            job = r.json().get("job_id") if r.status_code == 202 else None
            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            outcome: dict[str, object] = {"status": r.status_code}

            finished = threading.Event()

            def watch() -> None:
                while job:
                    state = httpx.get(f"{url}/v1/jobs/{job}", timeout=600).json()
                    if state["status"] in ("done", "failed"):
                        outcome.update(
                            job=state["status"],
                            finished_s=round(time.perf_counter() - started, 1),
                            result=state.get("result_status"),
                            error=state.get("error"),
                        )
                        break
                    outcome["progress"] = state["progress"]
                    time.sleep(1.0)
                finished.set()
                stop.set()

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            timer = threading.Timer(args.max_seconds, stop.set)
            timer.start()
            during = timed_searches(client, None, stop) if job else []
            stop.set()
            timer.cancel()
            poller.join()
            if not finished.is_set():
                print("searches done; waiting for the upload job to finish …", file=sys.stderr)
            finished.wait()  # the store must outlive the job

    report = {
        "upload": {
            "kind": args.kind,
            "bytes": len(data),
            "answered_s": round(accepted_s, 3),
            **outcome,
        },
        "idle": {"n": len(idle), "p50_ms": percentile(idle, 0.5) * 1e3},
        "during": {"n": len(during)},
        "health_max_ms": {p: max(t) * 1e3 if t else None for p, t in health.items()},
    }
    report["idle"]["p95_ms"] = percentile(idle, 0.95) * 1e3
    if during:
        report["during"].update(
            p50_ms=percentile(during, 0.5) * 1e3, p95_ms=percentile(during, 0.95) * 1e3
        )
        report["p95_ratio"] = report["during"]["p95_ms"] / report["idle"]["p95_ms"]
    if args.json:
        print(json.dumps(report, indent=2))
        return
    up = report["upload"]
    print(f"upload: {up['kind']}, {up['bytes']} bytes, HTTP {up['status']} in {up['answered_s']} s")
    if "job" in up:
        print(f"  job {up['job']} after {up['finished_s']} s (result HTTP {up['result']})")
    elif "progress" in up:
        print(f"  job still running at the end: {up['progress']}")
    i, d = report["idle"], report["during"]
    print(f"search idle:   n={i['n']:4d}  p50 {i['p50_ms']:7.1f} ms  p95 {i['p95_ms']:7.1f} ms")
    if during:
        print(f"search during: n={d['n']:4d}  p50 {d['p50_ms']:7.1f} ms  p95 {d['p95_ms']:7.1f} ms")
        print(f"p95 during / idle: {report['p95_ratio']:.2f} (target <= 2)")
    for path, ms in report["health_max_ms"].items():
        print(f"{path} slowest during the upload: {ms:.1f} ms" if ms else f"{path}: not polled")


if __name__ == "__main__":
    main()
