"""Rebuild a data dir's vectors from its document database: `newsdesk reindex`.

The document database (SQLite) is the record: each document's original text, title and outlet
are kept there, and every vector in Chroma is derived from them. So a vector store that is lost
(its folder deleted, a Chroma server that lost its data), short of vectors, or built by another
embedder is repaired one way: empty collections, then every document re-chunked and re-embedded
with the configured pipeline and swapped in as an ingest would. Every place that opens a store
(each CLI command, `/readyz`) finds these problems with `vector_store_problem` and names that fix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from rag.config import Settings
from rag.errors import NewsdeskError, StoreUnavailable
from rag.index.documents import KINDS, DocumentRecord
from rag.index.embedding import Embedder, embedder_name
from rag.index.owner import writer_or_server
from rag.index.store import Store
from rag.ingest.loading import Article, parse_article
from rag.ingest.pipeline import (
    article_units,
    document_hash,
    embed_units,
    item_progress,
    pipeline_fingerprint,
)

EMBEDDER_KEY = "embedder"  # meta key: the embedder the vectors were made with


@dataclass
class ReindexReport:
    documents: int = 0
    chunks: int = 0
    sentences: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.documents} documents re-embedded ({self.chunks} chunks, "
            f"{self.sentences} sentences) in {self.seconds:.1f} s"
        )


def reindex_command(data_dir: Path, chroma_url: str | None = None) -> str:
    """The one command that repairs the vectors of `data_dir`, as a user would type it."""
    server = f" --chroma-url {chroma_url}" if chroma_url else ""
    return f"newsdesk reindex --data-dir {data_dir.resolve()}{server}"


def _fix(store: Store) -> str:
    return (
        "rebuild the vectors from the document database with "
        f"`{reindex_command(store.data_dir, store.chroma_url)}`"
    )


def vector_store_problem(store: Store) -> str | None:
    """What is wrong with the store's vectors, with the fix, or None; cheap enough for /readyz.

    Vectors are counted before rows: a write adds its vectors before its rows and a delete drops
    rows before vectors, so a write in flight can never make a sound store look short."""
    where = store.chroma_url or str(store.data_dir / "chroma")
    if store.chroma_url is None and not (store.data_dir / "chroma" / "chroma.sqlite3").exists():
        return f"the vector store at {where} is missing: {_fix(store)}"
    for kind in KINDS:
        try:
            vectors = store.count_vectors(kind)
        except Exception as exc:  # chromadb raises several types for a broken store
            if store.chroma_url is not None:
                raise StoreUnavailable(f"the Chroma server at {where} failed: {exc}") from exc
            return f"the vector store at {where} cannot be read ({exc}): {_fix(store)}"
        rows = store.count(kind)
        if vectors < rows:
            return (
                f"the vector store at {where} holds {vectors} vectors for the {rows} {kind} "
                f"of the data dir {store.data_dir}: {_fix(store)}"
            )
    return None


def check_embedder(store: Store, settings: Settings) -> None:
    """Refuse a store whose vectors another embedder made: its queries would compare vectors
    from two models (or fail on their sizes). A store that names none adopts the configured one."""
    current = embedder_name(settings.embed_model_dir)
    recorded = store.get_meta(EMBEDDER_KEY)
    if recorded is None:
        store.set_meta(EMBEDDER_KEY, current)
    elif recorded != current:
        raise StoreUnavailable(
            f"the data dir {store.data_dir} was embedded with {recorded}, but the configured "
            f"embedder is {current}: {_fix(store)}"
        )


def stored_article(store: Store, record: DocumentRecord) -> Article:
    """A document as ingest saw it: its stored text parsed again, its stored title and outlet
    (an upload's own title or outlet wins over the parsed ones, as it did at upload)."""
    text = store.document_text(record.doc_id)
    article = parse_article(text, doc_id=record.doc_id, source_file=record.source_file)
    article.title = record.title
    article.outlet = record.outlet
    return article


def reindex(
    settings: Settings,
    show_progress: bool = True,
    console: Console | None = None,
    embedder: Embedder | None = None,
) -> ReindexReport:
    """Empty the data dir's collections and re-embed every document into them.

    Each document goes through `Store.replace_document`, so it is swapped in as an ingest would
    be (same crash safety); a document whose pipeline fingerprint is unchanged keeps its version
    and its vector ids. Fails with the fix named if the counts still do not match at the end.
    Refused while a `newsdesk serve` owns the data dir: its Chroma client would keep the old
    collections (see rag/index/owner.py)."""
    with writer_or_server(settings.data_dir, settings.chroma_url) as server:
        if server is not None:
            raise NewsdeskError(
                f"a newsdesk serve (pid {server.pid}, {server.url}) owns the data dir "
                f"{settings.data_dir}: stop it, run reindex, then start it again"
            )
        return _reindex(settings, show_progress, console, embedder)


def _reindex(
    settings: Settings, show_progress: bool, console: Console | None, embedder: Embedder | None
) -> ReindexReport:
    started = time.perf_counter()
    store = Store(
        settings.data_dir,
        chroma_url=settings.chroma_url,
        check_vectors=False,
        database_url=settings.database_url,
    )
    embedder = embedder or Embedder.from_settings(settings)
    fingerprint = pipeline_fingerprint(settings, embedder.name)
    records = store.list_documents()
    report = ReindexReport()
    store.reset_vectors()
    progress = item_progress("reindex", show_progress, console)
    with progress:
        task = progress.add_task("", total=len(records))
        for record in records:
            progress.update(task, description=record.doc_id)
            article = stored_article(store, record)
            units = article_units(article, settings)
            vectors = embed_units(article, units, embedder, settings)
            digest = document_hash(article, fingerprint)
            store.replace_document(article, units, vectors, digest, record.source_path)
            report.documents += 1
            report.chunks += len(units["chunks"])
            report.sentences += len(units["sentences"])
            progress.advance(task)
    store.set_meta(EMBEDDER_KEY, embedder.name)
    problem = vector_store_problem(store)
    store.close()
    if problem:
        raise NewsdeskError(f"reindex did not complete: {problem}")
    report.seconds = time.perf_counter() - started
    return report
