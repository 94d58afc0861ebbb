"""Wire an evaluation run: a private store over the seeds, the engine, optionally the baseline."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console

from eval.baseline import BaselineSystem, NewsdeskSystem
from eval.runner import REPORTS, evaluate, fast_subset_ids, load_golden, print_summary, select
from rag.config import Settings
from rag.engine import Engine


def build_systems(engine: Engine, compare_baseline: bool, work_dir: Path) -> list:
    systems: list = [NewsdeskSystem(engine)]
    if compare_baseline:
        systems.append(
            BaselineSystem(
                [engine.settings.seeds_dir],
                engine.embedder,
                engine.generator,
                engine.model_name,
                work_dir / "baseline",
                engine.settings.prompts_dir,
            )
        )
    return systems


def seeded_engine(settings: Settings, work_dir: Path) -> Engine:
    """A private store over the seeds: results do not depend on what the user ingested."""
    engine = Engine(settings.model_copy(update={"data_dir": work_dir / "data"}), show_progress=True)
    engine.ingest([settings.seeds_dir])
    return engine


def run_retrieval_eval(
    settings: Settings, subset: int | None, fast: bool, out_dir: Path | None, console: Console
) -> tuple[dict, Path]:
    """Retrieval and context only (no generation) for every selected answerable question."""
    import json
    from datetime import datetime, timezone

    from eval.retrieval_eval import evaluate_retrieval, print_retrieval

    questions = select(load_golden(), subset=subset, ids=fast_subset_ids() if fast else None)
    with tempfile.TemporaryDirectory(prefix="newsdesk-eval-") as tmp:
        engine = seeded_engine(settings, Path(tmp))
        report = evaluate_retrieval(engine, questions)
    print_retrieval(report, console)
    folder = out_dir or REPORTS
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    s = report["settings"]
    base = folder / f"{stamp}-retrieval-{s['retrieval_mode']}-dedup{int(s['dedup'])}"
    base.with_suffix(".json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report, base


def run_cli_eval(
    settings: Settings,
    subset: int | None,
    fast: bool,
    compare_baseline: bool,
    out_dir: Path | None,
    console: Console,
) -> tuple[dict, Path]:
    questions = select(load_golden(), subset=subset, ids=fast_subset_ids() if fast else None)
    with tempfile.TemporaryDirectory(prefix="newsdesk-eval-") as tmp:
        engine = seeded_engine(settings, Path(tmp))
        engine.warm_up()
        systems = build_systems(engine, compare_baseline, Path(tmp))
        report = evaluate(systems, questions, engine.model_name, out_dir=None, console=console)
    from eval.runner import write_report

    base = write_report(report, out_dir or REPORTS)
    print_summary(report, console)
    return report, base
