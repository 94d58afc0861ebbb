"""Bring files into the store, idempotently.

A document is re-processed only when its text or the pipeline that indexes it (chunking settings,
embedder) changed, so re-running ingest on an unchanged folder costs a hash per file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rag.config import Settings
from rag.errors import NewsdeskError
from rag.index.documents import DocumentRecord, Unit
from rag.index.embedding import Embedder
from rag.index.store import Store
from rag.ingest.chunking import article_sentences, chunk_article
from rag.ingest.loading import Article, find_article_files, load_article

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


class Ingested(NamedTuple):
    status: str  # "added" | "updated" | "unchanged"
    chunks: int  # chunks written
    replaced_hash: str | None = None  # SHA-256 of the replaced version's text, when updated


def ingest_article(
    article: Article,
    store: Store,
    embedder: Embedder,
    settings: Settings,
    source_path: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Ingested:
    """Index one article, under the id `settle_doc_id` gives it.

    The embedding, the slow part, runs before the store is touched and holds no store lock;
    `progress(done, total)` follows it."""
    digest = document_hash(article, pipeline_fingerprint(settings, embedder.name))
    existing = settle_doc_id(article, store, source_path)
    if existing is not None and existing.content_hash == digest:
        return Ingested("unchanged", 0)
    replaced = text_hash(store.document_text(existing.doc_id)) if existing else None
    units = article_units(article, settings)
    embeddings = embed_units(
        article, units, embedder, settings, progress=progress, pause=store.give_way
    )
    store.replace_document(article, units, embeddings, digest, source_path)
    return Ingested("added" if existing is None else "updated", len(units["chunks"]), replaced)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def settle_doc_id(
    article: Article, store: Store, source_path: str | None = None
) -> DocumentRecord | None:
    """Give the article its final id and return the document it will replace, if any.

    An id the client named replaces whatever holds it. An id derived from a file name or a
    title replaces only a document of that same name ("Café.txt" and "Cafe.txt" both slug to
    `Cafe`): otherwise the article takes the first free id, or the one its own name already
    holds, among `<slug>-<hash of the name>`, `<slug>-<hash>-2`, ... So a derived id never
    silently replaces another article, and the same name always lands on the same document."""
    existing = store.get_document(article.doc_id)
    name = article.derived_from
    if existing is None or name is None or _same_name(existing, article, source_path):
        return existing
    base = f"{article.doc_id[:100]}-{text_hash(name)[:10]}"
    synthetic = article.source_file == f"{article.doc_id}.txt" and name != article.source_file
    for n in range(1, 1000):
        candidate = base if n == 1 else f"{base}-{n}"
        existing = store.get_document(candidate)
        if existing is None or _same_name(existing, article, source_path):
            if synthetic:  # a JSON upload's file name follows its id
                article.source_file = f"{candidate}.txt"
            article.doc_id = candidate
            return existing
    raise NewsdeskError(f"no free document id for {name!r}: name the id explicitly")


def _same_name(doc: DocumentRecord, article: Article, source_path: str | None) -> bool:
    """Whether `doc` is an earlier version of `article`: the same file name, or, for pasted
    text, the same title. Two files of one name that both still exist on disk are two
    articles; a file whose old path is gone was moved (a folder ingested from a new place)."""
    if article.derived_from == article.source_file:
        old, new = doc.source_path, source_path
        moved = old is not None and new is not None and old != new and not Path(old).exists()
        return doc.source_file == article.source_file and (
            None in (old, new) or old == new or moved
        )
    return doc.title == article.derived_from


def embed_units(
    article: Article,
    units: dict[str, list[Unit]],
    embedder: Embedder,
    settings: Settings,
    progress: Callable[[int, int], None] | None = None,
    pause: Callable[[float], None] | None = None,
) -> dict[str, np.ndarray]:
    """The vectors of an article's units, one place for ingest and `newsdesk reindex` alike, so
    a rebuilt store embeds exactly the texts an ingest would have.

    Each distinct text is embedded once: an article that repeats a sentence (or a whole run of
    them) costs no more than one that says it once. The embedding runs in the background, so
    a query waiting for the embedder goes first."""
    chunk_texts = [_embedding_text(article, u.text) for u in units["chunks"]]
    sents = units["sentences"]
    window = settings.sentence_window
    # A sentence is embedded with the one(s) before it, so "Despite this, Germany..." keeps
    # the topic its predecessor set; the unit itself (and its citation span) stays one sentence.
    sentence_texts = [
        " ".join(u.text for u in sents[max(0, i - window) : i + 1]) for i in range(len(sents))
    ]
    texts = chunk_texts + sentence_texts
    distinct = list(dict.fromkeys(texts))
    position = {text: i for i, text in enumerate(distinct)}
    unique_vectors = embedder.encode_background(distinct, progress=progress, pause=pause)
    vectors = unique_vectors[[position[t] for t in texts]] if texts else unique_vectors
    _separate_repeats(texts, vectors)
    return {"chunks": vectors[: len(chunk_texts)], "sentences": vectors[len(chunk_texts) :]}


# How far a repeated text's vector is moved from the first copy's: a cosine change of about
# 2e-6, below any score that is shown or compared.
_REPEAT_NUDGE = 1e-4


def _separate_repeats(texts: list[str], vectors: np.ndarray) -> None:
    """Move the vector of each repeat of a text a hair away from the first copy's, in place.

    Chroma's HNSW graph degrades on many identical points: with the dense graph settings
    (`rag.index.vectors.HNSW_METADATA`), each insert compared itself with every earlier copy.
    About 4,300 copies of one sentence took 8.5 minutes to write, against 2-3 ms per distinct
    vector. The nudge is deterministic (a fixed seed, in text order), so an ingest and a
    reindex of the same article store the same vectors."""
    seen: set[str] = set()
    repeats = []
    for row, text in enumerate(texts):
        if text in seen:
            repeats.append(row)
        seen.add(text)
    if not repeats:
        return
    noise = np.random.default_rng(0).standard_normal((len(repeats), vectors.shape[1]))
    moved = vectors[repeats] + _REPEAT_NUDGE * noise.astype(np.float32)
    vectors[repeats] = moved / np.linalg.norm(moved, axis=1, keepdims=True)


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


def item_progress(label: str, show: bool, console: Console | None = None) -> Progress:
    """The one-line bar that ingest, an ingest through a server and reindex show per article."""
    return Progress(
        TextColumn(f"[bold]{label}[/bold] {{task.description}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        disable=not show,
        transient=True,
    )


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
    progress = item_progress("ingest", show_progress, console)
    with progress:
        task = progress.add_task("", total=len(files))
        for path in files:
            progress.update(task, description=path.name)
            article = load_article(path)
            status, n, _ = ingest_article(article, store, embedder, settings, str(path.resolve()))
            getattr(report, status).append(article.doc_id)
            report.chunks_written += n
            progress.advance(task)

    for doc_id in removed_from_folders(store, paths, files):
        store.delete_document(doc_id)
        report.deleted.append(doc_id)
    return report


def removed_from_folders(store: Store, paths: list[Path], files: list[Path]) -> list[str]:
    """Documents once ingested from a folder in `paths` whose file is gone: an ingest of the
    folder deletes them, whether it runs here or through the server that owns the data dir."""
    present = {str(p.resolve()) for p in files}
    folders = [p.resolve() for p in paths if p.is_dir()]
    gone: list[str] = []
    for doc in store.list_documents():
        if not doc.source_path or doc.source_path in present:
            continue
        source = Path(doc.source_path)
        if any(folder in source.parents for folder in folders) and not source.exists():
            gone.append(doc.doc_id)
    return gone
