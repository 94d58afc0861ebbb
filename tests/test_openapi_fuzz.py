"""A bounded schemathesis run against the live server's OpenAPI spec: no 5xx, documented
statuses, responses that match their schemas, stateful document lifecycles, and (through
`fuzz_hooks.py`) lone surrogates and control characters planted in every kind of text input.

Decoding is scripted (`scripted.py`): with the real model each answer takes seconds on two
cores, and a run of a few minutes got through four requests. The stand-in keeps the model's
real tokenizer (every context budget is counted as in service) and answers with the first
sentence of the first passage, citing it, so citations, the support check and conflicts run
on each answer. The real model answers over HTTP in `test_http.py`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SEEDS, live_server
from scripted import ScriptedModel

from api.app import create_app
from rag.config import Settings
from rag.engine import Engine
from rag.llm.model_files import resolve_model
from rag.llm.remote_llm import vocab_counter

pytestmark = pytest.mark.slow


def test_schemathesis_finds_no_failures(tmp_path: Path, embedder):
    pytest.importorskip("schemathesis")
    # Its own store: the run uploads and deletes documents.
    settings = Settings(data_dir=tmp_path / "data", queue_size=8)
    engine = Engine(settings)
    engine.__dict__["embedder"] = embedder
    model = resolve_model(settings.model, settings.cache_dir)
    engine.__dict__["_generator"] = ScriptedModel(vocab_counter(model))
    engine.ingest([SEEDS])
    planted_log = tmp_path / "planted.log"
    with live_server(create_app(engine=engine)) as url:
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                f"{url}/openapi.json",
                "--max-examples=25",
                "--max-time=150",
                "--workers=1",
                "--seed=1",
                "--generation-database=none",
                "--request-timeout=60",
                "--no-color",
                # Rules the schema cannot state (a file's type by its name, the last chat
                # message being the user's) make some schema-valid
                # requests 4xx by design; every other check stays on.
                "--exclude-checks=positive_data_acceptance",
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=600,
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": str(Path(__file__).with_name("fuzz_hooks.py")),
                "NEWSDESK_FUZZ_LOG": str(planted_log),
            },
        )
    summary = run.stdout[run.stdout.find("SUMMARY") :] if "SUMMARY" in run.stdout else run.stdout
    print(summary)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    # The planted requests reached the text inputs of asking, searching, chatting and
    # uploading, and the text rule refused them (a field the service ignores, such as a chat
    # request's `model`, may take anything; no 5xx either way).
    planted = [line.split() for line in planted_log.read_text().splitlines()]
    print(f"{len(planted)} requests with a planted character")
    for path in ("/v1/ask", "/v1/search", "/v1/chat/completions", "/v1/documents"):
        statuses = [int(p[-1]) for p in planted if p[0] == "POST" and p[1] == path]
        assert 422 in statuses and max(statuses) < 500, (path, statuses)
