"""A conversation over the engine: follow-up questions become standalone ones before retrieval.

Retrieval only sees the question, so "and which of them refused?" finds nothing by itself. The
model rewrites such a follow-up from the last few turns; a question that already stands alone is
passed through untouched, which keeps it fast and keeps the model from "improving" it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.engine import Engine
from rag.schemas import Answer

# Words that lean on an earlier turn. A question with none of them (and more than a few words)
# is taken as standalone.
_ANAPHORA = re.compile(
    r"\b(they|them|their|theirs|it|its|he|him|his|she|her|hers|those|these|that|this|there|"
    r"one|ones|others?|same|else|also|too|then|what about|how about|and)\b",
    re.IGNORECASE,
)
MAX_TURNS = 3
REWRITE_TOKENS = 64


@dataclass
class Turn:
    question: str
    standalone: str
    answer: str


@dataclass
class Conversation:
    engine: Engine
    turns: list[Turn] = field(default_factory=list)

    def reset(self) -> None:
        self.turns.clear()

    def standalone(self, question: str) -> str:
        """The question retrieval should see: rewritten from history only when it needs it."""
        question = question.strip()
        if not self.turns or not needs_rewrite(question):
            return question
        engine = self.engine
        turns = self.turns[-MAX_TURNS:]
        while turns:
            history = "\n".join(f"User: {t.standalone}\nAssistant: {t.answer}" for t in turns)
            messages = engine.prompts.rewrite_messages(history, question)
            # Turns a client sends can be long: the oldest go until the prompt and the rewrite
            # fit the model's window.
            needs = engine.prompts.prompt_tokens(messages, engine.count_tokens) + REWRITE_TOKENS
            if needs <= engine.settings.n_ctx:
                draft = engine.generator.chat(messages, max_tokens=REWRITE_TOKENS).text
                rewritten = clean_rewrite(draft, question)
                too_long = len(rewritten) > engine.settings.max_question_chars
                return question if too_long else rewritten
            turns = turns[1:]
        return question

    def record(self, question: str, standalone: str, answer: Answer) -> None:
        self.turns.append(Turn(question, standalone, _plain(answer.answer)))


def needs_rewrite(question: str) -> bool:
    return bool(_ANAPHORA.search(question)) or len(question.split()) <= 3


def clean_rewrite(draft: str, original: str) -> str:
    """First line of the model's reply, without labels or quotes; the original if it is unusable."""
    line = next((ln.strip() for ln in draft.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(standalone |rewritten )?question\s*:\s*", "", line, flags=re.IGNORECASE)
    line = line.strip().strip('"“”').strip()
    if not line or len(line) > 4 * max(len(original), 60):
        return original
    return line


def _plain(text: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", text).strip()
