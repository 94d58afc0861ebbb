"""Prompt templates live as files in `prompts/` so they can be read, diffed and tuned on their own.

Templates use `$name` placeholders (string.Template): article text and questions are full of
braces and percent signs that must pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template

from rag.errors import NewsdeskError
from rag.ingest.loading import bounded

HEADER_MAX = 60
# Tokens a chat template adds around the messages (role markers, turn ends; about 15 for the
# default model), with room for counting a prompt's parts apart rather than joined.
TEMPLATE_SLACK = 64


@dataclass(frozen=True)
class PromptSet:
    system: str
    question: Template
    instruction: str
    passage: Template
    rewrite: Template
    judge: Template
    relevance: Template
    # The system turn of a second draft (`second_system.txt`; empty: no second draft).
    second_system: str = ""

    @classmethod
    def load(cls, prompts_dir: Path) -> PromptSet:
        def read(name: str, missing: str | None = None) -> str:
            path = prompts_dir / name
            try:
                return path.read_text(encoding="utf-8")
            except OSError as exc:
                if missing is not None and isinstance(exc, FileNotFoundError):
                    return missing
                raise NewsdeskError(f"missing prompt template {path}: {exc.strerror}") from exc

        question = Template(read("question.txt").strip())
        # Optional, so a prompts folder written before it keeps working; but an instruction
        # that question.txt has no place for would be dropped without a word.
        instruction = read("instruction.txt", missing="").strip()
        if instruction and "instruction" not in _placeholders(question):
            raise NewsdeskError(
                f"{prompts_dir / 'instruction.txt'} has an instruction, but question.txt has"
                " no $instruction to put it in"
            )
        return cls(
            system=read("system.txt").strip(),
            question=question,
            instruction=instruction,
            passage=Template(read("passage.txt").strip()),
            rewrite=Template(read("rewrite.txt").strip()),
            judge=Template(read("judge.txt").strip()),
            relevance=Template(read("relevance.txt").strip()),
            second_system=read("second_system.txt", missing="").strip(),
        )

    def render_passage(self, n: int, outlet: str | None, title: str, text: str) -> str:
        # A header names its source in a few tokens, however long the stored metadata is.
        return self.passage.safe_substitute(
            n=n,
            outlet=bounded(outlet, HEADER_MAX) if outlet else "unknown outlet",
            title=bounded(title, HEADER_MAX),
            text=text.strip(),
        )

    def header_tokens(self, outlet: str | None, title: str, count: Callable[[str], int]) -> int:
        """What one passage adds to a prompt besides its sentences: its header and the blank
        line before the next passage."""
        return count(self.render_passage(99, outlet, title, "")) + count("\n\n")

    def passage_room(
        self,
        question: str,
        count: Callable[[str], int],
        n_ctx: int,
        reply_tokens: int,
        max_passages: int,
    ) -> int:
        """Tokens the passages, headers included, may take so that every prompt built over
        them fits `n_ctx` with what the model writes: the answer prompt and its reply, the
        relevance check (the question and the whole reply) and the support judge (a claim as
        long as the reply, citing every passage). Negative when the question alone is too long."""
        refs = list(range(1, max(1, max_passages) + 1))
        needs = (
            self.prompt_tokens(self.messages(question, []), count) + reply_tokens,
            self.prompt_tokens(self.relevance_messages([], question, ""), count) + reply_tokens,
        )
        [judge] = self.judge_prompts([], [("", refs)], dict.fromkeys(refs, ""))
        # The judge repeats the passages it is asked about: at most all of them, twice.
        judge_room = (n_ctx - self.prompt_tokens(judge, count) - reply_tokens - 1) // 2
        return min(n_ctx - max(needs) - 1, judge_room)  # the checks read one token

    @staticmethod
    def prompt_tokens(messages: list[dict[str, str]], count: Callable[[str], int]) -> int:
        """Tokens of a chat prompt: its messages' contents counted with the model's tokenizer,
        plus the chat template's own."""
        return sum(count(m["content"]) for m in messages) + TEMPLATE_SLACK

    def messages(self, question: str, passages: list[str]) -> list[dict[str, str]]:
        """The answer prompt. System rules first and unchanged between questions, so llama.cpp
        reuses their KV; the passages next, so the checks that follow reuse theirs."""
        return self._messages(question, passages, self.instruction)

    def second_messages(self, question: str, passages: list[str]) -> list[dict[str, str]]:
        """The answer prompt of a second draft: the same passages and question under a plain
        system turn, without the rules and the worked example, which make this model decline
        or misread some questions they were not tuned on. Its checks keep the default prompt,
        whose system turn the judge was calibrated under."""
        return self._messages(question, passages, system=self.second_system)

    def _messages(
        self, turn: str, passages: list[str], instruction: str = "", system: str | None = None
    ) -> list[dict[str, str]]:
        # The drafting instruction (instruction.txt) sits after the passages and only in the
        # answer prompt: the checks share the draft's cached prefix up to the passages, but
        # their yes/no reading is not steered by how the draft was asked to write.
        user = self.question.safe_substitute(
            passages="\n\n".join(passages),
            instruction=instruction + "\n\n" if instruction else "",
            question=turn,
        )
        return [
            {"role": "system", "content": self.system if system is None else system},
            {"role": "user", "content": user},
        ]

    def judge_prompts(
        self,
        passages: list[str],
        claims: list[tuple[str, list[int]]],
        quotes: dict[int, str],
    ) -> list[list[dict[str, str]]]:
        """For each (claim, passages cited), the yes/no prompt asking whether those passages
        state it. It is the answer prompt with the user's question replaced and without the
        drafting instruction, so the question (which may plant a premise or give orders) never
        reaches the judge, while the passages, unchanged and first, are still in llama.cpp's
        cache from the draft. What each cited passage says (`quotes`: passage number -> text)
        is repeated next to the claim: a small model told only "passage [4]" reads a claim
        against the whole context and accepts a name it saw anywhere there. Each claim has a
        prompt of its own: asked after the verdict on another claim, a small model judges
        differently."""
        prompts = []
        for claim, cited in claims:
            quoted = "\n".join(f'Passage [{n}]: "{" ".join(quotes[n].split())}"' for n in cited)
            turn = self.judge.safe_substitute(claim=claim, refs=_refs(cited), quotes=quoted)
            prompts.append(self._messages(turn, passages))
        return prompts

    def relevance_messages(
        self, passages: list[str], question: str, answer: str
    ) -> list[dict[str, str]]:
        """The yes/no prompt asking whether `answer` answers `question` at all."""
        turn = self.relevance.safe_substitute(question=question, answer=answer)
        return self._messages(turn, passages)

    def rewrite_messages(self, history: str, question: str) -> list[dict[str, str]]:
        user = self.rewrite.safe_substitute(history=history, question=question)
        return [{"role": "user", "content": user}]


def _placeholders(template: Template) -> set[str]:
    # Template.get_identifiers() is Python 3.11+; the project runs on 3.10 too.
    found = template.pattern.finditer(template.template)
    return {m.group("named") or m.group("braced") for m in found} - {None}


def _refs(cited: list[int]) -> str:
    marks = [f"[{n}]" for n in cited]
    return "passage " + marks[0] if len(marks) == 1 else "passages " + " and ".join(marks)
