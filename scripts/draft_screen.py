"""Screen a prompt or a context setting by its drafts alone: how many of the answerable
questions get a model draft that contains the gold answer, before any check.

A whole `newsdesk eval` of three question sets takes about an hour on two cores; a draft screen
of 22 questions takes about six minutes, so a prompt wording can be tried before it is run
whole. It scores the draft against the gold answers only (never against the engine's own
check), and the draft is only the ceiling of the answer: the check may still drop it, and an
unanswerable question is not asked at all. Confirm anything it finds with `newsdesk eval`.

    .venv/bin/python scripts/draft_screen.py --corpus bbc-dev \\
        --questions eval/corpora/bbc-dev/fresh-questions.jsonl [--prompts DIR] [--plain-context]
        [--ids p01,p02] [--out drafts.jsonl]

Context settings come from the environment as usual (NEWSDESK_CONTEXT_TOKENS=700 …).
`--plain-context` shows the plain pipeline's four 1000-character chunks in newsdesk's prompt
instead of newsdesk's passages, to tell what the prompt does from what the context does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from eval.baseline import TOP_K, BaselineSystem
from eval.corpora import CORPORA
from eval.harness import baseline_system, corpus_engine
from eval.metrics import answer_present
from eval.runner import select
from rag.config import Settings
from rag.engine import Engine
from rag.schemas import Answer


def plain_messages(engine: Engine, plain: BaselineSystem, question: str) -> list[dict[str, str]]:
    """The plain pipeline's chunks as numbered passages of newsdesk's prompt."""
    chunks = plain._query(question, TOP_K)["documents"][0]
    passages = [engine.prompts.render_passage(i, None, "", c) for i, c in enumerate(chunks, 1)]
    return engine.prompts.messages(question, passages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="bbc-dev")
    parser.add_argument("--questions", type=Path, help="another gold file about its articles")
    parser.add_argument("--prompts", type=Path, help="a prompts folder to try")
    parser.add_argument("--plain-context", action="store_true")
    parser.add_argument("--ids", default="", help="only these question ids")
    parser.add_argument("--out", type=Path, help="write every draft here (JSONL)")
    args = parser.parse_args()

    corpus = CORPORA[args.corpus]
    if args.questions:
        corpus = replace(corpus, questions=args.questions)
    ids = [i.strip() for i in args.ids.split(",") if i.strip()]
    questions = [q for q in select(corpus.load(), ids=ids) if q.answerable]
    settings = Settings(answer_cache=0)
    if args.prompts:
        settings = settings.model_copy(update={"prompts_dir": args.prompts})

    with tempfile.TemporaryDirectory(prefix="newsdesk-drafts-") as tmp:
        engine = corpus_engine(settings, Path(tmp), corpus)
        plain = baseline_system(engine, Path(tmp), corpus) if args.plain_context else None
        rows, seconds = [], []
        for q in questions:
            if plain is not None:
                messages = plain_messages(engine, plain, q.question)
            else:
                prepared = engine.prepare(q.question)
                # Retrieval abstained: no draft.
                messages = [] if isinstance(prepared, Answer) else prepared.messages
            draft = ""
            if messages:
                started = time.perf_counter()
                draft = engine.generator.chat(messages, max_tokens=settings.max_tokens).text
                seconds.append(time.perf_counter() - started)
            found = answer_present(draft, q.gold_answers)
            rows.append({"id": q.id, "found": found, "draft": draft})
            print(f"{q.id} {'+' if found else '-'} {' '.join(draft.split())[:150]}", flush=True)

    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    found = sum(r["found"] for r in rows)
    p50 = statistics.median(seconds) if seconds else 0.0
    print(f"gold answer in the draft: {found} of {len(rows)}; p50 draft {p50:.1f} s")


if __name__ == "__main__":
    main()
