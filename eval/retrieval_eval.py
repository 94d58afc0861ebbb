"""Score retrieval and context assembly alone, without generating: fast enough to compare
retrieval settings (dense vs hybrid, near-duplicate handling) on every golden question.

Document recall@5 is nearly free on a five-article corpus, so two context measures carry the
signal: whether every gold answer group appears in the passages the model would see (answer
coverage), and how many of the gold articles those passages cover, counting `also_in`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from eval.metrics import answer_present, bootstrap, percentile
from eval.runner import GoldQuestion
from rag.engine import Engine

RETRIEVAL_METRICS = [
    ("recall_at_5", "doc recall@5 ↑"),
    ("mrr_at_10", "doc MRR@10 ↑"),
    ("context_answer_coverage", "gold answer in context ↑"),
    ("context_doc_recall", "gold docs in context (incl. also_in) ↑"),
    ("context_tokens", "context tokens ↓"),
]


def score_retrieval(engine: Engine, q: GoldQuestion) -> dict[str, float]:
    started = time.perf_counter()
    result = engine.retrieve(q.question)
    passages = engine.context(result, q.question)
    elapsed_ms = (time.perf_counter() - started) * 1000
    ranked = result.ranked_doc_ids()
    gold = set(q.gold_doc_ids)
    text = "\n".join(p.text for p in passages)
    context_docs = {p.document.doc_id for p in passages} | {
        a.doc_id for p in passages for a in p.also_in
    }
    rank = next((i for i, d in enumerate(ranked[:10], start=1) if d in gold), None)
    return {
        "recall_at_5": len(gold & set(ranked[:5])) / len(gold),
        "mrr_at_10": 1.0 / rank if rank else 0.0,
        "context_answer_coverage": float(answer_present(text, q.gold_answers)),
        "context_doc_recall": len(gold & context_docs) / len(gold),
        "context_tokens": float(sum(engine.count_tokens(p.text) for p in passages)),
        "retrieve_ms": elapsed_ms,
    }


def evaluate_retrieval(engine: Engine, questions: Sequence[GoldQuestion]) -> dict:
    answerable = [q for q in questions if q.answerable and q.gold_doc_ids]
    engine.retrieve("warm up")  # first query pays one-off loading costs
    rows = [score_retrieval(engine, q) for q in answerable]
    latencies = [r["retrieve_ms"] for r in rows]
    return {
        "questions": len(answerable),
        "settings": {
            "retrieval_mode": engine.settings.retrieval_mode,
            "dedup": engine.settings.dedup,
            "feedback": engine.settings.feedback,
            "context_tokens": engine.settings.context_tokens,
        },
        "metrics": {k: asdict(bootstrap([r[k] for r in rows])) for k, _ in RETRIEVAL_METRICS},
        "retrieve_ms": {
            "p50": percentile(latencies, 0.5),
            "p95": percentile(latencies, 0.95),
            "mean": statistics.fmean(latencies) if latencies else None,
        },
    }


def print_retrieval(report: dict, console: Console) -> None:
    s = report["settings"]
    table = Table(
        title=f"retrieval · {s['retrieval_mode']} · dedup={s['dedup']} · "
        f"{report['questions']} answerable questions"
    )
    table.add_column("metric")
    table.add_column("value")
    for key, label in RETRIEVAL_METRICS:
        m = report["metrics"][key]
        fmt = "{:.0f}" if key == "context_tokens" else "{:.3f}"
        table.add_row(
            label, f"{fmt.format(m['mean'])} [{fmt.format(m['low'])}–{fmt.format(m['high'])}]"
        )
    lat = report["retrieve_ms"]
    table.add_row("retrieve + assemble p50 / p95", f"{lat['p50']:.1f} / {lat['p95']:.1f} ms")
    console.print(table)
