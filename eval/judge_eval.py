"""Score the support check against labelled claim/evidence pairs, never against itself.

`eval/support_pairs.jsonl` holds claims with the article sentences they are checked against,
labelled by hand as supported, contradicted or not stated (negations, swapped roles, changed
numbers, the wrong person, a hedge stated as fact…). Each checker is scored on how many
supported pairs it accepts and how many of the others it rejects:

- `wording` is the older check: names and numbers present, then most content words shared or
  a close embedding;
- `filter` is the names-and-numbers filter alone (as in the engine, a country may be named
  another way than the evidence names it only when the claim fails as written);
- `judge` is the model read as a yes/no judge alone;
- `filter+judge` is the filter, then the judge;
- `filter+judge+swap`: as above, and the claim is dropped when the judge believes it with two
  of its names swapped more than it believes the claim;
- `filter+judge+swap+hedge` is what the engine runs (`NEWSDESK_HEDGE_CHECK`): when the evidence
  hedges and the claim does not, the claim is also dropped when the judge believes it said as
  a possibility more than the claim.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from rag.answer.grounding import (
    HEDGE_MARGIN,
    ROLE_MARGIN,
    as_possible,
    claim_text,
    hedged_away,
    plausible,
    role_swaps,
    support_strength,
)
from rag.retrieve.facts import names

PAIRS = Path(__file__).resolve().parent / "support_pairs.jsonl"


@dataclass(frozen=True)
class Pair:
    id: str
    corpus: str
    doc_id: str
    evidence: str
    claim: str
    label: str  # supported | contradicted | not_stated
    kind: str


def by_other_names(claim: str, evidence: str) -> bool:
    """Whether the engine would look for a country by its other names: only for a claim
    that fails the filter as written (`Grounder._candidates`)."""
    return not plausible(claim, evidence)


def load_pairs(path: Path = PAIRS) -> list[Pair]:
    return [Pair(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def judge_scores(engine, pairs: list[Pair]) -> list[tuple[float, float, float]]:
    """(P(yes), the highest P(yes) of the claim with two names swapped, 0 when none is, and
    the P(yes) of the claim said as a possibility, 0 when it is not read: `hedged_away`) for
    each pair, asked exactly as the engine asks
    (`engine`: a rag.engine.Engine): the evidence as passage [1] of the answer prompt, the
    yes/no question in place of the user's, the other readings in the same call."""
    scores = []
    for pair in track(pairs, description="judge", transient=True):
        passage = engine.prompts.render_passage(1, None, "", pair.evidence)
        claim = claim_text(pair.claim)
        swaps = role_swaps(claim, pair.evidence, countries=by_other_names(claim, pair.evidence))
        possible = (
            [as_possible(claim, frozenset(names(pair.evidence)))]
            if hedged_away(claim, pair.evidence)
            else []
        )
        readings = [(c, [1]) for c in [claim, *swaps, *possible]]
        result = engine.generator.judge(
            engine.prompts.judge_prompts([passage], readings, {1: pair.evidence})
        )
        if not result:
            scores.append((float("nan"), 0.0, 0.0))
        else:
            own, swapped, possible = result[0], result[1 : 1 + len(swaps)], result[1 + len(swaps) :]
            scores.append((own, max(swapped, default=0.0), max(possible, default=0.0)))
    return scores


