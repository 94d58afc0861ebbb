"""Load a running newsdesk server and print throughput, latency percentiles and error counts.

    .venv/bin/python scripts/load.py --url http://127.0.0.1:8000 --endpoint ask \
        --requests 32 --concurrency 8

Each worker sends its next question as soon as its previous one is answered. 503 (queue full)
is counted apart from other errors because it is the server protecting itself, not failing.
For `--endpoint stream` the time to the `sources` event and to the first token are reported too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

QUESTIONS = [
    "Which countries refused to send troops to Ukraine?",
    "Who is the UK Defence Secretary?",
    "What did Russia say about Western troops in Ukraine?",
    "Who did John Healey hold discussions with?",
    "What is the coalition of the willing?",
    "How many soldiers does Ukraine's army have?",
    "What did Keir Starmer propose?",
    "Which outlet reported on Italy's position?",
]


@dataclass
class Result:
    status: int | None
    seconds: float
    first_event: float | None = None
    first_token: float | None = None
    error: str | None = None


@dataclass
class Tally:
    results: list[Result] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, result: Result) -> None:
        with self.lock:
            self.results.append(result)


def one_request(client: httpx.Client, endpoint: str, question: str) -> Result:
    started = time.perf_counter()
    try:
        if endpoint == "search":
            r = client.post("/v1/search", json={"query": question})
            return Result(r.status_code, time.perf_counter() - started)
        if endpoint == "ask":
            r = client.post("/v1/ask", json={"question": question})
            return Result(r.status_code, time.perf_counter() - started)
        if endpoint == "chat":
            r = client.post(
                "/v1/chat/completions", json={"messages": [{"role": "user", "content": question}]}
            )
            return Result(r.status_code, time.perf_counter() - started)
        first_event = first_token = None
        with client.stream("POST", "/v1/ask/stream", json={"question": question}) as r:
            if r.status_code != 200:
                r.read()
                return Result(r.status_code, time.perf_counter() - started)
            for line in r.iter_lines():
                now = time.perf_counter() - started
                if line.startswith("event: sources") and first_event is None:
                    first_event = now
                elif line.startswith("event: token") and first_token is None:
                    first_token = now
                elif line.startswith("event: error"):
                    return Result(500, now, first_event, first_token, "error event")
        return Result(200, time.perf_counter() - started, first_event, first_token)
    except httpx.HTTPError as exc:
        return Result(None, time.perf_counter() - started, error=type(exc).__name__)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    tally = Tally()
    counter = iter(range(args.requests))
    counter_lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(base_url=args.url, headers=headers, timeout=args.timeout) as client:
            while True:
                with counter_lock:
                    i = next(counter, None)
                if i is None:
                    return
                tally.add(one_request(client, args.endpoint, QUESTIONS[i % len(QUESTIONS)]))

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started

    statuses = Counter(r.status for r in tally.results)
    ok = [r for r in tally.results if r.status == 200]
    latencies = [r.seconds for r in ok]
    report: dict[str, object] = {
        "endpoint": args.endpoint,
        "requests": len(tally.results),
        "concurrency": args.concurrency,
        "wall_s": round(wall, 2),
        "ok": len(ok),
        "busy_503": statuses.get(503, 0),
        "other_4xx": sum(n for s, n in statuses.items() if s and 400 <= s < 500),
        "server_5xx_not_503": sum(n for s, n in statuses.items() if s and s >= 500 and s != 503),
        "transport_errors": statuses.get(None, 0),
        "throughput_ok_per_s": round(len(ok) / wall, 3) if wall else 0.0,
        "latency_s": {
            "p50": round(percentile(latencies, 0.50), 3),
            "p95": round(percentile(latencies, 0.95), 3),
            "p99": round(percentile(latencies, 0.99), 3),
            "max": round(max(latencies), 3) if latencies else None,
            "mean": round(statistics.fmean(latencies), 3) if latencies else None,
        },
    }
    if args.endpoint == "stream":
        firsts = [r.first_event for r in ok if r.first_event is not None]
        tokens = [r.first_token for r in ok if r.first_token is not None]
        report["sources_event_s"] = {
            "p50": round(percentile(firsts, 0.5), 3),
            "p95": round(percentile(firsts, 0.95), 3),
        }
        report["first_token_s"] = {
            "p50": round(percentile(tokens, 0.5), 3),
            "p95": round(percentile(tokens, 0.95), 3),
        }
    return report


def print_table(report: dict[str, object]) -> None:
    for key, value in report.items():
        if isinstance(value, dict):
            inner = "  ".join(f"{k}={v}" for k, v in value.items())
            print(f"{key:<22} {inner}")
        else:
            print(f"{key:<22} {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--endpoint", choices=["ask", "stream", "chat", "search"], default="ask")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be at least 1")
    try:
        httpx.get(f"{args.url}/healthz", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        print(f"load: no newsdesk server at {args.url} ({exc})", file=sys.stderr)
        return 2
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0 if report["server_5xx_not_503"] == 0 and report["transport_errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
