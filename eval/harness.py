"""Wire an evaluation run: per corpus, a private store over its articles, the engine, and
the plain pipeline beside it on the same questions."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console

from eval.baseline import BaselineSystem, NewsdeskSystem
from eval.corpora import CORPORA, Corpus
from eval.runner import REPORTS, evaluate, fast_subset_ids, print_summary, select, write_report
from rag.config import Settings
from rag.engine import Engine


def build_systems(engine: Engine, compare_baseline: bool, work_dir: Path, corpus: Corpus) -> list:
    systems: list = [NewsdeskSystem(engine)]
    if compare_baseline:
        systems.append(baseline_system(engine, work_dir, corpus))
    return systems


def baseline_system(engine: Engine, work_dir: Path, corpus: Corpus) -> BaselineSystem:
    """The plain pipeline over the same articles as `engine`, sharing its models, so the two
    differ only in what they do with them."""
    return BaselineSystem(
        [corpus.articles],
        engine.embedder,
        engine.generator,
        engine.model_name,
        work_dir / "baseline",
        engine.settings.prompts_dir,
    )


def private_engine(
    settings: Settings, work_dir: Path, embedder: object = None, show_progress: bool = True
) -> Engine:
    """An engine over an empty store of its own in `work_dir`: results do not depend on what
    the user ingested. Its documents stay in `work_dir` even when NEWSDESK_DATABASE_URL is
    set, since a database holds one store and that one is the user's. An embedder already
    loaded (a test's) is shared rather than loaded again. Answers are never taken from the
    answer cache: every question is timed and scored as answered."""
    update = {"data_dir": work_dir / "data", "database_url": None, "answer_cache": 0}
    engine = Engine(settings.model_copy(update=update), show_progress=show_progress)
    if embedder is not None:
        engine.__dict__["embedder"] = embedder
    return engine


def corpus_engine(
    settings: Settings, work_dir: Path, corpus: Corpus | None = None, embedder: object = None
) -> Engine:
    """A private store over one corpus (the seeds when none is named)."""
    engine = private_engine(settings, work_dir, embedder)
    engine.ingest([corpus.articles if corpus else settings.seeds_dir])
    return engine


seeded_engine = corpus_engine  # the seeds are the default corpus


def corpus_names(corpus: str) -> list[str]:
    return list(CORPORA) if corpus == "all" else [corpus]


def run_retrieval_eval(
    settings: Settings,
    subset: int | None,
    fast: bool,
    out_dir: Path | None,
    console: Console,
    corpus: str = "all",
) -> tuple[dict, Path]:
    """Retrieval and context only (no generation) for every selected answerable question."""
    import json

    from eval.retrieval_eval import evaluate_retrieval, print_retrieval

    folder = out_dir or REPORTS
    folder.mkdir(parents=True, exist_ok=True)
    reports = {}
    for name in corpus_names(corpus):
        c = CORPORA[name]
        questions = select(c.load(), subset=subset, ids=fast_subset_ids() if fast else None)
        with tempfile.TemporaryDirectory(prefix="newsdesk-eval-") as tmp:
            engine = corpus_engine(settings, Path(tmp), c)
            report = evaluate_retrieval(engine, questions)
        console.print(f"[bold]{name}[/bold]")
        print_retrieval(report, console)
        reports[name] = report
    base = folder / "retrieval"
    base.with_suffix(".json").write_text(json.dumps(reports, indent=2), encoding="utf-8")
    return reports, base


def run_cli_eval(
    settings: Settings,
    subset: int | None,
    fast: bool,
    compare_baseline: bool,
    out_dir: Path | None,
    console: Console,
    corpus: str = "all",
    ids: list[str] | None = None,
) -> tuple[dict, list[Path]]:
    """Each corpus in its own private store, the plain pipeline beside newsdesk."""
    reports: dict = {}
    bases: list[Path] = []
    for name in corpus_names(corpus):
        c = CORPORA[name]
        wanted = ids or (fast_subset_ids() if fast else None)
        questions = select(c.load(), subset=subset, ids=wanted)
        if not questions:
            continue
        with tempfile.TemporaryDirectory(prefix="newsdesk-eval-") as tmp:
            engine = corpus_engine(settings, Path(tmp), c)
            engine.warm_up()
            systems = build_systems(engine, compare_baseline, Path(tmp), c)
            report = evaluate(
                systems, questions, engine.model_name, out_dir=None, console=console, corpus=name
            )
        bases.append(write_report(report, out_dir or REPORTS))
        print_summary(report, console)
        reports[name] = report
    return reports, bases
