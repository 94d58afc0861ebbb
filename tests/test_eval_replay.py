"""The replay script's draft cache: drafts come from the cache, everything else (the support
judge above all) from the real model, so a replay scores the check the engine runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from rag.llm.generation import Generation

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "eval_replay.py"


def _script():
    spec = importlib.util.spec_from_file_location("eval_replay", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Scripted:
    name = "scripted"
    judges_mid_stream = True

    def __init__(self) -> None:
        self.drafted = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def chat(self, messages, max_tokens: int = 256) -> Generation:
        self.drafted += 1
        return Generation(f"draft {self.drafted}", 0, 0, 0.0)

    def judge(self, prompts):
        return [0.25 for _ in prompts]


def test_drafts_are_cached_and_the_judge_is_the_models(tmp_path: Path) -> None:
    inner = Scripted()
    cached = _script().CachedDrafts(inner, tmp_path / "drafts.json")
    ask = [{"role": "user", "content": "Who won?"}]
    assert cached.chat(ask).text == "draft 1"
    assert cached.chat(ask).text == "draft 1"  # from the cache, not drafted again
    assert inner.drafted == 1
    assert cached.judge([ask, ask]) == [0.25, 0.25]
    assert cached.judges_mid_stream is True
    # A second process reads the drafts the first one wrote.
    again = _script().CachedDrafts(Scripted(), tmp_path / "drafts.json")
    assert again.chat(ask).text == "draft 1"
