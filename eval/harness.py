"""Wire an evaluation run: per corpus, a private store over its articles, the engine, and
the plain pipeline beside it on the same questions."""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from eval.baseline import BaselineSystem, NewsdeskSystem
from eval.corpora import CORPORA, Corpus
from eval.runner import REPORTS, evaluate, fast_subset_ids, print_summary, select, write_report
from eval.servers import scratch_database
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
    settings: Settings,
    work_dir: Path,
    embedder: object = None,
    show_progress: bool = True,
    database_url: str | None = None,
) -> Engine:
    """An engine over an empty store of its own in `work_dir`: results do not depend on what
    the user ingested. Its documents stay in `work_dir` even when NEWSDESK_DATABASE_URL is
    set, since a database holds one store and that one is the user's; `database_url` names a
    scratch database to keep them in instead. An embedder already loaded (a test's) is shared
    rather than loaded again. Answers are never taken from the answer cache: every question is
    timed and scored as answered."""
    update = {"data_dir": work_dir / "data", "database_url": database_url, "answer_cache": 0}
    engine = Engine(settings.model_copy(update=update), show_progress=show_progress)
    if embedder is not None:
        engine.__dict__["embedder"] = embedder
    return engine


def corpus_engine(
    settings: Settings,
    work_dir: Path,
    corpus: Corpus | None = None,
    embedder: object = None,
    database_url: str | None = None,
) -> Engine:
    """A private store over one corpus (the seeds when none is named)."""
    engine = private_engine(settings, work_dir, embedder, database_url=database_url)
    engine.ingest([corpus.articles if corpus else settings.seeds_dir])
    return engine


seeded_engine = corpus_engine  # the seeds are the default corpus


@contextlib.contextmanager
def corpus_store(
    settings: Settings, corpus: Corpus, admin_url: str | None
) -> Iterator[tuple[Engine, Path]]:
    """An engine over `corpus` in a temporary folder (and, with `admin_url`, a scratch
    PostgreSQL database), and the folder; both go when the block ends."""
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="newsdesk-eval-")))
        url = stack.enter_context(scratch_database(admin_url)) if admin_url else None
        engine = corpus_engine(settings, tmp, corpus, database_url=url)
        stack.callback(engine.store.close)  # before the scratch database is dropped
        yield engine, tmp


def corpus_names(corpus: str) -> list[str]:
    return list(CORPORA) if corpus == "all" else [corpus]


def run_retrieval_eval(
    settings: Settings,
    subset: int | None,
    fast: bool,
    out_dir: Path | None,
    console: Console,
    corpus: str = "all",
    admin_url: str | None = None,
) -> tuple[dict, Path]:
    """Retrieval and context only (no generation) for every selected answerable question;
    `admin_url` as for `run_cli_eval`."""
    import json

    from eval.retrieval_eval import evaluate_retrieval, print_retrieval

    folder = out_dir or REPORTS
    folder.mkdir(parents=True, exist_ok=True)
    reports = {}
    for name in corpus_names(corpus):
        c = CORPORA[name]
        questions = select(c.load(), subset=subset, ids=fast_subset_ids() if fast else None)
        with corpus_store(settings, c, admin_url) as (engine, _):
            report = evaluate_retrieval(engine, questions)
        report["documents"] = "postgresql" if admin_url else "sqlite"
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
    admin_url: str | None = None,
    questions: Path | None = None,
) -> tuple[dict, list[Path]]:
    """Each corpus in its own private store, the plain pipeline beside newsdesk. With
    `admin_url` (a PostgreSQL role that may create databases) each corpus's documents and
    lexical index live in a scratch database there, dropped after the run, to score the
    PostgreSQL record against the embedded SQLite one. `questions`: a gold file to score
    instead of the corpus's own, about its articles (reported as `<corpus>-<file stem>`), so
    questions written after tuning can show what the corpus's own no longer can."""
    reports: dict = {}
    bases: list[Path] = []
    for name in corpus_names(corpus):
        c = CORPORA[name]
        if questions is not None:
            c = dataclasses.replace(c, name=f"{name}-{questions.stem}", questions=questions)
        wanted = ids or (fast_subset_ids() if fast else None)
        asked = select(c.load(), subset=subset, ids=wanted)
        if not asked:
            continue
        with corpus_store(settings, c, admin_url) as (engine, tmp):
            engine.warm_up()
            systems = build_systems(engine, compare_baseline, tmp, c)
            report = evaluate(
                systems,
                asked,
                engine.model_name,
                out_dir=None,
                console=console,
                corpus=c.name,
                golden=c.questions,
            )
        report["documents"] = "postgresql" if admin_url else "sqlite"
        bases.append(write_report(report, out_dir or REPORTS))
        print_summary(report, console)
        reports[c.name] = report
    return reports, bases
