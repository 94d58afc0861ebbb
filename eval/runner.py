"""Run the golden questions through a system and score them: the engine the API uses, and
optionally the naive baseline in the same run, so both are measured on the same machine state."""

from __future__ import annotations

import json
import logging
import platform
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from eval.corpora import CORPORA, GoldQuestion
from eval.metrics import (
    SUPPORT_CHECKER,
    Interval,
    answer_present,
    bootstrap,
    citation_support,
    numbers_in,
    percentile,
    token_f1,
)
from rag.answer import grounding
from rag.answer.citations import answer_sentences, strip_markers
from rag.schemas import Answer

EVAL_DIR = Path(__file__).resolve().parent
FAST_SUBSET = EVAL_DIR / "fast_subset.txt"
REPORTS = EVAL_DIR / "reports"

# (key, label, higher is better)
METRICS: list[tuple[str, str, bool]] = [
    ("recall_at_5", "retrieval recall@5", True),
    ("mrr_at_10", "retrieval MRR@10", True),
    ("answer_presence", "answered correctly", True),
    ("right_article", "cited a gold article", True),
    ("token_f1", "token F1", True),
    ("abstention", "abstention (unanswerable)", True),
    ("false_refusal", "false refusals (answerable)", False),
    ("citation_format", "citation format valid", True),
    ("cited_doc_precision", "cited-doc precision", True),
    ("cited_doc_recall", "cited-doc recall", True),
    ("support_recall", "citation support recall", True),
    ("support_precision", "citation support precision", True),
    ("unsupported_numbers", "answers with numbers absent from cited spans", False),
]


class System(Protocol):
    name: str

    def ask(self, question: str) -> Answer: ...

    def ranked_doc_ids(self, question: str, k: int) -> list[str]: ...


@dataclass
class QuestionResult:
    id: str
    category: str
    gold_answerable: bool
    answer: dict | None
    error: str | None
    ranked_doc_ids: list[str]
    scores: dict[str, float] = field(default_factory=dict)
    # What the support check read for each claim of the answer (claim, cited passages, their
    # quote, P(yes), the swapped names' P(yes), kept): a stricter rule can be tried on these
    # without the model (`scripts/rescore_checks.py`).
    checks: list[dict] = field(default_factory=list)


class _Readings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.items: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        reading = getattr(record, "reading", None)
        if reading is not None:
            self.items.append(reading)


@contextmanager
def _recording_checks() -> Iterator[_Readings]:
    """The support check's readings while a question is answered. The logger is raised to
    DEBUG for the run only, and nothing is printed: the handler keeps the records."""
    logger, handler = grounding.log, _Readings()
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def load_golden(corpus: str = "seeds") -> list[GoldQuestion]:
    return CORPORA[corpus].load()


def select(
    questions: Sequence[GoldQuestion], subset: int | None = None, ids: Sequence[str] | None = None
) -> list[GoldQuestion]:
    """A subset: named ids, or the first N taken round-robin across categories (stable)."""
    if ids:
        wanted = set(ids)
        return [q for q in questions if q.id in wanted]
    if not subset or subset >= len(questions):
        return list(questions)
    by_cat: dict[str, list[GoldQuestion]] = {}
    for q in questions:
        by_cat.setdefault(q.category, []).append(q)
    picked: list[GoldQuestion] = []
    while len(picked) < subset:
        for cat in sorted(by_cat):
            if by_cat[cat] and len(picked) < subset:
                picked.append(by_cat[cat].pop(0))
    return sorted(picked, key=lambda q: q.id)


def fast_subset_ids() -> list[str]:
    return [
        ln.split("#")[0].strip()
        for ln in FAST_SUBSET.read_text().splitlines()
        if ln.split("#")[0].strip()
    ]


