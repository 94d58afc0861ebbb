"""The record in PostgreSQL (`NEWSDESK_DATABASE_URL`): the same tables as SQLite's, shared by
processes on any host.

SQLite's record needs file locks in the data dir, so every process using it must share one
local volume. Here the database coordinates them instead:

* A swap (old rows out, new rows in, the pending-vector log updated) is one transaction.
* A query wrapped in `Store.reading()` runs in one transaction that holds a shared advisory
  lock; a swap takes the same lock exclusively inside its own transaction. So no swap commits
  while a query is in flight anywhere, and the query sees each document whole (its statements
  run at READ COMMITTED, so it starts from the last commit). Readers never block each other.
* One writer at a time, as with SQLite: an ingest, a delete and the startup repair hold an
  exclusive advisory lock in a transaction of their own. The repair deletes every vector the
  log lists, so it must not run while another process has written vectors it has not swapped
  in yet. A process that dies ends its transactions, which releases its locks.

The lexical index is PostgreSQL's full-text search: a generated `tsvector` per unit row (the
`english` configuration: stemming and stop words) under a GIN index, ranked by `ts_rank_cd`.
Being a column of the unit row, it changes in the same transaction as the row.

The schema is created and changed only by numbered migrations (`MIGRATIONS`), applied at
start-up in one transaction under an advisory lock, so replicas starting together apply each
exactly once; `schema_version` records how far a database is.
"""

from __future__ import annotations

import contextlib
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import urlsplit

import psycopg
from psycopg import conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from rag.errors import NewsdeskError, StoreUnavailable
from rag.index.documents import (
    KINDS,
    DocumentRecord,
    Hit,
    Unit,
    corpus_version,
    document_row,
    unit_kind,
    vector_id,
)
from rag.index.stale_log import by_kind
from rag.ingest.loading import Article

_UNIT_TABLE = """
CREATE TABLE {kind} (
    unit_id TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    parent_id TEXT,
    version TEXT,
    tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
);
CREATE INDEX {kind}_doc ON {kind} (doc_id, idx);
CREATE INDEX {kind}_tsv ON {kind} USING GIN (tsv);
"""

