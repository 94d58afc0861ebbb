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

_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_NAME_RE = re.compile(r"\b[A-Z][a-zA-Z’'-]+")
_WORD_RE = re.compile(r"[a-z0-9]+")
_MARKER_RE = re.compile(r"\[(\d+)\]")
_NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "twenty": "20",
    "thirty": "30",
    "hundred": "100",
}
_STOP = frozenset(
    {
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "not",
        "no",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "he",
        "she",
        "they",
        "them",
        "his",
        "her",
        "their",
        "there",
        "which",
        "what",
        "who",
        "whom",
        "when",
        "where",
        "why",
        "how",
        "will",
        "would",
        "can",
        "could",
        "should",
        "may",
        "might",
        "also",
        "said",
        "says",
        "according",
        "articles",
        "article",
        "passage",
        "passages",
        "source",
        "sources",
        "report",
        "reports",
    }
)
# Capitalised words that are not names.
_NOT_NAMES = {
    "The",
    "This",
    "That",
    "These",
    "Those",
    "It",
    "He",
    "She",
    "They",
    "In",
    "On",
    "According",
    "However",
    "Both",
    "A",
    "An",
    "As",
    "But",
    "And",
    "Also",
    "While",
}


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


def _numbers(text: str) -> set[str]:
    found = {n.replace(",", "") for n in _NUMBER_RE.findall(text)}
    for word in _WORD_RE.findall(text.lower()):
        if word in _NUMBER_WORDS:
            found.add(_NUMBER_WORDS[word])
    return found


def _names(text: str) -> set[str]:
    return {m.lower() for m in _NAME_RE.findall(text) if m not in _NOT_NAMES}


def _content(text: str) -> set[str]:
    return {w[:6] for w in _WORD_RE.findall(text.lower()) if w not in _STOP and len(w) > 2}


def supports(
    claim: str,
    evidence: str,
    similarity: float,
    min_similarity: float = 0.45,
    min_overlap: float = 0.5,
) -> bool:
    """Numbers and names must be in the evidence; then meaning (cosine) or wording must match."""
    if not _numbers(claim) <= _numbers(evidence):
        return False
    evidence_lower = evidence.lower()
    if any(name not in evidence_lower for name in _names(claim)):
        return False
    words = _content(claim)
    overlap = len(words & _content(evidence)) / len(words) if words else 1.0
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


def _with_markers(claim: str, cited: list[int]) -> str:
    marks = "".join(f"[{n}]" for n in cited)
    body = claim.rstrip()
    if body and body[-1] in ".!?":
        return f"{body[:-1]} {marks}{body[-1]}"
    return f"{body} {marks}"
