"""Prompt templates live as files in `prompts/` so they can be read, diffed and tuned on their own.

Templates use `$name` placeholders (string.Template): article text and questions are full of
braces and percent signs that must pass through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from rag.errors import NewsdeskError
from rag.loading import bounded

HEADER_MAX = 60


@dataclass(frozen=True)
class PromptSet:
    system: str
    question: Template
    passage: Template
    rewrite: Template
    judge: Template
    relevance: Template

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
            judge=Template(read("judge.txt").strip()),
            relevance=Template(read("relevance.txt").strip()),
        )

    def render_passage(self, n: int, outlet: str | None, title: str, text: str) -> str:
        # A header names its source in a few tokens, however long the stored metadata is.
        return self.passage.safe_substitute(
            n=n,
            outlet=bounded(outlet, HEADER_MAX) if outlet else "unknown outlet",
            title=bounded(title, HEADER_MAX),
            text=text.strip(),
        )

    def messages(self, question: str, passages: list[str]) -> list[dict[str, str]]:
        """System rules first and unchanged between questions, so llama.cpp reuses their KV."""
        user = self.question.safe_substitute(passages="\n\n".join(passages), question=question)
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def judge_messages(
        self, passages: list[str], claim: str, cited: list[int]
    ) -> list[dict[str, str]]:
        """The yes/no prompt asking whether passages `cited` state `claim`. It is the answer
        prompt with the user's question replaced, so the question (which may plant a premise
        or give orders) never reaches the judge, while the passages, unchanged and first,
        are still in llama.cpp's cache from the draft."""
        marks = [f"[{n}]" for n in cited]
        refs = "passage " + marks[0] if len(marks) == 1 else "passages " + " and ".join(marks)
        return self.messages(self.judge.safe_substitute(claim=claim, refs=refs), passages)

    def relevance_messages(
        self, passages: list[str], question: str, answer: str
    ) -> list[dict[str, str]]:
        """The yes/no prompt asking whether `answer` answers `question` at all."""
        turn = self.relevance.safe_substitute(question=question, answer=answer)
        return self.messages(turn, passages)

    def rewrite_messages(self, history: str, question: str) -> list[dict[str, str]]:
        user = self.rewrite.safe_substitute(history=history, question=question)
        return [{"role": "user", "content": user}]
