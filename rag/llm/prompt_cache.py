"""A fixed boundary in llama.cpp's prompt cache, so a greedy draft depends on its prompt alone.

llama-cpp-python reuses the longest token prefix a new prompt shares with the previous one and
evaluates only the rest. Where that split falls changes the batch shapes llama.cpp computes,
and with them the last bits of the logits, so the same question drew a different greedy draft
depending on what was asked before it (about 10 of 98 golden questions per eval run). Here the
cache is cut back to the system turn before every generation, and the system turn is always
evaluated on its own: every prompt is then computed in the same pieces, whatever came before,
and the fixed system prompt (with its worked example) is still evaluated once, not per question
(and, with a state directory, once per model and prompt: `rag.llm.kv_state` keeps it on disk).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.llm import kv_state


def _formatter(llm: Any) -> Any | None:
    """The formatter llama-cpp-python itself renders chats with, when it uses the GGUF's own
    template (every current instruct GGUF). Other chat formats get no fixed boundary."""
    template = llm.metadata.get("tokenizer.chat_template")
    if llm.chat_handler is not None or llm.chat_format != "chat_template.default" or not template:
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def text(token: int) -> str:
        return llm._model.token_get_text(token) if token != -1 else ""

    return Jinja2ChatFormatter(
        template=template, eos_token=text(llm.token_eos()), bos_token=text(llm.token_bos())
    )


def common_length(a: list[int], b: list[int]) -> int:
    """How many leading tokens two sequences share: what llama-cpp-python reuses."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class SystemTurnCache:
    """Keeps exactly the system turn in the KV cache between generations. Callers hold the
    generator's lock: this touches the same `Llama` object the generation does."""

    def __init__(self, llm: Any, state_dir: Path | None = None, identity: str = "") -> None:
        self._llm = llm
        self._state_dir = state_dir
        self._identity = identity
        self.formatter = _formatter(llm)
        self._prefixes: dict[str, list[int]] = {}

    def prefix(self, system: str) -> list[int]:
        """The tokens every prompt with this system message starts with: the common start of
        two renderings that differ only in the user's text."""
        if self.formatter is None:
            return []
        if system not in self._prefixes:
            try:
                a, b = (
                    self.tokens(
                        [{"role": "system", "content": system}, {"role": "user", "content": p}]
                    )
                    for p in ("A", "B")
                )
            except Exception:  # noqa: BLE001 - a template that rejects the probe: no boundary
                a = b = []
            self._prefixes[system] = a[: common_length(a, b)]
        return self._prefixes[system]

    def tokens(self, messages: list[dict[str, str]]) -> list[int]:
        """The prompt tokens, as llama-cpp-python's chat handler renders and tokenises them
        (ending with the opening of the assistant's turn)."""
        result = self.formatter(messages=messages)
        return self._llm.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )

    def ensure(self, messages: list[dict[str, str]]) -> None:
        """Bring this prompt's system turn back when the cache holds another one (a draft
        written under other prompts), so it is read from memory or disk, not evaluated."""
        if not messages or messages[0].get("role") != "system":
            return
        prefix = self.prefix(messages[0]["content"])
        if prefix and not self._holds(prefix):
            self.settle(messages)

    def _holds(self, prefix: list[int]) -> bool:
        """Whether the cache starts with these tokens."""
        llm, n = self._llm, len(prefix)
        return llm.n_tokens >= n and llm.input_ids[:n].tolist() == prefix

    def settle(self, messages: list[dict[str, str]]) -> None:
        """Leave the cache holding this prompt's system turn and nothing after it."""
        if not messages or messages[0].get("role") != "system":
            return
        prefix = self.prefix(messages[0]["content"])
        if not prefix:
            return
        llm, n = self._llm, len(prefix)
        if self._holds(prefix):
            llm._ctx.kv_cache_seq_rm(-1, n, -1)
            llm.n_tokens = n
            return
        # Not in memory (a new process, another prompt): read it from disk if it was kept there.
        path = (
            kv_state.state_path(self._state_dir, self._identity, prefix)
            if self._state_dir
            else None
        )
        if path is not None and kv_state.restore(llm, path, prefix):
            return
        llm.reset()
        llm.eval(prefix)
        if path is not None:
            kv_state.save(llm, path, prefix)
