"""Which database holds the record, chosen once from the settings: SQLite in the data dir (the
default, nothing to set up) or PostgreSQL (`NEWSDESK_DATABASE_URL`).

The store's rules for a swap are the same on both (rag/index/store.py); what differs is where
the rows live and how processes exclude each other. SQLite needs `flock` on files in the data
dir, so every process must share one local volume. PostgreSQL has transactions and advisory
locks, so processes on any host can share it and the data dir keeps no record at all.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.index.documents import DOCS_SCHEMA, KINDS, META_SCHEMA, UNIT_SCHEMA, Documents
from rag.index.fulltext import FTS_SCHEMA, FullTextIndex
from rag.index.locks import ReadWriteLock, dir_locks, writer_lock
from rag.index.stale_log import STALE_SCHEMA, StaleLog

if TYPE_CHECKING:  # psycopg is imported only when a database URL is set
    from rag.index.postgres import PgDocuments, PgFullText, PgStaleLog

Hold = Callable[[], contextlib.AbstractContextManager[None]]


@dataclass(frozen=True)
class Record:
    """The record's three parts and the ways to hold it; `Store` uses nothing else of it.

    `writing` makes this the one writer (held by a whole ingest or delete and by the startup
    repair); `reading` makes every read inside it see one version of each document; `swapping`
    is the one transaction in which a document's rows change. `lock` and `rw` are the
    in-process locks every handle on the same data dir shares.
    """

    documents: Documents | PgDocuments
    fulltext: FullTextIndex | PgFullText
    stale: StaleLog | PgStaleLog
    store_id: str
    lock: threading.RLock
    rw: ReadWriteLock
    writing: Hold
    reading: Hold
    swapping: Hold
    ping: Callable[[], None]
    close: Callable[[], None]


def open_record(data_dir: Path, database_url: str | None = None) -> Record:
    """The record of the store at `data_dir`: in PostgreSQL when a URL is given, else SQLite."""
    if database_url:
        return open_postgres(data_dir, database_url)
    return open_sqlite(data_dir)


def open_sqlite(data_dir: Path) -> Record:
    """`documents.sqlite3` in the data dir, created or migrated in place; processes sharing it
    coordinate with file locks beside it."""
    lock = threading.RLock()
    thread_writer, rw = dir_locks(data_dir)
    documents = Documents(data_dir / "documents.sqlite3", lock)
    db = documents.db

    def writing() -> contextlib.AbstractContextManager[None]:
        return writer_lock(thread_writer, data_dir)

    @contextlib.contextmanager
    def swapping() -> Iterator[None]:
        with rw.write(), lock, db:
            yield

    with writing():
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(
            DOCS_SCHEMA
            + "".join(UNIT_SCHEMA.format(kind=k) + FTS_SCHEMA.format(kind=k) for k in KINDS)
            + STALE_SCHEMA
            + META_SCHEMA
        )
        documents.migrate()
        db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)",
            (uuid.uuid4().hex[:16],),
        )
        db.commit()
    store_id = db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0]
    return Record(
        documents=documents,
        fulltext=FullTextIndex(db, lock),
        stale=StaleLog(db, lock),
        store_id=store_id,
        lock=lock,
        rw=rw,
        writing=writing,
        reading=rw.read,
        swapping=swapping,
        ping=lambda: None,
        close=documents.close,
    )


def open_postgres(data_dir: Path, url: str) -> Record:
    """The database at `url`, its schema migrated first; processes on any host coordinate
    through its transactions and advisory locks (see rag/index/postgres.py)."""
    from rag.index.postgres import Database, PgDocuments, PgFullText, PgStaleLog, store_id

    db = Database(url)
    lock = threading.RLock()
    thread_writer, rw = dir_locks(data_dir, across_processes=False)

    @contextlib.contextmanager
    def writing() -> Iterator[None]:
        with thread_writer, db.holding():
            yield

    @contextlib.contextmanager
    def reading() -> Iterator[None]:
        with rw.read():
            if db.in_transaction():  # a nested read joins the outer one
                yield
                return
            with db.transaction(shared=True):
                yield

    @contextlib.contextmanager
    def swapping() -> Iterator[None]:
        # The database lock before the in-process one: waiting for another host's readers
        # must not hold up this process's threads.
        with rw.write(), db.transaction(shared=False), lock:
            yield

    return Record(
        documents=PgDocuments(db),
        fulltext=PgFullText(db),
        stale=PgStaleLog(db),
        store_id=store_id(db),
        lock=lock,
        rw=rw,
        writing=writing,
        reading=reading,
        swapping=swapping,
        ping=db.ping,
        close=db.close,
    )
