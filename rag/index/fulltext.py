"""Full-text search over unit text: SQLite FTS5 with BM25 ranking.

Chroma's local mode has no sparse index, so the lexical index lives in SQLite beside the rows it
indexes. Triggers keep it in step with the unit tables, so it changes in the same transaction
as they do and a reader never sees one without the other.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Sequence

from rag.index.documents import UNIT_COLUMNS, Hit, Unit, unit_kind

# Created after each unit table (`documents.UNIT_SCHEMA`), for the same `kind`.
FTS_SCHEMA = """CREATE VIRTUAL TABLE IF NOT EXISTS {kind}_fts USING fts5(
    text, content='{kind}', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS {kind}_ai AFTER INSERT ON {kind} BEGIN
    INSERT INTO {kind}_fts(rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER IF NOT EXISTS {kind}_ad AFTER DELETE ON {kind} BEGIN
    INSERT INTO {kind}_fts({kind}_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
"""


class FullTextIndex:
    """BM25 queries on the store's connection, under the store's lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def search(
        self, kind: str, query: str, k: int, doc_ids: Sequence[str] | None = None
    ) -> list[Hit]:
        """BM25 over unit text (SQLite FTS5); scores are positive, higher is better."""
        kind = unit_kind(kind)
        terms = [t for t in re.findall(r"\w+", query.lower()) if len(t) > 1]
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in dict.fromkeys(terms))
        cols = ", ".join(f"u.{c.strip()}" for c in UNIT_COLUMNS.split(","))
        sql = (
            f"SELECT {cols}, bm25({kind}_fts) AS s FROM {kind}_fts"
            f" JOIN {kind} u ON u.rowid = {kind}_fts.rowid WHERE {kind}_fts MATCH ?"
        )
        params: list[object] = [match]
        if doc_ids:
            sql += f" AND u.doc_id IN ({','.join('?' * len(doc_ids))})"
            params.extend(doc_ids)
        sql += " ORDER BY s LIMIT ?"
        params.append(k)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [Hit(Unit(*r[:7]), -float(r[7])) for r in rows]
