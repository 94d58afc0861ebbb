"""Tune the checking side of answers: run a corpus's questions through the real engine, but
keep every model draft in a cache keyed by the exact prompt messages, and print each failure
with the draft behind it.

A second run with the same prompts and context re-uses the drafts and re-scores what changed
after generation (support check, conflicts, abstention, thresholds); a run with a new prompt or
new context generates only what is new. The support judge and the relevance check still run on
the real model, and they evaluate the passages the skipped draft would have left cached, so a
re-score saves the drafting, not the prompt evaluation. A greedy draft is fixed per prompt
(`rag/llm/prompt_cache.py`), but latency is not measured here and each run builds a fresh
store, so the numbers that count come from `newsdesk eval`, not from here.

    .venv/bin/python scripts/eval_replay.py [--corpus bbc-dev] [--model qwen2.5-coder-0.5b]
        [--ids q001,q002]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

from rich.console import Console

from eval.baseline import NewsdeskSystem
from eval.corpora import CORPORA
from eval.harness import corpus_engine
from eval.runner import evaluate, print_summary, select
from rag.config import Settings


class Recording(NewsdeskSystem):
    """The engine's answer, remembering the prompt and draft behind it for the printout."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.seen: dict[str, tuple[list, str] | None] = {}

    def ask(self, question: str):
        gen = self.engine.__dict__["_generator"]
        gen.last = None
        answer = super().ask(question)
        self.seen[question] = gen.last
        return answer


class CachedDrafts:
    """Wraps a generator; `chat` answers from the cache when it has seen the messages."""

    def __init__(self, inner, path: Path) -> None:
        self.inner = inner
        self.path = path
        self.cache: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        self.misses = 0
        self.last: tuple[list, str] | None = None

    def __getattr__(self, name: str):
        # The name, the tokenizer, the judge, the answer turn: the real model's. Only drafts
        # are cached.
        return getattr(self.inner, name)

    def chat(self, messages, max_tokens: int = 256):
        from rag.llm.generation import Generation

        key = hashlib.sha256(json.dumps([messages, max_tokens]).encode()).hexdigest()
        if key not in self.cache:
            self.misses += 1
            self.cache[key] = self.inner.chat(messages, max_tokens=max_tokens).text
            self.path.write_text(json.dumps(self.cache))
        self.last = (messages, self.cache[key])
        return Generation(self.cache[key], 0, 0, 0.0)

    def stream(self, messages, max_tokens: int = 256, cancel=None):
        yield self.chat(messages, max_tokens).text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="seeds", choices=list(CORPORA))
    parser.add_argument("--model", default=None)
    parser.add_argument("--ids", default="")
    parser.add_argument("--cache", default=None)
    parser.add_argument("--out", default=None, help="write the JSON report here")
    parser.add_argument("--prompts", action="store_true", help="print the user prompt too")
    parser.add_argument("--all", action="store_true", help="print every question, not failures")
    args = parser.parse_args()
    settings = Settings() if args.model is None else Settings(model=args.model)
    console = Console(stderr=True)
    corpus = CORPORA[args.corpus]
    questions = select(corpus.load(), ids=[i for i in args.ids.split(",") if i] or None)
    cache = Path(args.cache or f"/tmp/drafts-{corpus.name}-{Path(settings.model).name}.json")
    with tempfile.TemporaryDirectory(prefix="newsdesk-replay-") as tmp:
        engine = corpus_engine(settings, Path(tmp), corpus)
        real = engine.generator
        engine.__dict__["_generator"] = CachedDrafts(real, cache)
        system = Recording(engine)
        report = evaluate([system], questions, engine.model_name, out_dir=None, console=console)
        misses = engine.__dict__["_generator"].misses
    print_summary(report, console)
    console.print(f"generated {misses} new drafts; cache {cache}")
    golden = {q.id: q for q in questions}
    for r in report["systems"]["newsdesk"]["per_question"]:
        s, a, q = r["scores"], r["answer"] or {}, golden[r["id"]]
        bad = (
            s.get("answer_presence", 1) < 1
            or s.get("abstention", 1) < 1
            or s.get("support_recall", 1) < 1
            or s.get("support_precision", 1) < 1
            or s.get("cited_doc_precision", 1) < 1
        )
        if not (bad or args.all):
            continue
        short = {k: round(v, 2) for k, v in s.items() if k not in ("recall_at_5", "mrr_at_10")}
        print(f"\n## {r['id']} [{q.category}] {q.question}")
        print(f"   gold: {q.gold_answers}  docs: {[d[:3] for d in q.gold_doc_ids]}")
        seen = system.seen.get(q.question)
        if seen and args.prompts:
            print("   prompt: " + seen[0][-1]["content"].replace("\n", "\n      "))
        if seen:
            print(f"   draft: {seen[1]!r}")
        print(f"   answer ({a.get('abstain_reason') or 'answered'}): {a.get('answer')}")
        for d in a.get("dropped") or []:
            print(f"   dropped: {d}")
        for c in a.get("citations") or []:
            print(f"   [{c['n']}] {c['doc_id'][:3]} {c['quote'][:160]!r}")
        print(f"   scores: {short}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
