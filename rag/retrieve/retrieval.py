"""Find the sentences a question needs.

Three ranked lists are fused by reciprocal rank fusion, which needs no score calibration:
dense search over sentences (paraphrase), BM25 over sentences (exact names and numbers), and
dense search over chunks, whose rank every sentence of the chunk inherits (context a lone
sentence lacks, e.g. a pronoun's referent).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rag.index.documents import Hit, Unit
from rag.index.embedding import Embedder
from rag.index.store import Store

RetrievalMode = Literal["dense", "lexical", "hybrid"]


@dataclass
class SentenceHit:
    unit: Unit
    score: float  # fused RRF score
    dense: float  # cosine similarity to the question
    embedding: np.ndarray


@dataclass
class RetrievalResult:
    hits: list[SentenceHit]
    best_dense: float

    def ranked_doc_ids(self) -> list[str]:
        return list(dict.fromkeys(h.unit.doc_id for h in self.hits))


def merge_results(results: Sequence[RetrievalResult]) -> RetrievalResult:
    """Hits of several queries taken in turn, rank by rank, each sentence once: every query
    keeps its best hits near the top. Similarity is the whole question's (the first)."""
    if len(results) == 1:
        return results[0]
    merged: list[SentenceHit] = []
    seen: set[str] = set()
    for rank in range(max(len(r.hits) for r in results)):
        for r in results:
            if rank < len(r.hits) and r.hits[rank].unit.unit_id not in seen:
                seen.add(r.hits[rank].unit.unit_id)
                merged.append(r.hits[rank])
    return RetrievalResult(hits=merged, best_dense=max(r.best_dense for r in results))


def rrf_fuse(
    rankings: Sequence[Sequence[Unit]], weights: Sequence[float], k: int = 60
) -> list[tuple[Unit, float]]:
    """Reciprocal rank fusion: score = sum(weight / (k + rank)); ties keep a stable order."""
    scores: dict[str, float] = {}
    units: dict[str, Unit] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, unit in enumerate(ranking, start=1):
            scores[unit.unit_id] = scores.get(unit.unit_id, 0.0) + weight / (k + rank)
            units[unit.unit_id] = unit
    order = sorted(scores, key=lambda u: (-scores[u], units[u].doc_id, units[u].index))
    return [(units[u], scores[u]) for u in order]


_NAME_RE = re.compile(r"\b([A-Z][a-z]{2,})\b")
# Capitalised because they start a sentence, not because they name something.
_NOT_NAMES = set(
    [
        "The",
        "This",
        "That",
        "These",
        "Those",
        "There",
        "Then",
        "They",
        "Their",
        "His",
        "Her",
        "Its",
        "And",
        "But",
        "However",
        "Meanwhile",
        "Despite",
        "According",
        "After",
        "Before",
        "During",
        "While",
        "When",
        "Where",
        "What",
        "Which",
        "Who",
        "Why",
        "How",
        "Also",
        "In",
        "On",
        "At",
        "For",
        "From",
        "With",
        "Without",
        "Into",
        "About",
        "As",
        "An",
        "It",
        "He",
        "She",
        "We",
        "You",
        "Our",
        "Some",
        "Many",
        "Most",
        "Other",
        "Such",
        "Last",
        "Additionally",
        "Amid",
        "Among",
        "Under",
        "Over",
        "One",
        "Two",
        "Three",
        "Several",
        "Various",
        "Both",
        "Each",
        "Any",
        "All",
        "If",
        "Yet",
    ]
)


def feedback_terms(question: str, texts: list[str], limit: int = 6) -> list[str]:
    """Proper names from the top hits that the question does not already contain."""
    asked = {w.lower() for w in re.findall(r"\w+", question)}
    names: list[str] = []
    for text in texts:
        for m in _NAME_RE.finditer(text):
            word = m.group(1)
            if word.lower() not in asked and word not in _NOT_NAMES and word not in names:
                names.append(word)
    return names[:limit]


def _chunk_ranking(store: Store, chunk_hits: list[Hit]) -> list[Unit]:
    """Sentences of the top chunks, in chunk rank order (a sentence keeps its best rank)."""
    ranked: list[Unit] = []
    seen: set[str] = set()
    for hit in chunk_hits:
        chunk = hit.unit
        for sent in store.document_units("sentences", chunk.doc_id):
            if chunk.start <= sent.start and sent.end <= chunk.end and sent.unit_id not in seen:
                seen.add(sent.unit_id)
                ranked.append(sent)
    return ranked


def retrieve(
    question: str,
    store: Store,
    embedder: Embedder,
    mode: RetrievalMode = "hybrid",
    doc_ids: Sequence[str] | None = None,
    candidates: int = 30,
    chunk_candidates: int = 8,
    weights: tuple[float, float, float] = (1.0, 1.0, 0.5),
    feedback: float = 0.0,
    feedback_docs: int = 1,
) -> RetrievalResult:
    vector = embedder.encode_one(question)
    rankings: list[list[Unit]] = []
    used: list[float] = []
    vectors: dict[str, np.ndarray] = {}
    if mode in ("dense", "hybrid"):
        dense = store.dense_search("sentences", vector, candidates, doc_ids, with_embeddings=True)
        vectors.update({h.unit.unit_id: h.embedding for h in dense if h.embedding is not None})
        rankings.append([h.unit for h in dense])
        used.append(weights[0])
    if mode in ("lexical", "hybrid"):
        lexical = store.lexical_search("sentences", question, candidates, doc_ids)
        rankings.append([h.unit for h in lexical])
        used.append(weights[1])
        if feedback > 0 and (rankings[0] or lexical):
            # Entity feedback: names in the best hits ("Italy") find the other reports of the
            # same fact worded differently ("ruled out" for "refused"), which MiniLM misses.
            seeds = (rankings[0][:feedback_docs] if mode == "hybrid" else []) + [
                h.unit for h in lexical[:feedback_docs]
            ]
            names = feedback_terms(question, [u.text for u in seeds])
            if names:
                expanded = store.lexical_search(
                    "sentences", question + " " + " ".join(names), candidates, doc_ids
                )
                rankings.append([h.unit for h in expanded])
                used.append(weights[1] * feedback)
    if mode in ("dense", "hybrid"):
        chunks = store.dense_search("chunks", vector, chunk_candidates, doc_ids)
        rankings.append(_chunk_ranking(store, chunks))
        used.append(weights[2])

    fused = rrf_fuse(rankings, used)
    missing = [u.unit_id for u, _ in fused if u.unit_id not in vectors]
    vectors.update(store.embeddings("sentences", missing))
    hits = [
        SentenceHit(unit, score, float(vectors[unit.unit_id] @ vector), vectors[unit.unit_id])
        for unit, score in fused
        if unit.unit_id in vectors
    ]
    best = max((h.dense for h in hits), default=0.0)
    return RetrievalResult(hits=hits, best_dense=best)
