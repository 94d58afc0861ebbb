"""The naive RAG pipeline newsdesk has to beat, built from the same parts so only method differs.

Fixed 1000-character chunks with 200 overlap, dense top-4 from Chroma, one prompt ("answer from
the sources, cite like [1], say you don't know otherwise"), one chat call. Same embedder, same
GGUF model, same machine, same run.
"""

from __future__ import annotations

import time
from pathlib import Path
from string import Template

from rag.answer.citations import is_abstention, normalise_markers
from rag.index.embedding import Embedder
from rag.ingest.loading import find_article_files, read_text_file
from rag.llm.generation import Generator
from rag.schemas import Answer, Citation, Timings

CHUNK_CHARS = 1000
OVERLAP_CHARS = 200
TOP_K = 4


def char_chunks(
    text: str, size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS
) -> list[tuple[int, int]]:
    spans = []
    step = size - overlap
    for start in range(0, max(1, len(text)), step):
        end = min(len(text), start + size)
        spans.append((start, end))
        if end == len(text):
            break
    return spans


class BaselineSystem:
    name = "baseline"

    def __init__(
        self,
        corpus: list[Path],
        embedder: Embedder,
        generator: Generator,
        model_name: str,
        data_dir: Path,
        prompts_dir: Path,
    ) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.embedder = embedder
        self.generator = generator
        self.model_name = model_name
        self.prompt = Template((prompts_dir / "baseline.txt").read_text(encoding="utf-8").strip())
        client = chromadb.PersistentClient(
            path=str(data_dir), settings=ChromaSettings(anonymized_telemetry=False)
        )
        self.collection = client.get_or_create_collection(
            "baseline", embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        self.texts: dict[str, str] = {}
        ids, docs, metas = [], [], []
        for path in find_article_files(corpus):
            text = read_text_file(path)
            self.texts[path.stem] = text
            for i, (start, end) in enumerate(char_chunks(text)):
                ids.append(f"{path.stem}:{i}")
                docs.append(text[start:end])
                metas.append(
                    {"doc_id": path.stem, "source_file": path.name, "start": start, "end": end}
                )
        if self.collection.count() == 0 and ids:
            self.collection.add(
                ids=ids, documents=docs, metadatas=metas, embeddings=embedder.encode(docs).tolist()
            )

    def _query(self, question: str, k: int) -> dict:
        vec = self.embedder.encode_one(question)
        return self.collection.query(
            query_embeddings=[vec.tolist()],
            n_results=k,
            include=["documents", "metadatas", "distances"],
        )

    def ranked_doc_ids(self, question: str, k: int) -> list[str]:
        res = self._query(question, k)
        return list(dict.fromkeys(m["doc_id"] for m in res["metadatas"][0]))

    def ask(self, question: str) -> Answer:
        started = time.perf_counter()
        res = self._query(question, TOP_K)
        retrieved = time.perf_counter()
        docs, metas = res["documents"][0], res["metadatas"][0]
        dists = res["distances"][0]
        sources = "\n\n".join(f"[{i}] {d}" for i, d in enumerate(docs, start=1))
        prompt = self.prompt.safe_substitute(sources=sources, question=question)
        gen = self.generator.chat([{"role": "user", "content": prompt}], max_tokens=256)
        generated = time.perf_counter()
        text, cited = normalise_markers(gen.text, len(docs))
        answerable = bool(text) and not is_abstention(text)
        citations = []
        if answerable:
            for n in cited:
                m = metas[n - 1]
                src = self.texts[m["doc_id"]]
                citations.append(
                    Citation(
                        n=n,
                        doc_id=m["doc_id"],
                        source_file=m["source_file"],
                        title=m["doc_id"],
                        outlet=None,
                        chunk_id=f"{m['doc_id']}:{m['start']}",
                        start=m["start"],
                        end=m["end"],
                        quote=src[m["start"] : m["end"]],
                        score=1 - dists[n - 1],
                    )
                )
        return Answer(
            question=question,
            answer=text,
            answerable=answerable,
            citations=citations,
            timings=Timings(
                retrieve_ms=(retrieved - started) * 1000,
                generate_ms=(generated - retrieved) * 1000,
                total_ms=(time.perf_counter() - started) * 1000,
            ),
            model=self.model_name,
        )


class NewsdeskSystem:
    """The production engine, exactly as the API calls it."""

    name = "newsdesk"

    def __init__(self, engine) -> None:  # rag.engine.Engine
        self.engine = engine

    def ask(self, question: str) -> Answer:
        return self.engine.ask(question)

    def ranked_doc_ids(self, question: str, k: int) -> list[str]:
        return self.engine.retrieve(question).ranked_doc_ids()[:k]