def evaluate_judge(engine, threshold: float | None = None) -> dict:
    pairs = load_pairs()
    t = engine.settings.support_threshold if threshold is None else threshold
    vectors = engine.embedder.encode([p.claim for p in pairs] + [p.evidence for p in pairs])
    sims = [float(vectors[i] @ vectors[len(pairs) + i]) for i in range(len(pairs))]
    scores = judge_scores(engine, pairs)
    p_yes = [y for y, _, _ in scores]
    # The claim is believed no less than with its roles swapped, or said as a possibility.
    in_order = [swapped <= y + ROLE_MARGIN for y, swapped, _ in scores]
    as_stated = [possible <= y + HEDGE_MARGIN for y, _, possible in scores]
    claims = [claim_text(p.claim) for p in pairs]
    verdicts: dict[str, list[bool]] = {
        "wording": [
            support_strength(claim, p.evidence, s) is not None
            for p, claim, s in zip(pairs, claims, sims, strict=True)
        ],
        "filter": [
            plausible(claim, p.evidence, countries=by_other_names(claim, p.evidence))
            for p, claim in zip(pairs, claims, strict=True)
        ],
        "judge": [y >= t for y in p_yes],
    }
    verdicts["filter+judge"] = [
        a and b for a, b in zip(verdicts["filter"], verdicts["judge"], strict=True)
    ]
    verdicts["filter+judge+swap"] = [
        a and b for a, b in zip(verdicts["filter+judge"], in_order, strict=True)
    ]
    verdicts["filter+judge+swap+hedge"] = [
        a and b for a, b in zip(verdicts["filter+judge+swap"], as_stated, strict=True)
    ]
    report: dict = {"threshold": t, "pairs": len(pairs), "checkers": {}, "by_kind": {}}
    for name, accepted in verdicts.items():
        report["checkers"][name] = _rates(pairs, accepted)
    for kind in sorted({p.kind for p in pairs}):
        idx = [i for i, p in enumerate(pairs) if p.kind == kind]
        label = pairs[idx[0]].label
        report["by_kind"][kind] = {
            "label": label,
            "n": len(idx),
            **{
                name: statistics.fmean(float(acc[i] == (label == "supported")) for i in idx)
                for name, acc in verdicts.items()
            },
        }
    # The threshold curve, so the setting is chosen from data.
    report["curve"] = [
        {
            "threshold": x,
            **_rates(
                pairs,
                [
                    f and y >= x and o and h
                    for f, y, o, h in zip(
                        verdicts["filter"], p_yes, in_order, as_stated, strict=True
                    )
                ],
            ),
        }
        for x in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    ]
    report["per_pair"] = [
        {
            "id": p.id,
            "label": p.label,
            "kind": p.kind,
            "p_yes": round(y, 4),
            "p_swapped": round(swapped, 4),
            "p_possible": round(possible, 4),
            "filter": f,
        }
        for p, (y, swapped, possible), f in zip(pairs, scores, verdicts["filter"], strict=True)
    ]
    return report


def _rates(pairs: list[Pair], accepted: list[bool]) -> dict[str, float]:
    good = [a for p, a in zip(pairs, accepted, strict=True) if p.label == "supported"]
    bad = [a for p, a in zip(pairs, accepted, strict=True) if p.label != "supported"]
    return {
        "accept_supported": round(statistics.fmean(good), 3) if good else 0.0,
        "reject_others": round(1 - statistics.fmean(bad), 3) if bad else 0.0,
    }


def print_judge(report: dict, console: Console) -> None:
    table = Table(title=f"support check on {report['pairs']} labelled pairs")
    table.add_column("checker")
    table.add_column("accepts supported (≥ 0.90)")
    table.add_column("rejects contradicted / not stated (≥ 0.95)")
    for name, r in report["checkers"].items():
        table.add_row(name, f"{r['accept_supported']:.2f}", f"{r['reject_others']:.2f}")
    console.print(table)
    kinds = Table(title="share judged right, by kind of pair")
    kinds.add_column("kind")
    kinds.add_column("label")
    kinds.add_column("n")
    names = list(report["checkers"])
    for n in names:
        kinds.add_column(n)
    for kind, d in report["by_kind"].items():
        kinds.add_row(kind, d["label"], str(d["n"]), *[f"{d[n]:.2f}" for n in names])
    console.print(kinds)
    curve = Table(title="filter+judge+swap+hedge by threshold")
    curve.add_column("P(yes) ≥")
    curve.add_column("accepts supported")
    curve.add_column("rejects others")
    for row in report["curve"]:
        curve.add_row(
            f"{row['threshold']:.1f}",
            f"{row['accept_supported']:.2f}",
            f"{row['reject_others']:.2f}",
        )
    console.print(curve)
