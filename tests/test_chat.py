"""`newsdesk chat`: follow-up rewriting rules, and the real program driven through a
pseudo-terminal and through a pipe, with the real model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.chat import clean_rewrite, needs_rewrite
from rag.config import PROJECT_ROOT

SEEDS = PROJECT_ROOT / "seeds"


def test_only_questions_that_lean_on_history_are_rewritten():
    assert needs_rewrite("And which of them refused?")
    assert needs_rewrite("Which US official did he meet?")
    assert needs_rewrite("What about France?")
    assert needs_rewrite("Why?")
    assert not needs_rewrite("Who is the UK Defence Secretary?")
    assert not needs_rewrite("How many people were killed in Kyiv last week?")


def test_rewrite_reply_is_cleaned_or_ignored():
    assert clean_rewrite('Standalone question: "Who did Healey meet?"\n', "x") == (
        "Who did Healey meet?"
    )
    assert clean_rewrite("\n\nWho refused?\nExtra chatter", "x") == "Who refused?"
    assert clean_rewrite("", "Who?") == "Who?"
    assert clean_rewrite("word " * 200, "Who?") == "Who?"


@pytest.fixture(scope="module")
def chat_env(tmp_path_factory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("chat") / "data"
    env = {
        **os.environ,
        "NEWSDESK_DATA_DIR": str(data),
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "TERM": "xterm",
        "COLUMNS": "200",
    }
    r = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", "-q", str(SEEDS)],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    return env


FIRST = "Who is the UK Defence Secretary?"
FOLLOW_UP = "Which US official did he hold discussions with?"


@pytest.mark.slow
def test_interactive_session_streams_follows_up_and_shows_sources(chat_env):
    import pexpect

    child = pexpect.spawn(
        sys.executable,
        ["-m", "rag.cli", "chat"],
        env=chat_env,
        cwd=str(PROJECT_ROOT),
        encoding="utf-8",
        timeout=120,
        dimensions=(50, 200),
    )
    try:
        child.expect("you>")
        child.sendline(FIRST)
        child.expect(r"\d+ passages")
        # Tokens arrive before the checked answer and its sources.
        child.expect("Healey")
        child.expect(r"\[\d+\]")
        child.expect("you>")
        first = child.before

        child.sendline(FOLLOW_UP)
        child.expect(r"searching: ([^\r\n]+)")
        assert "Healey" in child.match.group(1), child.match.group(1)
        child.expect("you>")
        assert "Hegseth" in child.before, child.before

        child.sendline("/sources 1")
        child.expect(r"characters \d+–\d+")
        child.expect("you>")
        assert "Hegseth" in child.before

        # Ctrl-C stops an answer but not the session.
        child.sendline("What did Keith Kellogg say about Ukraine's situation?")
        child.expect(r"\d+ passages")
        child.sendcontrol("c")
        child.expect("stopped")
        child.expect("you>")

        child.sendline("/reset")
        child.expect("conversation cleared")
        child.expect("you>")
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert "Traceback" not in first
    history = Path(chat_env["NEWSDESK_DATA_DIR"]) / "chat_history"
    assert FOLLOW_UP in history.read_text()


@pytest.mark.slow
def test_piped_questions_print_one_json_object_each(chat_env):
    r = subprocess.run(
        [sys.executable, "-m", "rag.cli", "chat", "--json"],
        input=f"{FIRST}\n\n{FOLLOW_UP}\n",
        env=chat_env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    lines = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert len(lines) == 2
    assert "Healey" in lines[0]["answer"] and lines[0]["citations"]
    assert lines[1]["question"] != lines[1]["standalone_question"]
    assert "Healey" in lines[1]["standalone_question"]
    assert "Hegseth" in lines[1]["answer"]


def test_piped_plain_text_mode_and_bad_lines(chat_env):
    """No model needed: an over-long question fails that line only, with a one-line error."""
    r = subprocess.run(
        [sys.executable, "-m", "rag.cli", "chat"],
        input="/help\n" + "x" * 2001 + "\n",
        env=chat_env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1
    assert "/sources N" in r.stdout
    assert "error:" in r.stdout and "Traceback" not in r.stdout + r.stderr
