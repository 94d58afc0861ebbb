"""`newsdesk bench`: where the time goes, measured in one run on one machine.

Everything is compared on the same prompts in the same process: our answer path end to end over
HTTP (what a client sees), raw llama-cpp-python on the identical messages (so the difference is
our overhead: retrieval, prompt building, the support check, HTTP), and the naive baseline
pipeline (so the ratio is our speed-up). Before every timed generation the model's KV cache is
put in the same state (the fixed system prompt evaluated, as after any previous question), so no
contender profits from the one before it. Our answers are also split into stages (retrieval,
prompt evaluation, draft decoding, support check) from the timings each answer carries, so a
slow answer says which part was slow.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from eval.corpora import CORPORA
from eval.harness import baseline_system, private_engine
from eval.runner import fast_subset_ids, select
from rag.config import PROJECT_ROOT, Settings
from rag.engine import Engine
from rag.errors import NewsdeskError
from rag.llm.generation import physical_cores
from rag.schemas import Answer

REPORTS = PROJECT_ROOT / "eval" / "reports"


@dataclass
class AskTiming:
    question: str
    sources_ms: float
    first_token_s: float | None
    total_s: float
    tokens: int
    answerable: bool
    # The first checked sentence: when a reader first sees text that passed the check.
    first_sentence_s: float | None = None
    # The answer's own `timings`, stage by stage, as the engine measured them.
    timings: dict[str, float | None] | None = None


def bench_questions(n: int, corpus: str = "seeds") -> list[str]:
    """Answerable questions of the corpus's fast eval subset: fixed, varied, and they make the
    model talk. A corpus with fewer of them than asked for is topped up with its other
    answerable questions, in file order, so the count asked for is the count timed."""
    answerable = [q for q in CORPORA[corpus].load() if q.answerable]
    fast = select(answerable, ids=fast_subset_ids())
    taken = {q.id for q in fast}
    rest = [q for q in answerable if q.id not in taken]
    return [q.question for q in [*fast, *rest]][:n]


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cold_start(settings: Settings) -> float:
    """Seconds from process start to a warmed engine (imports, store, embedder, model, KV)."""
    script = (
        "from rag.config import Settings\n"
        "from rag.engine import Engine\n"
        f"e = Engine(Settings(data_dir={str(settings.data_dir)!r}, model={settings.model!r},"
        " database_url=None))\n"
        "e.warm_up()\n"
        "print('READY', flush=True)\n"
    )
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("READY"):
            elapsed = time.perf_counter() - started
            proc.wait(timeout=60)
            return elapsed
    proc.wait()
    raise RuntimeError("the cold-start process exited before it was ready")


def stream_once(url: str, question: str) -> AskTiming:
    started = time.perf_counter()
    sources = first = sentence = None
    tokens = 0
    answerable = False
    timings = None
    event = None
    with httpx.stream(
        "POST", f"{url}/v1/ask/stream", json={"question": question}, timeout=600
    ) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            now = time.perf_counter() - started
            if line.startswith("event:"):
                event = line[6:].strip()
                if event == "sources" and sources is None:
                    sources = now
                elif event == "token":
                    first = first if first is not None else now
                    tokens += 1
                elif event == "sentence" and sentence is None:
                    sentence = now
            elif line.startswith("data:") and event == "answer":
                answer = json.loads(line[5:])
                answerable, timings = bool(answer["answerable"]), answer.get("timings")
    return AskTiming(
        question,
        round((sources or 0.0) * 1000, 1),
        first,
        time.perf_counter() - started,
        tokens,
        answerable,
        sentence,
        timings,
    )


def openai_first_content(url: str, question: str) -> tuple[float | None, float]:
    """Seconds to the first content delta of an OpenAI streaming request (checked text only),
    and to its end."""
    started = time.perf_counter()
    first = None
    messages = [{"role": "user", "content": question}]
    body = {"model": "newsdesk", "stream": True, "messages": messages}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=600) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if first is None and line.startswith("data:") and line[5:].strip() != "[DONE]":
                choices = json.loads(line[5:]).get("choices") or [{}]
                if choices[0].get("delta", {}).get("content"):
                    first = time.perf_counter() - started
    return first, time.perf_counter() - started


# (report key, label, key in the answer's `timings`): the stages of one answer, in order.
STAGES = [
    ("retrieval", "retrieval (with context)", "retrieve_ms"),
    ("prompt_eval", "prompt evaluation", "prompt_ms"),
    ("generation", "generation (draft decoding)", "draft_ms"),
    ("support_check", "support check", "check_ms"),
    ("total", "total (engine)", "total_ms"),
]


def stage_percentiles(timings: list[AskTiming]) -> dict[str, dict[str, float | None]]:
    """p50/p95 in ms of each stage over the answers that reached the model (an answer declined
    at retrieval has no prompt, draft or check and would only pull the other stages down), and
    of the first draft token as the client saw it."""
    made = [t.timings for t in timings if t.timings and t.timings.get("check_ms") is not None]
    out: dict[str, dict[str, float | None]] = {}
    for name, _, key in STAGES:
        values = [v for m in made if (v := m.get(key)) is not None]
        out[name] = {"p50": _r(pct(values, 0.5), 1), "p95": _r(pct(values, 0.95), 1)}
    firsts = [t.first_token_s * 1000 for t in timings if t.first_token_s is not None]
    out["first_draft_token"] = {"p50": _r(pct(firsts, 0.5), 1), "p95": _r(pct(firsts, 0.95), 1)}
    return out


def run_bench(
    settings: Settings,
    n_questions: int = 8,
    baseline: bool = True,
    console: Console | None = None,
    corpus: str = "seeds",
) -> dict[str, object]:
    from api.app import create_app
    from api.server import serve_in_thread

    if settings.llm_url:
        raise NewsdeskError(
            "newsdesk bench times the model in this process against raw llama.cpp: unset "
            "NEWSDESK_LLM_URL, or compare server mode with `newsdesk bench --deploy`"
        )
    console = console or Console(stderr=True)
    chosen = CORPORA[corpus]
    questions = bench_questions(n_questions, corpus)
    report: dict[str, object] = {
        "model": settings.model,
        "corpus": corpus,
        "questions": len(questions),
        "verify": settings.verify,
    }
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-") as tmp:
        work = Path(tmp)
        # Every timed answer is made afresh; the cache is timed on its own at the end.
        engine = private_engine(settings, work, show_progress=False)

        console.print(f"[bold]bench[/bold] {corpus}: ingest + embedding throughput …")
        _ = engine.embedder
        started = time.perf_counter()
        ingest = engine.ingest([chosen.articles])
        ingest_s = time.perf_counter() - started
        sentences = engine.store.count("sentences")
        texts = [
            u.text
            for d in engine.store.list_documents()
            for u in engine.store.document_units("sentences", d.doc_id)
        ]
        texts = (texts * (256 // max(1, len(texts)) + 1))[:256]
        started = time.perf_counter()
        engine.embedder.encode(texts)
        embed_rate = len(texts) / (time.perf_counter() - started)
        report["ingest"] = {
            "documents": len(ingest.added),
            "chunks": ingest.chunks_written,
            "sentences": sentences,
            "seconds": round(ingest_s, 2),
            "chunks_per_s": round(ingest.chunks_written / ingest_s, 1),
            "embed_texts_per_s": round(embed_rate, 1),
        }

        console.print("[bold]bench[/bold] cold start (new process) …")
        report["cold_start_s"] = round(cold_start(engine.settings), 2)

        console.print("[bold]bench[/bold] retrieval …")
        engine.warm_up()
        retrieval_ms = []
        for _ in range(3):
            for q in questions:
                started = time.perf_counter()
                with engine.store.reading():
                    engine.retrieve(q)
                retrieval_ms.append((time.perf_counter() - started) * 1000)
        report["retrieval_ms"] = {
            "p50": round(pct(retrieval_ms, 0.5) or 0, 1),
            "p95": round(pct(retrieval_ms, 0.95) or 0, 1),
        }

        generator = engine.generator
        prime = engine.prompts.messages("Say OK.", [])

        def reset_cache() -> None:
            generator.chat(prime, max_tokens=1)

        console.print("[bold]bench[/bold] answers over HTTP vs raw llama.cpp on the same prompt …")
        ours: list[AskTiming] = []
        raw_s: list[float | None] = []
        prompt_tokens: list[int | None] = []
        with serve_in_thread(create_app(engine=engine)) as url:
            for q in questions:
                reset_cache()
                ours.append(stream_once(url, q))
                prepared = engine.prepare(q)
                if isinstance(prepared, Answer):  # abstained before generation: nothing to race
                    raw_s.append(None)
                    prompt_tokens.append(None)
                    continue
                reset_cache()
                started = time.perf_counter()
                with generator._lock:  # the same guarded model, called directly
                    result = generator._llm.create_chat_completion(
                        messages=prepared.messages,  # type: ignore[arg-type]
                        temperature=0.0,
                        top_k=1,
                        max_tokens=engine.settings.max_tokens,
                        seed=0,
                    )
                raw_s.append(time.perf_counter() - started)
                prompt_tokens.append(int(result["usage"]["prompt_tokens"]))  # type: ignore[index]
            openai_firsts = []
            for q in questions[:3]:
                reset_cache()
                first, _ = openai_first_content(url, q)
                if first is not None:
                    openai_firsts.append(first)
        totals = [t.total_s for t in ours]
        firsts = [t.first_token_s for t in ours if t.first_token_s is not None]
        checked = [t.first_sentence_s for t in ours if t.first_sentence_s is not None]
        report["first_checked_sentence_s"] = {
            "p50": _r(pct(checked, 0.5)),
            "p95": _r(pct(checked, 0.95)),
        }
        report["openai_first_content_s"] = {"p50": _r(pct(openai_firsts, 0.5))}
        gen_rates = [
            (t.tokens - 1) / (t.total_s - t.first_token_s)
            for t in ours
            if t.first_token_s is not None and t.tokens > 1 and t.total_s > t.first_token_s
        ]
        overheads = [o.total_s / r - 1 for o, r in zip(ours, raw_s, strict=True) if r]
        raw_times = [r for r in raw_s if r]
        report["ask_s"] = {"p50": _r(pct(totals, 0.5)), "p95": _r(pct(totals, 0.95))}
        report["sources_event_ms"] = {
            "p50": _r(pct([t.sources_ms for t in ours], 0.5), 1),
            "p95": _r(pct([t.sources_ms for t in ours], 0.95), 1),
        }
        report["first_token_s"] = {"p50": _r(pct(firsts, 0.5)), "p95": _r(pct(firsts, 0.95))}
        report["stages_ms"] = stage_percentiles(ours)
        pairs = [
            (p, t.first_token_s)
            for p, t in zip(prompt_tokens, ours, strict=True)
            if p and t.first_token_s
        ]
        report["prompt_tokens"] = {"p50": pct([float(p) for p, _ in pairs], 0.5)}
        report["prompt_tokens_per_s_effective"] = (
            _r(statistics.median(p / f for p, f in pairs), 1) if pairs else None
        )
        report["generation_tokens_per_s"] = (
            _r(statistics.median(gen_rates), 1) if gen_rates else None
        )
        report["raw_llama_s"] = {"p50": _r(pct(raw_times, 0.5)), "p95": _r(pct(raw_times, 0.95))}
        report["overhead_vs_raw"] = {
            "median": _r(statistics.median(overheads), 3) if overheads else None,
            "p50_ratio": _r((pct(totals, 0.5) or 0) / (pct(raw_times, 0.5) or 1) - 1, 3),
        }
        report["answered"] = sum(t.answerable for t in ours)

        if baseline:
            console.print("[bold]bench[/bold] naive baseline pipeline …")
            system = baseline_system(engine, work, chosen)
            base_s = []
            for q in questions:
                reset_cache()
                base_s.append(system.ask(q).timings.total_ms / 1000)
            report["baseline_ask_s"] = {"p50": _r(pct(base_s, 0.5)), "p95": _r(pct(base_s, 0.95))}
            report["speedup_p50_ratio"] = _r((pct(totals, 0.5) or 0) / (pct(base_s, 0.5) or 1), 3)
        report["repeat_ms"] = repeated_question_ms(engine, questions[0])
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report["threads"] = settings.n_threads or physical_cores()
    return report


def repeated_question_ms(engine: Engine, question: str) -> float:
    """Milliseconds to answer a question asked before against the same articles: the second
    ask of an engine with the answer cache on, sharing the warmed models."""
    cached = Engine(engine.settings.model_copy(update={"answer_cache": 8}))
    cached.__dict__["embedder"] = engine.embedder
    cached.__dict__["_generator"] = engine.generator
    cached.ask(question)
    started = time.perf_counter()
    answer = cached.ask(question)
    assert answer.cached
    return round((time.perf_counter() - started) * 1000, 1)


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


TARGETS = [
    ("end-to-end p50 / baseline p50", "speedup_p50_ratio", "≤ 0.4"),
    ("our overhead over raw llama.cpp (median)", "overhead_vs_raw.median", "≤ 0.05"),
    ("retrieval p50 ms", "retrieval_ms.p50", "≤ 20"),
    ("sources SSE event p50 ms", "sources_event_ms.p50", "≤ 100"),
    ("first answer token p50 s", "first_token_s.p50", "≤ 4"),
    ("support check p50 ms", "stages_ms.support_check.p50", "≤ 1000"),
    ("cold start s", "cold_start_s", "≤ 5"),
    ("repeated question ms (answer cache)", "repeat_ms", "≤ 50"),
]


def lookup(report: dict[str, object], dotted: str) -> object:
    value: object = report
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None  # type: ignore[assignment]
    return value


def print_bench(report: dict[str, object], console: Console) -> None:
    corpus = report.get("corpus", "seeds")
    table = Table(
        title=f"newsdesk bench — {report['model']}, {corpus}, {report['questions']} questions"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in report.items():
        if key in ("model", "corpus", "questions", "stages_ms"):
            continue
        if isinstance(value, dict):
            value = "  ".join(f"{k} {v}" for k, v in value.items())
        table.add_row(key, str(value))
    console.print(table)
    stages = report.get("stages_ms")
    if isinstance(stages, dict):
        check = "support check on" if report.get("verify", True) else "support check off"
        per_stage = Table(title=f"per stage, over /v1/ask/stream ({check})")
        for col in ("stage", "p50 ms", "p95 ms"):
            per_stage.add_column(col, justify="left" if col == "stage" else "right")
        rows = [(name, label) for name, label, _ in STAGES]
        for name, label in [*rows, ("first_draft_token", "first draft token (client)")]:
            row = stages.get(name) or {}
            per_stage.add_row(label, str(row.get("p50")), str(row.get("p95")))
        console.print(per_stage)
    targets = Table(title="targets")
    for col in ("target", "measured", "goal"):
        targets.add_column(col)
    for label, key, goal in TARGETS:
        targets.add_row(label, str(lookup(report, key)), goal)
    console.print(targets)


def write_bench(report: dict[str, object], folder: Path = REPORTS, kind: str = "bench") -> Path:
    """One report per kind, corpus (when the report names one) and model, at a path that
    stays the same from run to run so runs can be compared; each run overwrites its own."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = [kind, report.get("corpus"), report["model"]]
    path = folder / f"{'-'.join(str(p) for p in parts if p)}.json"
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return path
