"""The development corpora the eval scores on, each with its articles and gold questions.

Two corpora keep tuning honest: `seeds` (the five built-in articles and `eval/golden.jsonl`)
and `bbc-dev` (30 real BBC articles with 50 questions, `eval/corpora/bbc-dev`, see its
README). A change that helps one and hurts the other is fitted to one corpus's wording.
Question kinds are named alike across corpora so the report can compare them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rag.config import PROJECT_ROOT

EVAL_DIR = Path(__file__).resolve().parent

# The seed golden set's own category names, read as the shared question kinds.
_SEED_KINDS = {
    "single_fact": "fact",
    "quote": "who-said",
    "number": "number",
    "multi_doc_list": "list",
    "near_miss": "near-miss",
    "off_topic": "off-topic",
    "injection": "injection",
    "conflict": "conflict",
}


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    answerable: bool
    gold_answers: list[list[str]]
    gold_doc_ids: list[str]
    category: str


@dataclass(frozen=True)
class Corpus:
    name: str
    articles: Path
    questions: Path

    def load(self) -> list[GoldQuestion]:
        """The gold questions, in either file format, with kinds named alike."""
        out = []
        lines = self.questions.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                if "kind" in raw:  # the bbc-dev format (see its README)
                    out.append(
                        GoldQuestion(
                            id=raw["id"],
                            question=raw["question"],
                            answerable=raw["answerable"],
                            gold_answers=raw["answers"],
                            gold_doc_ids=raw["doc_ids"],
                            category=raw["kind"],
                        )
                    )
                else:
                    raw["category"] = _SEED_KINDS.get(raw["category"], raw["category"])
                    out.append(GoldQuestion(**raw))
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"{self.questions}:{i}: not a gold question: {exc}") from exc
        return out


CORPORA: dict[str, Corpus] = {
    "seeds": Corpus("seeds", PROJECT_ROOT / "seeds", EVAL_DIR / "golden.jsonl"),
    "bbc-dev": Corpus(
        "bbc-dev",
        EVAL_DIR / "corpora" / "bbc-dev" / "articles",
        EVAL_DIR / "corpora" / "bbc-dev" / "questions.jsonl",
    ),
}