# Migration n is MIGRATIONS[n - 1]. Append only: a database records the last one applied, so
# an edited migration would never reach a database that already has it.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE documents (
        doc_id TEXT PRIMARY KEY,
        source_file TEXT NOT NULL,
        source_path TEXT,
        content_hash TEXT NOT NULL,
        title TEXT NOT NULL,
        outlet TEXT,
        text TEXT NOT NULL,
        n_chunks INTEGER NOT NULL,
        ingested_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE stale_vectors (
        kind TEXT NOT NULL,
        vector_id TEXT NOT NULL,
        PRIMARY KEY (kind, vector_id)
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """
    + "".join(_UNIT_TABLE.format(kind=k) for k in KINDS),
)

# Advisory lock keys. They are per database, so two stores in one database (in two schemas)
# only wait for each other more than they need to.
_MIGRATE_KEY = 0x6E6577_01
_WRITER_KEY = 0x6E6577_02
_SWAP_KEY = 0x6E6577_03

_DOC_COLUMNS = (
    "doc_id, source_file, source_path, content_hash, title, outlet, n_chunks, ingested_at"
)
_UNIT_COLUMNS = 'unit_id, doc_id, idx, start, "end", text, parent_id'
_POOL_SIZE = 16  # connections per process: each query in flight holds one
_CONNECT_TIMEOUT = 10  # seconds, unless the URL says otherwise
_POOL_TIMEOUT = 30.0  # seconds a query waits for a free connection


def shown_url(url: str) -> str:
    """The URL without its password, for messages and `newsdesk info`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def check_url(url: str) -> dict[str, object]:
    """The connection parameters of `url`, or a `NewsdeskError` saying what is wrong with it."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise NewsdeskError(
            f"NEWSDESK_DATABASE_URL must start with postgresql://, not {shown_url(url)!r}"
        )
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        shown = shown_url(url)
        raise NewsdeskError(f"NEWSDESK_DATABASE_URL {shown!r} is not valid: {exc}") from exc
    params.setdefault("connect_timeout", _CONNECT_TIMEOUT)
    return params


def _unreachable(url: str, exc: Exception) -> StoreUnavailable:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StoreUnavailable(f"the database at {shown_url(url)} is unavailable: {reason}")


def connect(url: str) -> psycopg.Connection:
    """One connection outside the pool, failing with the database's own reason."""
    params = check_url(url)
    try:
        return psycopg.connect(conninfo.make_conninfo(**params))  # type: ignore[arg-type]
    except psycopg.Error as exc:
        raise _unreachable(url, exc) from exc


def migrate(conn: psycopg.Connection) -> int:
    """Apply the migrations `conn`'s database lacks, all in one transaction; returns its
    schema version. Replicas starting together wait for each other here."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        current = int(row[0]) if row else 0
        if current > len(MIGRATIONS):
            raise NewsdeskError(
                f"the database's schema is version {current}, newer than this newsdesk knows "
                f"({len(MIGRATIONS)}): upgrade newsdesk"
            )
        for number, sql in enumerate(MIGRATIONS[current:], start=current + 1):
            conn.execute(sql)
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('store_id', %s) ON CONFLICT (key) DO NOTHING",
            (uuid.uuid4().hex[:16],),
        )
    return len(MIGRATIONS)


def counts(url: str) -> tuple[int, int, int] | None:
    """Documents, chunks and sentences in the database; None before its schema exists."""
    with contextlib.closing(connect(url)) as conn:
        try:
            row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
            if not (row and row[0]):
                return None
            got = [
                int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
                for table in ("documents", "chunks", "sentences")
            ]
        except psycopg.errors.UndefinedTable:
            return None
        except psycopg.Error as exc:
            raise _unreachable(url, exc) from exc
    return got[0], got[1], got[2]


class Database:
    """A pool of connections, and the one transaction (if any) this thread is inside.

    Statements outside `transaction` each borrow a pooled connection and commit at once;
    inside it, every statement of the thread runs in that transaction, so the store's code
    reads the same whichever backend it runs on.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        params = check_url(url)
        with contextlib.closing(connect(url)) as conn:
            try:
                migrate(conn)
            except psycopg.OperationalError as exc:
                raise _unreachable(url, exc) from exc
            except psycopg.Error as exc:  # no right to create tables, a foreign table, ...
                reason = str(exc).strip().splitlines()[0]
                raise NewsdeskError(
                    f"cannot set up the schema in the database at {shown_url(url)}: {reason}"
                ) from exc
        self._pool = ConnectionPool(
            conninfo.make_conninfo(**params),  # type: ignore[arg-type]
            min_size=1,
            max_size=_POOL_SIZE,
            timeout=_POOL_TIMEOUT,
            open=False,
            check=ConnectionPool.check_connection,  # a restarted server costs one reconnect
            name="newsdesk",
        )
        try:
            self._pool.open(wait=True, timeout=float(params["connect_timeout"]))  # type: ignore[arg-type]
        except PoolTimeout as exc:
            raise _unreachable(url, exc) from exc
        self._local = threading.local()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """This thread's transaction's connection, or a pooled one committed at the end."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise _unreachable(self.url, exc) from exc

    def in_transaction(self) -> bool:
        return getattr(self._local, "conn", None) is not None

    @contextlib.contextmanager
    def transaction(self, shared: bool) -> Iterator[None]:
        """One transaction for every statement this thread runs in the block, holding the swap
        lock shared (a query) or exclusive (a swap) until it ends."""
        lock = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        with self.connection() as conn:
            conn.execute(f"SELECT {lock}(%s)", (_SWAP_KEY,))
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    @contextlib.contextmanager
    def holding(self, key: int = _WRITER_KEY) -> Iterator[None]:
        """Hold an exclusive advisory lock on a connection of its own for the block; the
        thread's statements do not run in that transaction."""
        try:
            with self._pool.connection() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
                yield
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise _unreachable(self.url, exc) from exc

    def ping(self) -> None:
        with self.connection() as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        self._pool.close()


class PgDocuments:
    """The document and unit tables, with the methods of SQLite's `Documents`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_meta(self, key: str) -> str | None:
        with self._db.connection() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )

    def get_documents(self, doc_ids: Iterable[str]) -> dict[str, DocumentRecord]:
        ids = sorted(set(doc_ids))
        if not ids:
            return {}
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_DOC_COLUMNS} FROM documents WHERE doc_id = ANY(%s)", (ids,)
            ).fetchall()
        return {r[0]: DocumentRecord(*r) for r in rows}

    def list_documents(self) -> list[DocumentRecord]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f'SELECT {_DOC_COLUMNS} FROM documents ORDER BY doc_id COLLATE "C"'
            ).fetchall()
        return [DocumentRecord(*r) for r in rows]

    def version(self) -> str:
        """Computed as SQLite's `Documents.version`, so the two backends agree on one corpus."""
        with self._db.connection() as conn:
            rows = conn.execute(
                'SELECT doc_id, content_hash FROM documents ORDER BY doc_id COLLATE "C"'
            ).fetchall()
        return corpus_version(rows)

    def document_text(self, doc_id: str) -> str:
        with self._db.connection() as conn:
            row = conn.execute("SELECT text FROM documents WHERE doc_id = %s", (doc_id,)).fetchone()
        if row is None:
            raise NewsdeskError(f"unknown document {doc_id!r}")
        return str(row[0])

    def count(self, kind: str = "chunks") -> int:
        with self._db.connection() as conn:
            row = conn.execute(f"SELECT count(*) FROM {unit_kind(kind)}").fetchone()
        return int(row[0]) if row else 0

    def unit_rows(self, kind: str, unit_ids: Iterable[str]) -> list[tuple[Unit, str]]:
        """Units by id with their live vector ids."""
        kind = unit_kind(kind)
        ids = list(dict.fromkeys(unit_ids))
        if not ids:
            return []
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_UNIT_COLUMNS}, version FROM {kind} WHERE unit_id = ANY(%s)", (ids,)
            ).fetchall()
        return [(Unit(*r[:7]), vector_id(r[0], r[7])) for r in rows]

    def document_units(self, kind: str, doc_id: str) -> list[Unit]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_UNIT_COLUMNS} FROM {unit_kind(kind)} WHERE doc_id = %s ORDER BY idx",
                (doc_id,),
            ).fetchall()
        return [Unit(*r) for r in rows]

    def vector_ids(self, kind: str, doc_id: str) -> list[str]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT unit_id, version FROM {unit_kind(kind)} WHERE doc_id = %s", (doc_id,)
            ).fetchall()
        return [vector_id(u, v) for u, v in rows]

    def replace_units(self, kind: str, doc_id: str, items: Sequence[Unit], version: str) -> None:
        kind = unit_kind(kind)
        with self._db.connection() as conn:
            conn.execute(f"DELETE FROM {kind} WHERE doc_id = %s", (doc_id,))
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {kind} ({_UNIT_COLUMNS}, version)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    [
                        (u.unit_id, doc_id, u.index, u.start, u.end, u.text, u.parent_id, version)
                        for u in items
                    ],
                )

    def delete_units(self, kind: str, doc_id: str) -> None:
        with self._db.connection() as conn:
            conn.execute(f"DELETE FROM {unit_kind(kind)} WHERE doc_id = %s", (doc_id,))

    def put_document(
        self,
        article: Article,
        n_chunks: int,
        content_hash: str,
        source_path: str | None,
    ) -> None:
        columns = f"{_DOC_COLUMNS}, text"
        updates = ", ".join(f"{c.strip()} = EXCLUDED.{c.strip()}" for c in columns.split(",")[1:])
        with self._db.connection() as conn:
            conn.execute(
                f"INSERT INTO documents ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                f" ON CONFLICT (doc_id) DO UPDATE SET {updates}",
                document_row(article, n_chunks, content_hash, source_path),
            )

    def delete_document(self, doc_id: str) -> bool:
        with self._db.connection() as conn:
            cur = conn.execute("DELETE FROM documents WHERE doc_id = %s", (doc_id,))
            return cur.rowcount > 0

    def close(self) -> None:
        self._db.close()