def score_question(q: GoldQuestion, res: QuestionResult) -> dict[str, float]:
    """Per-question values; a metric absent from the dict does not apply to this question."""
    s: dict[str, float] = {}
    ranked = res.ranked_doc_ids
    if q.answerable and q.gold_doc_ids:
        gold = set(q.gold_doc_ids)
        s["recall_at_5"] = len(gold & set(ranked[:5])) / len(gold)
        rank = next((i for i, d in enumerate(ranked[:10], start=1) if d in gold), None)
        s["mrr_at_10"] = 1.0 / rank if rank else 0.0

    a = res.answer
    answered = bool(a and a["answerable"])
    text = a["answer"] if a else ""
    # A reader sees a disagreement beside the answer, each side's value with its citation.
    sides = [c["value"] for f in (a or {}).get("conflicts", []) for c in f["claims"]]
    shown = " ".join([text, *sides])
    if q.answerable and q.gold_doc_ids:
        s["right_article"] = 0.0  # replaced below when an answer cites a gold article
    if q.answerable:
        s["answer_presence"] = float(answered and answer_present(shown, q.gold_answers))
        reference = " ".join(group[0] for group in q.gold_answers)
        s["token_f1"] = token_f1(strip_markers(text), reference) if answered else 0.0
        s["false_refusal"] = float(not answered)
    else:
        s["abstention"] = float(bool(a) and not a["answerable"])

    if answered and a is not None:
        cites = {c["n"]: c["quote"] for c in a["citations"]}
        sentences = answer_sentences(text)
        markers_ok = all(any(f"[{n}]" in sent for n in cites) for sent in sentences) and all(
            int(n) in cites for n in _markers(text)
        )
        s["citation_format"] = float(bool(sentences) and markers_ok)
        support = citation_support(sentences, cites)
        s["support_recall"] = support.supported / support.sentences if support.sentences else 0.0
        s["support_precision"] = support.relevant / support.citations if support.citations else 0.0
        cited_numbers = set().union(*(numbers_in(c) for c in cites.values())) if cites else set()
        s["unsupported_numbers"] = float(
            any(not numbers_in(strip_markers(sent)) <= cited_numbers for sent in sentences)
        )
        if q.answerable and q.gold_doc_ids:
            # A citation's also_in lists the other articles carrying the same passage; the
            # reader is shown them as sources, so they count as cited.
            cited_docs = {c["doc_id"] for c in a["citations"]} | {
                o["doc_id"] for c in a["citations"] for o in c.get("also_in", [])
            }
            gold = set(q.gold_doc_ids)
            s["cited_doc_precision"] = (
                len(cited_docs & gold) / len(cited_docs) if cited_docs else 0.0
            )
            s["cited_doc_recall"] = len(cited_docs & gold) / len(gold)
            s["right_article"] = float(bool(cited_docs & gold))
    return s


def _markers(text: str) -> list[str]:
    import re

    return re.findall(r"\[(\d+)\]", text)


def run_system(
    system: System,
    questions: Sequence[GoldQuestion],
    console: Console | None = None,
    show_progress: bool = True,
) -> list[QuestionResult]:
    results: list[QuestionResult] = []
    progress = Progress(
        TextColumn(f"[bold]{system.name}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console or Console(stderr=True),
        disable=not show_progress,
    )
    with progress:
        task = progress.add_task("", total=len(questions))
        for q in questions:
            progress.update(task, description=q.id)
            answer: dict | None = None
            error: str | None = None
            ranked: list[str] = []
            with _recording_checks() as checks:
                try:
                    ranked = system.ranked_doc_ids(q.question, 10)
                    answer = system.ask(q.question).model_dump()
                except Exception as exc:  # a crash is a scored failure, never a dropped question
                    error = f"{type(exc).__name__}: {exc}"
            res = QuestionResult(q.id, q.category, q.answerable, answer, error, ranked)
            res.checks = checks.items
            res.scores = score_question(q, res)
            results.append(res)
            progress.advance(task)
    return results


def summarise(results: Sequence[QuestionResult]) -> dict:
    metrics: dict[str, dict] = {}
    for key, _, _ in METRICS:
        values = [r.scores[key] for r in results if key in r.scores]
        metrics[key] = asdict(bootstrap(values))
    latencies = [r.answer["timings"]["total_ms"] for r in results if r.answer]
    return {
        "metrics": metrics,
        "latency_ms": {
            "p50": percentile(latencies, 0.5),
            "p95": percentile(latencies, 0.95),
            "mean": statistics.fmean(latencies) if latencies else None,
        },
        "questions": len(results),
        "crashes": sum(r.error is not None for r in results),
        "by_category": _by_category(results),
        "kind_counts": dict(Counter(r.category for r in results)),
    }


def _by_category(results: Sequence[QuestionResult]) -> dict[str, dict[str, float]]:
    cats: dict[str, dict[str, list[float]]] = {}
    for r in results:
        for key in ("answer_presence", "abstention", "right_article"):
            if key in r.scores:
                cats.setdefault(r.category, {}).setdefault(key, []).append(r.scores[key])
    return {c: {k: round(statistics.fmean(v), 3) for k, v in d.items()} for c, d in cats.items()}


def evaluate(
    systems: Sequence[System],
    questions: Sequence[GoldQuestion],
    model: str,
    out_dir: Path | None = REPORTS,
    show_progress: bool = True,
    console: Console | None = None,
    corpus: str = "seeds",
    golden: Path | None = None,
) -> dict:
    """`golden`: the file `questions` came from, when not the corpus's own."""
    started = time.perf_counter()
    golden = golden or CORPORA[corpus].questions
    report: dict = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": model,
        "corpus": corpus,
        "golden": str(golden.relative_to(EVAL_DIR) if golden.is_relative_to(EVAL_DIR) else golden),
        "question_ids": [q.id for q in questions],
        "support_checker": SUPPORT_CHECKER,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "systems": {},
    }
    for system in systems:
        results = run_system(system, questions, console=console, show_progress=show_progress)
        report["systems"][system.name] = {
            **summarise(results),
            "per_question": [asdict(r) for r in results],
        }
    report["wall_s"] = round(time.perf_counter() - started, 1)
    if out_dir is not None:
        write_report(report, out_dir)
    return report


def _fmt(iv: dict) -> str:
    if iv["mean"] is None:
        return "n/a"
    return f"{iv['mean']:.2f} [{iv['low']:.2f}–{iv['high']:.2f}]"


