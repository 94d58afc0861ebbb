"""Find the passages a question needs.

Dense search (MiniLM cosine) catches paraphrase; lexical search (BM25 over FTS5) catches exact
names and numbers. Both ranked lists are fused by reciprocal rank fusion, which needs no score
calibration between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from rag.embedding import Embedder
from rag.store import ChunkRecord, DocumentRecord, Hit, Store

RetrievalMode = Literal["dense", "lexical", "hybrid"]


@dataclass
class Passage:
    chunk: ChunkRecord
    document: DocumentRecord
    score: float
    dense_score: float | None = None
    also_in: list[str] = field(default_factory=list)


@dataclass
class RetrievalResult:
    passages: list[Passage]
    best_dense: float


def rrf_fuse(rankings: Sequence[Sequence[Hit]], weights: Sequence[float], k: int = 60) -> list[Hit]:
    """Reciprocal rank fusion: score = sum(w / (k + rank))."""
    scores: dict[str, float] = {}
    chunks: dict[str, ChunkRecord] = {}
    for hits, weight in zip(rankings, weights, strict=True):
        for rank, hit in enumerate(hits, start=1):
            cid = hit.chunk.chunk_id
            scores[cid] = scores.get(cid, 0.0) + weight / (k + rank)
            chunks[cid] = hit.chunk
    order = sorted(scores, key=lambda c: (-scores[c], c))
    return [Hit(chunks[c], scores[c]) for c in order]


def retrieve(
    question: str,
    store: Store,
    embedder: Embedder,
    k: int,
    mode: RetrievalMode = "hybrid",
    doc_ids: Sequence[str] | None = None,
    candidates: int = 20,
    dense_weight: float = 1.0,
    lexical_weight: float = 1.0,
) -> RetrievalResult:
    vector = embedder.encode_one(question)
    dense = store.dense_search(vector, candidates, doc_ids) if mode != "lexical" else []
    lexical = store.lexical_search(question, candidates, doc_ids) if mode != "dense" else []
    dense_by_id = {h.chunk.chunk_id: h.score for h in dense}
    best_dense = max(dense_by_id.values(), default=0.0)

    if mode == "dense":
        ranked = dense
    elif mode == "lexical":
        ranked = lexical
    else:
        ranked = rrf_fuse([dense, lexical], [dense_weight, lexical_weight])

    docs = store.get_documents(h.chunk.doc_id for h in ranked[:k])
    passages = [
        Passage(
            chunk=h.chunk,
            document=docs[h.chunk.doc_id],
            score=h.score,
            dense_score=dense_by_id.get(h.chunk.chunk_id),
        )
        for h in ranked[:k]
        if h.chunk.doc_id in docs
    ]
    return RetrievalResult(passages=passages, best_dense=best_dense)
