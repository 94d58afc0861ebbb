"""Shared fixtures: real parts only (Chroma on disk, the MiniLM embedder, the default GGUF)."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from api.server import serve_in_thread as live_server  # noqa: F401 - used by tests
from rag.config import PROJECT_ROOT, Settings
from rag.engine import Engine

SEEDS = PROJECT_ROOT / "seeds"

# Tests share engines and servers and ask them the same questions to watch generation (timing
# it, cancelling it): the answer cache is off for them, and on in tests/test_answer_cache.py.
os.environ.setdefault("NEWSDESK_ANSWER_CACHE", "0")
# Tests make their own stores; a database configured for real use (environment or .env) must
# never receive their documents. PostgreSQL tests pass their own database's URL explicitly.
os.environ["NEWSDESK_DATABASE_URL"] = ""


def engine_over(
    engine: Engine, settings: Settings | None = None, generator: object | None = None
) -> Engine:
    """Another engine over `engine`'s store and embedder, without ingesting again: other
    settings, a stand-in for the model, or only an answer cache of its own."""
    other = Engine(settings or engine.settings)
    other.__dict__.update(store=engine.store, embedder=engine.embedder)
    if generator is not None:
        other.__dict__["_generator"] = generator
    return other


@pytest.fixture(scope="session")
def load_script() -> Callable[[str], ModuleType]:
    """A module of `scripts/`, for the tests of the tools there: they run as files, not as an
    installed package, so they are loaded from their path."""

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "scripts" / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def embedder():
    from rag.index.embedding import Embedder

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


def sse_events(lines) -> list[tuple[str, dict]]:
    """(event name, data) pairs from server-sent-event lines."""
    events, name, data = [], None, []
    for line in lines:
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            events.append((name, json.loads("\n".join(data))))
            name, data = None, []
    return events


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL server per test session (per worker), in a temporary directory."""
    from pg_server import postgres_server, require_postgres

    bin_dir = require_postgres()
    with postgres_server(bin_dir) as server:
        yield server


@pytest.fixture
def database_url(pg_server) -> str:
    """A new empty database on the session's server."""
    return pg_server.create_database()
