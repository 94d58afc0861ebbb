"""Bring files into the store, idempotently.

A document is re-processed only when its text or the pipeline that indexes it (chunking settings,
embedder) changed, so re-running ingest on an unchanged folder costs a hash per file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rag.chunking import article_sentences, chunk_article
from rag.config import Settings
from rag.embedding import Embedder
from rag.loading import Article, find_article_files, load_article
from rag.store import Store, Unit

PIPELINE_VERSION = "units-v2"


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    chunks_written: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.deleted)} removed "
            f"({self.chunks_written} chunks written)"
        )


def pipeline_fingerprint(settings: Settings, embedder_name: str) -> str:
    return (
        f"{PIPELINE_VERSION}|{embedder_name}|{settings.chunk_min_words}|"
        f"{settings.chunk_max_words}|{settings.chunk_overlap_sentences}|{settings.sentence_window}"
    )


def document_hash(article: Article, fingerprint: str) -> str:
    return hashlib.sha256(f"{fingerprint}\n{article.text}".encode()).hexdigest()


def ingest_article(
    article: Article,
    store: Store,
    embedder: Embedder,
    settings: Settings,
    source_path: str | None = None,
) -> tuple[str, int]:
    """Index one article; returns ("added" | "updated" | "unchanged", chunks written)."""
    digest = document_hash(article, pipeline_fingerprint(settings, embedder.name))
    existing = store.get_document(article.doc_id)
    if existing is not None and existing.content_hash == digest:
        return "unchanged", 0
    units = article_units(article, settings)
    chunk_texts = [_embedding_text(article, u.text) for u in units["chunks"]]
    sents = units["sentences"]
    window = settings.sentence_window
    # A sentence is embedded with the one(s) before it, so "Despite this, Germany..." keeps
    # the topic its predecessor set; the unit itself (and its citation span) stays one sentence.
    sentence_texts = [
        " ".join(u.text for u in sents[max(0, i - window) : i + 1]) for i in range(len(sents))
    ]
    vectors = embedder.encode(chunk_texts + sentence_texts)
    embeddings = {"chunks": vectors[: len(chunk_texts)], "sentences": vectors[len(chunk_texts) :]}
    store.replace_document(article, units, embeddings, digest, source_path)
    return ("added" if existing is None else "updated"), len(units["chunks"])


def article_units(article: Article, settings: Settings) -> dict[str, list[Unit]]:
    """Chunks for context-rich search, sentences for precise passages and citations."""
    chunks = chunk_article(
        article,
        min_words=settings.chunk_min_words,
        max_words=settings.chunk_max_words,
        overlap_sentences=settings.chunk_overlap_sentences,
    )
    parent: dict[tuple[int, int], str] = {}
    for c in chunks:
        for sent in c.sentences:
            parent.setdefault((sent.start, sent.end), c.chunk_id)
    sentences = [
        Unit(
            unit_id=f"{article.doc_id}~s{i}",
            doc_id=article.doc_id,
            index=i,
            start=sent.start,
            end=sent.end,
            text=" ".join(article.text[sent.start : sent.end].split()),
            parent_id=parent.get((sent.start, sent.end)),
        )
        for i, sent in enumerate(article_sentences(article))
    ]
    return {
        "chunks": [Unit(c.chunk_id, c.doc_id, c.index, c.start, c.end, c.text) for c in chunks],
        "sentences": sentences,
    }


def _embedding_text(article: Article, chunk_text: str) -> str:
    # The headline gives short chunks their topic; MiniLM truncates at 256 word pieces anyway.
    return f"{article.title}\n{chunk_text}" if article.headline else chunk_text


def ingest_paths(
    paths: list[Path],
    store: Store,
    embedder: Embedder,
    settings: Settings,
    show_progress: bool = True,
    console: Console | None = None,
) -> IngestReport:
    files = find_article_files(paths)
    report = IngestReport()
    progress = Progress(
        TextColumn("[bold]ingest[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        disable=not show_progress,
        transient=True,
    )
    with progress:
        task = progress.add_task("", total=len(files))
        for path in files:
            progress.update(task, description=path.name)
            article = load_article(path)
            status, n = ingest_article(article, store, embedder, settings, str(path.resolve()))
            getattr(report, status).append(article.doc_id)
            report.chunks_written += n
            progress.advance(task)

    # A file that disappeared from an ingested folder takes its chunks with it.
    present = {str(p.resolve()) for p in files}
    folders = [p.resolve() for p in paths if p.is_dir()]
    for doc in store.list_documents():
        if not doc.source_path or doc.source_path in present:
            continue
        source = Path(doc.source_path)
        if any(folder in source.parents for folder in folders) and not source.exists():
            store.delete_document(doc.doc_id)
            report.deleted.append(doc.doc_id)
    return report
