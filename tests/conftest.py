"""Shared fixtures: real parts only (Chroma on disk, the MiniLM embedder, the default GGUF)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT, Settings
from rag.engine import Engine

SEEDS = PROJECT_ROOT / "seeds"


@pytest.fixture(scope="session")
def embedder():
    from rag.embedding import Embedder

    return Embedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def seeded_engine(tmp_path_factory: pytest.TempPathFactory, embedder) -> Engine:
    """One engine over the seeds with the real default model, shared by end-to-end tests."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("seeded") / "data")
    engine = Engine(settings)
    engine.__dict__["embedder"] = embedder
    engine.ingest([SEEDS])
    return engine


@contextmanager
def live_server(app) -> Iterator[str]:
    """A real uvicorn on 127.0.0.1 (a free port), serving `app` from a thread; yields its URL."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
