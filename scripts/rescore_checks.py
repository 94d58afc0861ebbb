"""Try a stricter support rule on a finished evaluation, without the model.

`newsdesk eval` keeps, beside every answer, what the support check read of each claim: the
claim, the quote of the passages it cites, the judge's P(yes) and the P(yes) of the claim with
two names swapped (`checks` in the report's JSON). This replays a stricter rule on them: a
claim the run kept is withdrawn when the rule rejects it, the answer is rebuilt from the
sentences left, and it is scored again against the gold answers and articles. An evaluation of
an hour on a slow machine becomes seconds per rule tried.

Only stricter rules can be replayed: a claim the run dropped was never cited or shown. The
replay is close, not exact: the engine would also test the shortened answer as a whole (does it
still answer what was asked?), so a replayed answer may keep a sentence the engine would have
withdrawn. A rule worth keeping is confirmed by `newsdesk eval`.

    .venv/bin/python scripts/rescore_checks.py eval/reports/bbc-dev-qwen2.5-coder-1.5b.json \
        --threshold 0.5 [--hedge-margin 0.2] [--show]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from eval.corpora import CORPORA
from eval.runner import QuestionResult, score_question
from rag.answer.citations import strip_markers
from rag.answer.grounding import hedged_away
from rag.retrieve.facts import content_words


def rejects(check: dict, threshold: float, hedge_margin: float) -> bool:
    """Whether the stricter rule withdraws a claim the run kept."""
    if not check["kept"] or check["p_yes"] is None:
        return False
    need = threshold
    if hedge_margin and hedged_away(check["claim"], check["quote"]):
        need += hedge_margin
    return check["p_yes"] < need


def _closest(claim: str, sentences: list[dict]) -> int | None:
    want = content_words(claim)
    best, at = 0.0, None
    for i, s in enumerate(sentences):
        if s["origin"] != "model":
            continue
        have = content_words(strip_markers(s["text"]))
        overlap = len(want & have) / max(1, len(want | have))
        if overlap > best:
            best, at = overlap, i
    return at if best >= 0.5 else None


def replay(answer: dict, withdrawn: list[str]) -> dict:
    """The answer without the sentences of the withdrawn claims; a decline when nothing of the
    model's is left and the reports do not disagree."""
    sentences = list(answer["sentences"])
    for claim in withdrawn:
        at = _closest(claim, sentences)
        if at is not None:
            sentences.pop(at)
    if not any(s["origin"] == "model" for s in sentences) and not answer["conflicts"]:
        return {
            **answer,
            "answer": "The articles don't say.",
            "answerable": False,
            "abstain_reason": "unsupported_answer",
            "citations": [],
            "sentences": [],
            "dropped": answer["dropped"] + withdrawn,
        }
    used = {n for s in sentences for n in s["citations"]}
    used |= {c["n"] for f in answer["conflicts"] for c in f["claims"]}
    return {
        **answer,
        "answer": " ".join(s["text"] for s in sentences),
        "citations": [c for c in answer["citations"] if c["n"] in used],
        "sentences": sentences,
        "dropped": answer["dropped"] + withdrawn,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--threshold", type=float, default=0.4)
    parser.add_argument("--hedge-margin", type=float, default=0.0)
    parser.add_argument("--show", action="store_true", help="print every withdrawn claim")
    args = parser.parse_args()
    report = json.loads(args.report.read_text())
    golden = {q.id: q for q in CORPORA[report["corpus"]].load()}
    rows = report["systems"]["newsdesk"]["per_question"]
    if not any(r.get("checks") for r in rows):
        raise SystemExit(f"{args.report}: no support readings kept (an older report?)")
    totals = {"before": [0, 0, 0, 0], "after": [0, 0, 0, 0]}
    for r in rows:
        q = golden[r["id"]]
        res = QuestionResult(
            r["id"],
            r["category"],
            r["gold_answerable"],
            r["answer"],
            r["error"],
            r["ranked_doc_ids"],
        )
        withdrawn = [
            c["claim"] for c in r["checks"] if rejects(c, args.threshold, args.hedge_margin)
        ]
        if withdrawn and r["answer"]:
            res = replace(res, answer=replay(r["answer"], withdrawn))
        before, after = r["scores"], score_question(q, res)
        for name, scores in (("before", before), ("after", after)):
            for i, metric in enumerate(
                ("answer_presence", "right_article", "abstention", "false_refusal")
            ):
                totals[name][i] += int(scores.get(metric, 0))
        if withdrawn and args.show:
            right = [s.get("answer_presence", s.get("abstention")) for s in (before, after)]
            print(f"{r['id']} [{q.category}] right {right[0]} -> {right[1]}")
            for c in r["checks"]:
                if c["claim"] in withdrawn:
                    print(f"   - P(yes) {c['p_yes']}: {c['claim']!r}")
                    print(f"     quote: {c['quote'][:200]!r}")
    answerable = sum(golden[r["id"]].answerable for r in rows)
    unanswerable = len(rows) - answerable
    print(f"{report['corpus']}: threshold {args.threshold}, hedge margin {args.hedge_margin}")
    for name, (right, cited, declined, refused) in totals.items():
        print(
            f"  {name:6} right {right}/{answerable}  cited a gold article {cited}/{answerable}  "
            f"declined {declined}/{unanswerable}  false refusals {refused}/{answerable}"
        )


if __name__ == "__main__":
    main()
