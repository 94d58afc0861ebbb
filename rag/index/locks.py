"""The store's locks: a read/write lock per data dir, and one writer per data dir.

With the record in PostgreSQL only the in-process halves are used here: the database's advisory
locks hold across processes instead (rag/index/postgres.py).

A query must see one version of each document from its first read to its last, and a
document's swap must wait for the queries in flight; an ingest, a delete and the startup repair
must never overlap, in one process or across processes (replicas, a CLI). These locks are the
only place that knows how both hold across threads and processes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from rag.index.interprocess import file_lock


class ReadWriteLock:
    """Many readers at once or one writer; a waiting writer holds off new readers.

    A thread that already reads may read again without waiting (so a nested helper cannot
    deadlock behind a waiting writer); a thread that reads must not ask to write.
    """

    def __init__(self, lock_file: Path | None = None) -> None:
        self._file = lock_file  # when set, the same exclusion holds across processes
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0
        self._local = threading.local()
        self.last_read = 0.0  # time.monotonic() when a reader last came in

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self.last_read = time.monotonic()
            with self._cond:
                while self._writing or self._writers_waiting:
                    self._cond.wait()
                self._readers += 1
        self._local.depth = depth + 1
        try:
            with self._across_processes(shared=True) if depth == 0 else contextlib.nullcontext():
                yield
        finally:
            self._local.depth = depth
            if depth == 0:
                with self._cond:
                    self._readers -= 1
                    if self._readers == 0:
                        self._cond.notify_all()

    def readers_idle(self, timeout: float) -> None:
        """Wait until no thread of this process reads, or `timeout` seconds pass."""
        with self._cond:
            self._cond.wait_for(lambda: self._readers == 0, timeout)

    def _across_processes(self, shared: bool) -> contextlib.AbstractContextManager[None]:
        return file_lock(self._file, shared) if self._file else contextlib.nullcontext()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        if getattr(self._local, "depth", 0):
            raise RuntimeError("cannot write to the store from inside Store.reading()")
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            with self._across_processes(shared=False):
                yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


# Handles on the same data dir in one process share their locks, so a second handle's startup
# repair never deletes the vectors of an ingest that the first one has in flight.
_DIR_LOCKS: dict[str, tuple[threading.Lock, ReadWriteLock]] = {}
_DIR_LOCKS_GUARD = threading.Lock()


def dir_locks(
    data_dir: Path, across_processes: bool = True
) -> tuple[threading.Lock, ReadWriteLock]:
    """The writer lock and the read/write lock every handle on `data_dir` in this process
    shares: a lock per handle would let two handles on one store overlap.

    `across_processes=False` for a record that coordinates processes itself (PostgreSQL):
    then the read/write lock holds between threads only and leaves no file in the data dir."""
    key = f"{data_dir.resolve()}|{across_processes}"
    with _DIR_LOCKS_GUARD:
        if key not in _DIR_LOCKS:
            lock_file = data_dir / "swap.lock" if across_processes else None
            _DIR_LOCKS[key] = (threading.Lock(), ReadWriteLock(lock_file))
        return _DIR_LOCKS[key]


@contextlib.contextmanager
def writer_lock(thread_lock: threading.Lock, data_dir: Path) -> Iterator[None]:
    """One writer per data dir: threads of this process, then other processes (replicas, CLI).

    Held for a whole ingest or delete and by the startup repair, so a second process opening
    the store never deletes the not-yet-live vectors of a write in flight elsewhere."""
    with thread_lock, file_lock(data_dir / "write.lock"):
        yield
