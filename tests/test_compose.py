"""deploy/compose.yaml stays in step with the code it configures: no Docker runs here, so these
checks are what keeps a renamed setting or model file from breaking it silently."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import yaml

from rag.config import Settings
from rag.llm.model_files import PRESETS

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_replica_settings_are_real_settings():
    env = _compose()["services"]["newsdesk"]["environment"]
    fields = Settings.model_fields
    unknown = [k for k in env if k.removeprefix("NEWSDESK_").lower() not in fields]
    assert unknown == []
    for needed in ("NEWSDESK_DATABASE_URL", "NEWSDESK_CHROMA_URL", "NEWSDESK_LLM_URL"):
        assert needed in env


def test_model_server_serves_the_default_gguf_from_the_image_cache():
    command = _compose()["services"]["llm"]["command"]
    model = Path(command[command.index("--model") + 1])
    cache = re.search(r"NEWSDESK_CACHE_DIR=(\S+)", (DEPLOY / "Dockerfile").read_text())
    assert cache and model.parent == Path(cache.group(1))
    assert model.name == PRESETS[Settings().model].filename
    assert command[command.index("--interrupt_requests") + 1] == "False"
    assert command[command.index("--cache") + 1] == "True"


def test_chroma_server_matches_the_client():
    image = _compose()["services"]["chroma"]["image"]
    assert image == f"chromadb/chroma:{version('chromadb')}"


def test_proxy_passes_the_largest_upload():
    conf = (DEPLOY / "nginx.conf").read_text()
    limit = re.search(r"client_max_body_size (\d+)m;", conf)
    assert limit and int(limit.group(1)) * 1_000_000 > Settings().max_upload_bytes
    assert "proxy_buffering off;" in conf
