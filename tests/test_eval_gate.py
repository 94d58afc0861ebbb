"""Regression gate: the fast subset of each corpus through the real engine and model must
stay above these floors. Raise them as quality improves; never lower one to make a change
pass. The bbc-dev subset keeps the gate honest about news the engine was not written on."""

import pytest

from eval.baseline import NewsdeskSystem
from eval.corpora import CORPORA
from eval.harness import corpus_engine
from eval.runner import evaluate, fast_subset_ids, select

pytestmark = pytest.mark.slow

# Measured on each subset with the default 1.5B model and a 500-token context (seeds: 6 of 8
# answerable right, 3 of 4 unanswerable declined; bbc-dev: 5 of 7 right, 3 of 3 declined);
# floors sit a step below, as greedy drafts drift with the KV-cache state earlier tests
# leave. Raise them as answering improves.
FLOORS = {
    "seeds": {
        "answer_presence": 0.62,
        "abstention": 0.5,
        "citation_format": 0.90,
        "right_article": 0.62,
    },
    "bbc-dev": {
        "answer_presence": 0.57,
        "abstention": 0.66,
        "citation_format": 0.90,
        "right_article": 0.57,
    },
}
CEILINGS = {"unsupported_numbers": 0.0}


# CI keeps bbc-dev's subset, the news the engine was not written on. The seeds' subset is
# `long` (11 minutes on a slow 2-core machine): their troops list, disagreement, off-topic,
# injection and near-miss refusals are asserted one by one in tests/test_end_to_end.py.
@pytest.mark.parametrize(
    "corpus", [pytest.param(c, marks=[pytest.mark.long] if c == "seeds" else []) for c in CORPORA]
)
def test_fast_subset_meets_floors(corpus, seeded_engine, embedder, tmp_path):
    questions = select(CORPORA[corpus].load(), ids=fast_subset_ids())
    assert len(questions) >= 8 and sum(not q.answerable for q in questions) >= 3
    if corpus == "seeds":
        engine = seeded_engine
    else:
        engine = corpus_engine(seeded_engine.settings, tmp_path, CORPORA[corpus], embedder)
    report = evaluate(
        [NewsdeskSystem(engine)],
        questions,
        engine.model_name,
        out_dir=tmp_path,
        show_progress=False,
        corpus=corpus,
    )
    result = report["systems"]["newsdesk"]
    metrics = {k: v["mean"] for k, v in result["metrics"].items()}
    assert result["crashes"] == 0
    floors = FLOORS[corpus]
    # A metric with no question to apply to (no answer at all) fails its floor.
    failures = [f"{k}={metrics[k]} < {v}" for k, v in floors.items() if (metrics[k] or 0) < v]
    failures += [f"{k}={metrics[k]} > {v}" for k, v in CEILINGS.items() if (metrics[k] or 0) > v]
    assert not failures, failures
    assert list(tmp_path.glob("*.md")) and list(tmp_path.glob("*.json"))
