"""Check every answer sentence against the passages it cites before a reader sees it.

A sentence is supported by a passage when every number and name in the sentence occurs in the
passage and the two say the same thing (embedding similarity, or most content words shared).
Citations that support nothing are removed, an uncited sentence is given the passage that
supports it when there is one, and sentences nothing supports are dropped and reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rag.citations import answer_sentences, strip_markers
from rag.context import Passage
from rag.facts import content_words, names, numbers, words

_MARKER_RE = re.compile(r"\[(\d+)\]")


@dataclass
class SentenceCheck:
    text: str
    cited: list[int]
    supported: bool


@dataclass
class GroundedAnswer:
    text: str
    cited: list[int]
    sentences: list[SentenceCheck] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def supports(
    claim: str,
    evidence: str,
    similarity: float,
    min_similarity: float = 0.45,
    min_overlap: float = 0.5,
) -> bool:
    """Numbers and names must be in the evidence; then meaning (cosine) or wording must match."""
    if not numbers(claim) <= numbers(evidence):
        return False
    evidence_words = words(evidence)
    if any(part not in evidence_words for name in names(claim) for part in name.split("-")):
        return False
    claim_words = content_words(claim)
    overlap = len(claim_words & content_words(evidence)) / len(claim_words) if claim_words else 1.0
    return similarity >= min_similarity or overlap >= min_overlap


def ground_answer(
    answer: str,
    passages: list[Passage],
    encode: Callable[[list[str]], np.ndarray],
) -> GroundedAnswer:
    sentences = answer_sentences(answer)
    if not sentences or not passages:
        return GroundedAnswer(text="", cited=[], dropped=sentences)
    evidence = [f"{p.document.outlet or ''} {p.document.title} {p.text}" for p in passages]
    claims = [re.sub(r"\s+([.,;:!?])", r"\1", strip_markers(s)).strip() for s in sentences]
    vectors = encode(claims + [p.text for p in passages])
    claim_vecs, passage_vecs = vectors[: len(claims)], vectors[len(claims) :]
    sims = claim_vecs @ passage_vecs.T

    kept: list[SentenceCheck] = []
    dropped: list[str] = []
    for i, (sentence, claim) in enumerate(zip(sentences, claims, strict=True)):
        cited = [
            n
            for n in dict.fromkeys(int(m) for m in _MARKER_RE.findall(sentence))
            if 1 <= n <= len(passages)
        ]
        alone = [n for n in cited if supports(claim, evidence[n - 1], float(sims[i, n - 1]))]
        if not alone and cited:
            joint = " ".join(evidence[n - 1] for n in cited)
            if supports(claim, joint, float(max(sims[i, n - 1] for n in cited))):
                alone = cited
        if not alone:
            # Re-cite: the passage that best supports the sentence, if any does.
            order = np.argsort(-sims[i])
            alone = [
                int(j) + 1 for j in order[:3] if supports(claim, evidence[j], float(sims[i, j]))
            ][:1]
        if alone:
            kept.append(SentenceCheck(claim, alone, True))
        else:
            dropped.append(claim)

    text = " ".join(_with_markers(c.text, c.cited) for c in kept)
    cited_order = list(dict.fromkeys(n for c in kept for n in c.cited))
    return GroundedAnswer(text=text, cited=cited_order, sentences=kept, dropped=dropped)


_QUANTITY_RE = re.compile(
    r"\b(how (many|much)|what (is|was|were) the (number|value|total|size|cost|amount|price)"
    r"|what percentage)\b",
    re.IGNORECASE,
)


def asks_for_quantity(question: str) -> bool:
    return bool(_QUANTITY_RE.search(question))


def require_quantity(question: str, grounded: GroundedAnswer) -> GroundedAnswer:
    """A "how many" answer with no number of its own does not answer: "European troops will be
    deployed [1]" is true and cited, yet the articles never give the count. Numbers echoed from
    the question do not count."""
    if not asks_for_quantity(question):
        return grounded
    asked = numbers(question)
    if any(numbers(s.text) - asked for s in grounded.sentences):
        return grounded
    dropped = grounded.dropped + [s.text for s in grounded.sentences]
    return GroundedAnswer(text="", cited=[], sentences=[], dropped=dropped)


def _with_markers(claim: str, cited: list[int]) -> str:
    marks = "".join(f"[{n}]" for n in cited)
    body = claim.rstrip()
    if body and body[-1] in ".!?":
        return f"{body[:-1]} {marks}{body[-1]}"
    return f"{body} {marks}"
