"""An evaluation keeps what the support check read of each claim, and a stricter rule replayed
on those readings rebuilds and re-scores the answer without the model."""

from __future__ import annotations

from test_grounding import bow, passage

from eval.corpora import GoldQuestion
from eval.runner import QuestionResult, _recording_checks, score_question
from rag.answer.grounding import Grounder


def test_each_claim_the_check_reads_is_recorded():
    hedged = passage("a", "The union could take legal action against the board in March.")
    said = {"The union has taken legal action against the board.": 0.55}
    g = Grounder(
        [hedged],
        bow,
        judge=lambda items, quotes: [said.get(c, 0.9) for c, _ in items],
        hedge_check=True,
    )
    with _recording_checks() as checks:
        g.check_all(
            [
                "The union has taken legal action against the board [1].",
                "The union sued in April 2031 [1].",  # a date the passage lacks: the filter's
            ]
        )
    judged, filtered = checks.items
    assert judged == {
        "claim": "The union has taken legal action against the board.",
        "cited": [1],
        "quote": hedged.text,
        "p_yes": 0.55,
        "swapped": [],
        "possible": [0.9],  # its quote says "could", and it is believed more as possible
        "kept": False,
        "countries": False,  # every name found as the claim writes it
    }
    assert filtered["p_yes"] is None and not filtered["kept"] and filtered["cited"] == []
    # Outside an evaluation nothing is kept.
    g.check_all(["The union could take legal action [1]."])
    assert len(checks.items) == 2


ANSWER = {
    "answer": "Ann Roe won the seat [1]. The union has taken legal action [2].",
    "answerable": True,
    "abstain_reason": None,
    "citations": [
        {"n": 1, "doc_id": "a", "quote": "Ann Roe won the seat.", "also_in": []},
        {"n": 2, "doc_id": "b", "quote": "The union could take legal action.", "also_in": []},
    ],
    "sentences": [
        {"text": "Ann Roe won the seat [1].", "origin": "model", "citations": [1]},
        {"text": "The union has taken legal action [2].", "origin": "model", "citations": [2]},
    ],
    "conflicts": [],
    "dropped": [],
}
CHECKS = [
    {
        "claim": "Ann Roe won the seat.",
        "quote": "Ann Roe won the seat.",
        "p_yes": 0.9,
        "kept": True,
    },
    {
        "claim": "The union has taken legal action.",
        "quote": "The union could take legal action.",
        "p_yes": 0.55,
        "kept": True,
    },
]


def test_a_hedge_stated_as_fact_needs_more_belief(load_script):
    script = load_script("rescore_checks")
    held, bold = CHECKS
    assert not script.rejects(bold, threshold=0.5, hedge_margin=0.0)
    assert script.rejects(bold, threshold=0.5, hedge_margin=0.1)
    assert not script.rejects(held, threshold=0.5, hedge_margin=0.1)  # the quote states it
    # A claim that keeps the hedge is not stating it as fact.
    kept_hedge = {**bold, "claim": "The union could take legal action."}
    assert not script.rejects(kept_hedge, threshold=0.5, hedge_margin=0.1)


def test_the_answer_is_rebuilt_without_the_withdrawn_claim_and_scored_again(load_script):
    script = load_script("rescore_checks")
    q = GoldQuestion("x", "Who won, and has the union sued?", True, [["Ann Roe"]], ["a"], "fact")
    after = script.replay(ANSWER, ["The union has taken legal action."])
    assert after["answer"] == "Ann Roe won the seat [1]."
    assert [c["n"] for c in after["citations"]] == [1]
    res = QuestionResult("x", "fact", True, after, None, ["a"])
    assert score_question(q, res)["answer_presence"] == 1.0
    # Nothing of the model's left: declined, and scored as a false refusal.
    none = script.replay(ANSWER, [c["claim"] for c in CHECKS])
    assert not none["answerable"] and none["abstain_reason"] == "unsupported_answer"
    res = QuestionResult("x", "fact", True, none, None, ["a"])
    assert score_question(q, res)["false_refusal"] == 1.0