def markdown_table(report: dict) -> str:
    names = list(report["systems"])
    lines = [
        "| metric | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for key, label, better in METRICS:
        arrow = "↑" if better else "↓"
        cells = [_fmt(report["systems"][n]["metrics"][key]) for n in names]
        lines.append(f"| {label} {arrow} | " + " | ".join(cells) + " |")
    for pct in ("p50", "p95"):
        cells = [
            f"{report['systems'][n]['latency_ms'][pct] / 1000:.1f} s"
            if report["systems"][n]["latency_ms"][pct] is not None
            else "n/a"
            for n in names
        ]
        lines.append(f"| latency {pct} ↓ | " + " | ".join(cells) + " |")
    lines.append(
        "| crashes | " + " | ".join(str(report["systems"][n]["crashes"]) for n in names) + " |"
    )
    return "\n".join(lines)


def kind_cells(report: dict) -> tuple[list[str], list[list[str]]]:
    """Per question kind: the share answered correctly (or declined), for every system."""
    names = list(report["systems"])
    kinds = sorted({k for n in names for k in report["systems"][n]["by_category"]})
    rows = []
    for kind in kinds:
        cells = []
        for n in names:
            d = report["systems"][n]["by_category"].get(kind, {})
            value = d.get("answer_presence", d.get("abstention"))
            count = report["systems"][n]["kind_counts"].get(kind, 0)
            cells.append("n/a" if value is None else f"{round(value * count)}/{count}")
        rows.append([kind, *cells])
    return names, rows


def kind_table(report: dict) -> str:
    names, rows = kind_cells(report)
    lines = ["| kind | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def write_report(report: dict, out_dir: Path) -> Path:
    """One report per corpus and model at a stable path, overwritten by each run: the history
    of the numbers lives in git, not in a pile of dated files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / f"{report.get('corpus', 'seeds')}-{report['model']}"
    # Not with_suffix: model names carry dots ("qwen2.5-coder-1.5b").
    Path(f"{base}.json").write_text(json.dumps(report, indent=1))
    md = [
        f"# Evaluation {report['created']}",
        "",
        f"Model `{report['model']}`, {len(report['question_ids'])} questions from "
        f"`{report['golden']}`, wall time {report['wall_s']} s. Intervals are 95% bootstrap.",
        f"Support checker: {report['support_checker']}. "
        f"Documents and lexical index: {report.get('documents', 'sqlite')}.",
        "",
        markdown_table(report),
        "",
        "By question kind (answered correctly for answerable kinds, declined for the others):",
        "",
        kind_table(report),
        "",
    ]
    Path(f"{base}.md").write_text("\n".join(md))
    _chart(report, Path(f"{base}.png"))
    return base


def _chart(report: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # charts are a nicety; the JSON and markdown are the record
        return
    keys = [k for k, _, _ in METRICS]
    labels = [label for _, label, _ in METRICS]
    names = list(report["systems"])
    fig, ax = plt.subplots(figsize=(11, 4.8))
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        ms = report["systems"][name]["metrics"]
        means = [ms[k]["mean"] or 0 for k in keys]
        lows = [(ms[k]["mean"] or 0) - (ms[k]["low"] or 0) for k in keys]
        highs = [(ms[k]["high"] or 0) - (ms[k]["mean"] or 0) for k in keys]
        xs = [x + i * width for x in range(len(keys))]
        ax.bar(xs, means, width, yerr=[lows, highs], capsize=2, label=name)
    ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(keys))])
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    n = len(report["question_ids"])
    ax.set_title(
        f"newsdesk eval — {report.get('corpus', 'seeds')}, {report['model']} ({n} questions)"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_summary(report: dict, console: Console) -> None:
    names = list(report["systems"])
    corpus = report.get("corpus", "seeds")
    title = f"eval · {corpus} · {report['model']} · {len(report['question_ids'])} questions"
    table = Table(title=title)
    table.add_column("metric")
    for n in names:
        table.add_column(n)
    for key, label, better in METRICS:
        table.add_row(
            f"{label} {'↑' if better else '↓'}",
            *[_fmt(report["systems"][n]["metrics"][key]) for n in names],
        )
    for pct in ("p50", "p95"):
        table.add_row(
            f"latency {pct}",
            *[
                f"{report['systems'][n]['latency_ms'][pct] / 1000:.1f} s"
                if report["systems"][n]["latency_ms"][pct] is not None
                else "n/a"
                for n in names
            ],
        )
    table.add_row("crashes", *[str(report["systems"][n]["crashes"]) for n in names])
    console.print(table)
    kinds = Table(title=f"{corpus} by question kind (correct, or declined)")
    kinds.add_column("kind")
    header, rows = kind_cells(report)
    for n in header:
        kinds.add_column(n)
    for row in rows:
        kinds.add_row(*row)
    console.print(kinds)
    console.print(f"wall time {report['wall_s']} s")


Factory = Callable[[], System]
__all__ = ["Interval", "evaluate", "load_golden", "select", "fast_subset_ids", "print_summary"]
