"""The real `newsdesk` program, run as a user would."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT

SEEDS = PROJECT_ROOT / "seeds"


def newsdesk(*args: str, data_dir: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEWSDESK_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=PROJECT_ROOT,
    )


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001])
def test_bad_question_is_one_line_and_nonzero(tmp_path, question):
    r = newsdesk("ask", question, data_dir=tmp_path)
    assert r.returncode == 2
    assert "question" in one_line(r.stderr)


def test_missing_corpus_dir_is_one_line(tmp_path):
    r = newsdesk("ingest", str(tmp_path / "nowhere"), data_dir=tmp_path / "d")
    assert r.returncode == 1
    assert "no such file or directory" in one_line(r.stderr)


def test_empty_store_says_how_to_ingest(tmp_path):
    r = newsdesk("ask", "Who is John Healey?", data_dir=tmp_path / "d")
    assert r.returncode == 1
    assert "newsdesk ingest" in one_line(r.stderr)


def test_bad_model_is_one_line(tmp_path):
    r = newsdesk("ingest", "-q", str(SEEDS / "000_0ab7ffefb9095089.txt"), data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    r = newsdesk("ask", "Who is John Healey?", "--model", "/no/such.gguf", data_dir=tmp_path)
    assert r.returncode == 1
    assert "does not exist" in one_line(r.stderr)


@pytest.mark.slow
def test_ingest_then_ask_json(tmp_path):
    r = newsdesk("ingest", "-q", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "5 added" in r.stderr
    r = newsdesk(
        "ask", "Which countries refused to send troops to Ukraine?", "--json", data_dir=tmp_path
    )
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["answerable"] is True
    assert "italy" in body["answer"].lower()
    for c in body["citations"]:
        raw = (SEEDS / c["source_file"]).read_text(encoding="utf-8")
        assert raw[c["start"] : c["end"]] == c["quote"]
