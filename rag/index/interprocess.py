"""Locks that hold across processes sharing one data dir (`flock` on a file in it).

In-process locks stop two threads; these stop two processes: API replicas over one data dir,
or `newsdesk ingest` run while the server is up. Where `flock` does not exist (Windows) they
are no-ops and one process per data dir is the rule. With the record in PostgreSQL they are not
used: the database's transactions and advisory locks hold across processes instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def file_lock(path: Path, shared: bool = False) -> Iterator[None]:
    """Hold `path` shared (many holders) or exclusive (one) until the block ends.

    Each call opens its own descriptor, so two threads of one process holding it shared do not
    share one lock, and closing the descriptor releases it even if the holder crashes."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
