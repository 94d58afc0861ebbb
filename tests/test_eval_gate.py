"""Regression gate: the fast golden subset through the real engine and model must stay above
these floors. Raise them as quality improves; never lower one to make a change pass."""

import pytest

from eval.baseline import NewsdeskSystem
from eval.runner import evaluate, fast_subset_ids, load_golden, select

pytestmark = pytest.mark.slow

# Measured on this subset with the support check on (1.5B preset, 2026-11-24 full run):
# presence 0.88, abstention 1.00, false refusals 0.00, citation format 1.00, cited-doc
# precision 1.00, ALCE support recall/precision 0.88/0.88, no answer numbers outside their
# cited spans. Floors sit a step below (one question is 0.125 of the answerable eight, 0.25
# of the four unanswerable; the refusal ceiling keeps two steps, as greedy drafts drift with
# the KV-cache state the earlier tests leave).
FLOORS = {
    "recall_at_5": 0.90,
    "answer_presence": 0.75,
    "abstention": 0.75,
    "citation_format": 0.90,
    "cited_doc_precision": 0.90,
    "support_recall": 0.75,
    "support_precision": 0.75,
}
CEILINGS = {"false_refusal": 0.25, "unsupported_numbers": 0.0}


def test_fast_subset_meets_floors(seeded_engine, tmp_path):
    questions = select(load_golden(), ids=fast_subset_ids())
    assert len(questions) >= 12 and sum(not q.answerable for q in questions) >= 3
    report = evaluate(
        [NewsdeskSystem(seeded_engine)],
        questions,
        seeded_engine.model_name,
        out_dir=tmp_path,
        show_progress=False,
    )
    result = report["systems"]["newsdesk"]
    metrics = {k: v["mean"] for k, v in result["metrics"].items()}
    assert result["crashes"] == 0
    failures = [f"{k}={metrics[k]:.2f} < {v}" for k, v in FLOORS.items() if metrics[k] < v]
    failures += [f"{k}={metrics[k]:.2f} > {v}" for k, v in CEILINGS.items() if metrics[k] > v]
    assert not failures, failures
    assert (tmp_path.glob("*.md")) and list(tmp_path.glob("*.json"))
