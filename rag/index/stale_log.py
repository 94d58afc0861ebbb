"""The write-ahead log of vectors that are not live: `stale_vectors`.

Chroma and SQLite cannot commit together, so every vector that exists in Chroma without a row
naming it is listed here first: new ones before they are written, old ones from the moment
their rows go until they are deleted from Chroma. Opening the store deletes whatever is listed,
which repairs a crash at any point; and a search over-fetches by the listed count, so hits on
vectors no row names cost it no live results.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

from rag.index.documents import KINDS, unit_kind

# Vectors in Chroma that no unit row names: not yet committed, or retired and not yet deleted.
STALE_SCHEMA = """
CREATE TABLE IF NOT EXISTS stale_vectors (
    kind TEXT NOT NULL,
    vector_id TEXT NOT NULL,
    PRIMARY KEY (kind, vector_id)
);
"""


class StaleLog:
    """`stale_vectors` on the store's connection.

    `mark`, `forget` and `still_listed` take the store's lock and commit on their own; `insert`
    and `delete` run inside a transaction the store already holds (a swap's), and `pending`
    and `clear` under its lock.
    """

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def mark(self, ids: dict[str, Sequence[str]]) -> None:
        """List vectors before they are written, so a crash cannot leave one unlisted."""
        with self._lock, self._db:
            for kind, vids in ids.items():
                self.insert(kind, vids)

    def forget(self, ids: dict[str, Sequence[str]]) -> None:
        """Unlist vectors once Chroma no longer holds them."""
        with self._lock, self._db:
            for kind, vids in ids.items():
                self.delete(kind, vids)

    def still_listed(self, ids: dict[str, Sequence[str]]) -> dict[str, list[str]]:
        """Those of `ids` that are listed (a swap that committed has unlisted its new ids)."""
        with self._lock:
            listed = {
                (kind, vid)
                for kind, vid in self._db.execute("SELECT kind, vector_id FROM stale_vectors")
            }
        return {kind: [v for v in vids if (kind, v) in listed] for kind, vids in ids.items()}

    def insert(self, kind: str, vids: Sequence[str]) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO stale_vectors (kind, vector_id) VALUES (?, ?)",
            [(kind, v) for v in vids],
        )

    def delete(self, kind: str, vids: Sequence[str]) -> None:
        self._db.executemany(
            "DELETE FROM stale_vectors WHERE kind = ? AND vector_id = ?",
            [(kind, v) for v in vids],
        )

    def pending(self) -> dict[str, list[str]]:
        """Every listed vector by kind, or nothing when the log is empty (the usual open)."""
        return by_kind(self._db.execute("SELECT kind, vector_id FROM stale_vectors").fetchall())

    def clear(self) -> None:
        with self._db:
            self._db.execute("DELETE FROM stale_vectors")

    def count(self, kind: str = "chunks") -> int:
        """Vectors listed as not live: an upper bound on Chroma's vectors that no row names."""
        with self._lock:
            return int(
                self._db.execute(
                    "SELECT COUNT(*) FROM stale_vectors WHERE kind = ?", (unit_kind(kind),)
                ).fetchone()[0]
            )


def by_kind(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    """(kind, vector_id) rows of the log as vector ids by kind; nothing when the log is empty
    (the usual open). Both records read their log through it."""
    if not rows:
        return {}
    stale: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for kind, vid in rows:
        if kind in stale:
            stale[kind].append(vid)
    return stale
