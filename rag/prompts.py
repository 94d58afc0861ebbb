"""Prompt templates live as files in `prompts/` so they can be read, diffed and tuned on their own.

Templates use `$name` placeholders (string.Template): article text and questions are full of
braces and percent signs that must pass through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from rag.errors import NewsdeskError


@dataclass(frozen=True)
class PromptSet:
    system: str
    question: Template
    passage: Template
    rewrite: Template

    @classmethod
    def load(cls, prompts_dir: Path) -> PromptSet:
        def read(name: str) -> str:
            path = prompts_dir / name
            try:
                return path.read_text(encoding="utf-8")
            except OSError as exc:
                raise NewsdeskError(f"missing prompt template {path}: {exc.strerror}") from exc

        return cls(
            system=read("system.txt").strip(),
            question=Template(read("question.txt").strip()),
            passage=Template(read("passage.txt").strip()),
            rewrite=Template(read("rewrite.txt").strip()),
        )

    def render_passage(self, n: int, outlet: str | None, title: str, text: str) -> str:
        return self.passage.safe_substitute(
            n=n, outlet=outlet or "unknown outlet", title=title, text=text.strip()
        )

    def messages(self, question: str, passages: list[str]) -> list[dict[str, str]]:
        """System rules first and unchanged between questions, so llama.cpp reuses their KV."""
        user = self.question.safe_substitute(passages="\n\n".join(passages), question=question)
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def rewrite_messages(self, history: str, question: str) -> list[dict[str, str]]:
        user = self.rewrite.safe_substitute(history=history, question=question)
        return [{"role": "user", "content": user}]
