"""Answers under load through llama-cpp-python's server, with and without its prompt cache.

Four seed questions one after another, then four others at once, through one engine on a
`python -m llama_cpp.server` started for the run (the default GGUF, 2 threads), first without
and then with `--cache True`. An answer is several calls (the draft, then the judge's readings
over the same passages); asked at once, answers interleave on the server, and without its cache
each reading evaluates its passages again.

    python scripts/server_cache_bench.py
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from eval.bench import bench_questions
from eval.harness import corpus_engine
from eval.servers import llm_server
from rag.config import Settings
from rag.llm.model_files import resolve_model


def run(cache: bool, model: Path, work: Path) -> tuple[float, float, list[str]]:
    questions = bench_questions(8)
    with llm_server(model, work, cache=cache) as url:
        engine = corpus_engine(Settings(llm_url=url), work / ("cache" if cache else "plain"))
        engine.warm_up()
        engine.ask(questions[0], cancel=threading.Event())
        started = time.perf_counter()
        for q in questions[:4]:
            engine.ask(q, cancel=threading.Event())
        in_turn = time.perf_counter() - started
        answers: list[str] = [""] * 4

        def ask(i: int) -> None:
            answers[i] = engine.ask(questions[4 + i], cancel=threading.Event()).answer

        started = time.perf_counter()
        pool = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return in_turn, time.perf_counter() - started, answers


def main() -> None:
    settings = Settings()
    model = resolve_model(settings.model, settings.cache_dir, show_progress=True)
    with tempfile.TemporaryDirectory() as tmp:
        results = {cache: run(cache, model, Path(tmp)) for cache in (False, True)}
    for cache, (in_turn, at_once, _) in results.items():
        label = "--cache True " if cache else "no cache     "
        print(f"{label} 4 in turn {in_turn:.1f} s, 4 others at once {at_once:.1f} s")
    same = results[False][2] == results[True][2]
    print(f"same answers with and without the cache: {same}")


if __name__ == "__main__":
    main()
