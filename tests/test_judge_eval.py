"""The support check's scoring on labelled pairs, with a scripted judge: the real judge is
measured by `newsdesk eval --judge`; this proves the scoring reads its verdicts as the engine
does (the filter first, then P(yes), then the claim against its names swapped)."""

from types import SimpleNamespace

import numpy as np

from eval.judge_eval import evaluate_judge, load_pairs
from rag.answer.grounding import claim_text, hedged_away, plausible, role_swaps
from rag.config import PROJECT_ROOT
from rag.llm.prompts import PromptSet


class SwapBelievingJudge:
    """P(yes) 0.7 for a claim, 0.95 for each other reading of it (two names swapped, or said
    as a possibility)."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def judge(self, prompts: list[list[dict[str, str]]]) -> list[float]:
        self.calls.append(len(prompts))
        return [0.7] + [0.95] * (len(prompts) - 1)


def test_a_pair_is_accepted_only_when_no_swapped_claim_is_believed_more():
    judge = SwapBelievingJudge()
    engine = SimpleNamespace(
        prompts=PromptSet.load(PROJECT_ROOT / "prompts"),
        generator=judge,
        embedder=SimpleNamespace(encode=lambda texts: np.ones((len(texts), 4)) / 2),
        settings=SimpleNamespace(support_threshold=0.4),
    )
    report = evaluate_judge(engine)
    pairs = load_pairs()

    def swaps(p):
        c = claim_text(p.claim)
        return role_swaps(c, p.evidence, countries=not plausible(c, p.evidence))

    swapped = [bool(swaps(p)) for p in pairs]
    # One call per pair: the claim, each swap of it, then, where the evidence hedges and the
    # claim does not, the claim said as a possibility.
    hedged = [hedged_away(claim_text(p.claim), p.evidence) for p in pairs]
    assert judge.calls == [1 + len(swaps(p)) + h for p, h in zip(pairs, hedged, strict=True)]
    assert 0 < sum(swapped) < len(pairs)
    accepted = [
        plausible(claim_text(p.claim), p.evidence, countries=True) and not s
        for p, s in zip(pairs, swapped, strict=True)
    ]
    supported = [a for a, p in zip(accepted, pairs, strict=True) if p.label == "supported"]
    others = [a for a, p in zip(accepted, pairs, strict=True) if p.label != "supported"]
    rates = report["checkers"]["filter+judge+swap"]
    assert rates["accept_supported"] == round(sum(supported) / len(supported), 3)
    assert rates["reject_others"] == round(1 - sum(others) / len(others), 3)
    # Without the swap reading every pair the filter passes is accepted at P(yes) 0.7.
    assert report["checkers"]["filter+judge"]["accept_supported"] > rates["accept_supported"]
    assert all(
        r["p_swapped"] == (0.95 if s else 0.0)
        for r, s in zip(report["per_pair"], swapped, strict=True)
    )
    # Said as a possibility, a claim is believed more (0.95 > 0.7 + HEDGE_MARGIN): a pair whose
    # evidence hedges (and claim does not) is rejected, and only such a pair.
    assert 0 < sum(hedged) < len(pairs)
    both = report["checkers"]["filter+judge+swap+hedge"]
    kept = [a and not h for a, h in zip(accepted, hedged, strict=True)]
    good = [k for k, p in zip(kept, pairs, strict=True) if p.label == "supported"]
    assert both["accept_supported"] == round(sum(good) / len(good), 3)
    assert all(
        r["p_possible"] == (0.95 if h else 0.0)
        for r, h in zip(report["per_pair"], hedged, strict=True)
    )
