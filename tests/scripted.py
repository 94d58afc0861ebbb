"""A scripted stand-in for the generator, for tests of the engine's own logic.

With the real model each answer takes seconds on two cores. The stand-in keeps the model's real
tokenizer (every context budget is counted as in service) and answers with the first sentence
of the first passage, citing it, so citations, the support check and conflicts run on each
answer; a test of what the engine makes of one given draft sets `draft`. It has no `judge`, so
the engine reads it as a model server. Tests that prove a feature works end to end use the real
model."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator

from rag.llm.generation import Generation

_FIRST_PASSAGE = re.compile(r"^\[1\] \([^)\n]*\) (.+?[.!?])(?:\s|$)", re.MULTILINE)


class ScriptedModel:
    """The model's tokenizer with scripted replies (no `judge`: read as a model server)."""

    name = "scripted"

    def __init__(self, count: Callable[[str], int]) -> None:
        self._count = count
        self.calls = 0  # replies given: how a test tells an answer made from one reused
        self.draft: str | None = None  # the reply to every question, when a test sets one

    def count_tokens(self, text: str) -> int:
        return self._count(text)

    def reply(self, messages: list[dict[str, str]]) -> str:
        if self.draft is not None:
            return self.draft
        found = _FIRST_PASSAGE.search(messages[-1]["content"])
        return f"{found.group(1)} [1]" if found else "The articles don't say."

    def chat(self, messages: list[dict[str, str]], max_tokens: int = 256) -> Generation:
        self.calls += 1
        return Generation(self.reply(messages), 0, 0, 0.0)

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int = 256,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        self.calls += 1
        for piece in re.findall(r"\S+\s*", self.reply(messages)):
            if cancel is not None and cancel.is_set():
                return
            yield piece
