"""Where the store lives, what it holds, and what to run when it holds nothing.

The store is looked up in the user's data directory by default, so `newsdesk ask` finds the
same articles from every working directory. Everything here only reads: a command that reads
must not leave an empty data dir behind, and it must say what is wrong (no store, no articles)
before torch, Chroma or the model load.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from rag.config import Settings, default_data_dir
from rag.errors import EmptyStore

DB_FILE = "documents.sqlite3"
# The default before the per-user data directory: a store here is pointed out, never used
# silently, because which store a command reads must not depend on the working directory.
OLD_DEFAULT = Path("data")


@dataclass(frozen=True)
class StoreCounts:
    documents: int
    chunks: int
    sentences: int


def store_counts(data_dir: Path, database_url: str | None = None) -> StoreCounts | None:
    """The store's counts read straight from its SQLite file, or from its PostgreSQL database
    when `database_url` is set; None when there is no store."""
    if database_url:
        from rag.index.postgres import counts

        got = counts(database_url)
        return None if got is None else StoreCounts(*got)
    db = data_dir / DB_FILE
    if not db.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            counts = [
                int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in ("documents", "chunks", "sentences")
            ]
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # not a newsdesk store (yet); the engine reports what is wrong with it
    return StoreCounts(*counts)


def data_dir_flag(settings: Settings) -> str:
    """` --data-dir DIR` when the store is not the default one, so a printed command works
    whatever the shell's environment and working directory."""
    if _same(settings.data_dir, default_data_dir()):
        return ""
    return f" --data-dir {shlex.quote(str(settings.data_dir.expanduser().resolve()))}"


def ingest_hint(settings: Settings) -> str:
    """What to run to fill this data dir: the built-in articles or the user's own."""
    flag = data_dir_flag(settings)
    seeds = shlex.quote(str(settings.seeds_dir.resolve()))
    hint = (
        f"run `newsdesk ingest PATH...{flag}` to add your articles, or "
        f"`newsdesk ingest {seeds}{flag}` for the built-in ones"
    )
    old = Path.cwd() / OLD_DEFAULT
    if not _same(settings.data_dir, old) and store_counts(old):
        hint += (
            f"; a store from an earlier version is at {old}: use it with "
            f"--data-dir {shlex.quote(str(old))} or NEWSDESK_DATA_DIR"
        )
    return hint


def require_articles(settings: Settings) -> StoreCounts:
    """The store's counts, or `EmptyStore` naming the exact command that fills it.

    Reading commands call this before building an engine: opening the store would create the
    data dir, and loading the models would cost seconds before saying there is nothing to read."""
    counts = store_counts(settings.data_dir, settings.database_url)
    if counts is None or counts.chunks == 0:
        where = "no store" if counts is None else "no articles in the store"
        raise EmptyStore(f"{where} at {store_location(settings)}: {ingest_hint(settings)}")
    return counts


def store_location(settings: Settings) -> str:
    """Where the store's record is, as messages name it (a database URL without password)."""
    if settings.database_url:
        from rag.index.postgres import shown_url

        return shown_url(settings.database_url)
    return str(settings.data_dir)


def _same(a: Path, b: Path) -> bool:
    return os.path.abspath(a.expanduser()) == os.path.abspath(b.expanduser())