class PgFullText:
    """Lexical search over unit text with PostgreSQL's full-text search."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def search(
        self, kind: str, query: str, k: int, doc_ids: Sequence[str] | None = None
    ) -> list[Hit]:
        """Units matching any of the query's words, best `ts_rank_cd` first (positive scores,
        higher is better, as with SQLite's BM25)."""
        kind = unit_kind(kind)
        # Letters and digits only: nothing reaches to_tsquery that its syntax could read.
        terms = [t for t in re.findall(r"[^\W_]+", query.lower()) if len(t) > 1]
        if not terms or k <= 0:
            return []
        sql = (
            f"SELECT {_UNIT_COLUMNS}, ts_rank_cd(tsv, q) AS s"
            f" FROM {kind}, to_tsquery('english', %s) AS q WHERE tsv @@ q"
        )
        params: list[object] = [" | ".join(dict.fromkeys(terms))]
        if doc_ids:
            sql += " AND doc_id = ANY(%s)"
            params.append(list(doc_ids))
        sql += " ORDER BY s DESC, unit_id LIMIT %s"
        params.append(k)
        with self._db.connection() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [Hit(Unit(*r[:7]), float(r[7])) for r in rows]


class PgStaleLog:
    """`stale_vectors`, with the methods of SQLite's `StaleLog` (see rag/index/stale_log.py)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def mark(self, ids: dict[str, Sequence[str]]) -> None:
        with self._db.connection() as conn:
            for kind, vids in ids.items():
                self._insert(conn, kind, vids)

    def forget(self, ids: dict[str, Sequence[str]]) -> None:
        with self._db.connection() as conn:
            for kind, vids in ids.items():
                self._delete(conn, kind, vids)

    def still_listed(self, ids: dict[str, Sequence[str]]) -> dict[str, list[str]]:
        wanted = sorted({v for vids in ids.values() for v in vids})
        with self._db.connection() as conn:
            listed = set(
                conn.execute(
                    "SELECT kind, vector_id FROM stale_vectors WHERE vector_id = ANY(%s)",
                    (wanted,),
                ).fetchall()
            )
        return {kind: [v for v in vids if (kind, v) in listed] for kind, vids in ids.items()}

    def insert(self, kind: str, vids: Sequence[str]) -> None:
        with self._db.connection() as conn:
            self._insert(conn, kind, vids)

    def delete(self, kind: str, vids: Sequence[str]) -> None:
        with self._db.connection() as conn:
            self._delete(conn, kind, vids)

    def pending(self) -> dict[str, list[str]]:
        with self._db.connection() as conn:
            return by_kind(conn.execute("SELECT kind, vector_id FROM stale_vectors").fetchall())

    def clear(self) -> None:
        with self._db.connection() as conn:
            conn.execute("DELETE FROM stale_vectors")

    def count(self, kind: str = "chunks") -> int:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT count(*) FROM stale_vectors WHERE kind = %s", (unit_kind(kind),)
            ).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _insert(conn: psycopg.Connection, kind: str, vids: Sequence[str]) -> None:
        if vids:
            conn.execute(
                "INSERT INTO stale_vectors (kind, vector_id)"
                " SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING",
                (kind, list(vids)),
            )

    @staticmethod
    def _delete(conn: psycopg.Connection, kind: str, vids: Sequence[str]) -> None:
        if vids:
            conn.execute(
                "DELETE FROM stale_vectors WHERE kind = %s AND vector_id = ANY(%s)",
                (kind, list(vids)),
            )


def store_id(db: Database) -> str:
    with db.connection() as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
    if row is None:  # pragma: no cover - migrate() inserts it
        raise NewsdeskError("the database has no store id: its schema is incomplete")
    return str(row[0])
