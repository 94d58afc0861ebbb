"""`newsdesk chat`: follow-up rewriting rules, and the real program driven through a
pseudo-terminal and through a pipe, with the real model."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT
from rag.frontend.chat import clean_rewrite, needs_rewrite

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
        [sys.executable, "-m", "rag.frontend.cli", "ingest", "-q", str(SEEDS)],
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


def screen_lines(raw: str) -> list[str]:
    """What a terminal shows: each line as last redrawn (a spinner rewrites its line after a
    carriage return), without colour or cursor codes."""
    lines = []
    for line in re.split(r"\r?\n", raw):
        shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line.split("\r")[-1])
        lines.append(shown.rstrip())
    return lines


@pytest.mark.slow
def test_interactive_session_streams_follows_up_and_shows_sources(chat_env):
    import pexpect

    env = {**chat_env, "COLUMNS": "60"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "rag.frontend.cli", "chat"],
        env=env,
        cwd=str(PROJECT_ROOT),
        encoding="utf-8",
        timeout=120,
        dimensions=(50, 60),
    )
    try:
        child.expect("you>")
        child.sendline(FIRST)
        # A spinner names the stage until the first checked sentence.
        child.expect(r"reading \d+ passages")
        child.expect("you>")
        first = screen_lines(child.before)  # what came after that stage

        child.sendline("/sources 1")
        child.expect(r"characters \d+–\d+")
        source_1 = screen_lines(child.before)
        child.expect("you>")

        child.sendline(FOLLOW_UP)
        child.expect(r"searching: ([^\r\n]+)")
        assert "Healey" in child.match.group(1), child.match.group(1)
        child.expect("you>")
        assert "Hegseth" in child.before, child.before

        # Ctrl-C stops an answer but not the session.
        child.sendline("What did Keith Kellogg say about Ukraine's situation?")
        child.expect(r"passages")
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
    screen = "\n".join(first)
    assert "Traceback" not in screen
    # Word-wrapped at the terminal's 60 columns, between words.
    assert all(len(line) <= 60 for line in first), [ln for ln in first if len(ln) > 60]
    # The answer is printed once: no dimmed draft before it. Its sentences, unwrapped, read
    # whole; its numbers run 1..n in order, as in the sources under it.
    sources_at = next(i for i, ln in enumerate(first) if re.match(r"^[✓✗ ] \[1\] ", ln))
    stages = re.compile(r"(reading|writing|retrieving)\b.*…")
    lines = [ln for ln in first[:sources_at] if not stages.search(ln)]
    said = " ".join(" ".join(lines).split())
    assert "Healey" in said, screen
    assert " ".join(screen.split()).count(said) == 1, screen
    numbers = [int(n) for n in re.findall(r"\[(\d+)\]", said)]
    assert list(dict.fromkeys(numbers)) == list(range(1, len(set(numbers)) + 1)), said
    listed = [int(m.group(1)) for ln in first if (m := re.match(r"^[✓✗ ] \[(\d+)\] ", ln))]
    assert listed == list(range(1, len(listed) + 1)) and set(numbers) <= set(listed)
    # /sources 1 shows the source listed as [1], under the same heading.
    heading = next(ln for ln in first if re.match(r"^[✓✗ ] \[1\] ", ln))[6:]
    assert any(ln.startswith(f"[1] {heading[:30]}") for ln in source_1), (heading, source_1)
    history = Path(chat_env["NEWSDESK_DATA_DIR"]) / "chat_history"
    assert FOLLOW_UP in history.read_text()


@pytest.mark.slow
@pytest.mark.long
def test_piped_questions_print_one_json_object_each(chat_env):
    r = subprocess.run(
        [sys.executable, "-m", "rag.frontend.cli", "chat", "--json"],
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
        [sys.executable, "-m", "rag.frontend.cli", "chat"],
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
