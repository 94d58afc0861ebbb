"""What the support check's names-swapped reading (NEWSDESK_ROLE_CHECK) costs: the check
time of named bbc-dev questions asked with it on and off in turn, over one private store.

    .venv/bin/python scripts/role_check_cost.py d02,d09,d12,d19,d36,d43

Pick questions whose answers name two people or firms, or the swap is never read. The
machine should be otherwise idle: the numbers are times.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from eval.corpora import CORPORA
from eval.harness import corpus_engine
from rag.config import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("ids", help="question ids, comma-separated")
    parser.add_argument("--corpus", default="bbc-dev", choices=sorted(CORPORA))
    args = parser.parse_args()
    corpus = CORPORA[args.corpus]
    questions = {q.id: q for q in corpus.load()}
    wanted = [i for i in args.ids.split(",") if i]
    if unknown := [i for i in wanted if i not in questions]:
        parser.error(f"no such question in {args.corpus}: {', '.join(unknown)}")
    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="newsdesk-role-") as tmp:
        engine = corpus_engine(Settings(), Path(tmp), corpus)
        base = engine.settings
        for k, qid in enumerate(wanted):
            # Alternate which goes first, so neither always finds the other's cache.
            for on in (True, False) if k % 2 == 0 else (False, True):
                engine.settings = base.model_copy(update={"role_check": on})
                answer = engine.ask(questions[qid].question)
                times[on].append(answer.timings.check_ms)
                print(f"{qid} role_check={on}: check {answer.timings.check_ms:.0f} ms", flush=True)
    for on in (True, False):
        print(f"role_check={on}: median check {statistics.median(times[on]):.0f} ms")


if __name__ == "__main__":
    main()
