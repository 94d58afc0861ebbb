"""Read a question's shape, not its topic: how many parts it has and whether it wants a list.

Both steer how much evidence is gathered. A two-part question ("where did X die, and how old
was he?") needs hits for each part, or the context fills with the first part's sentences and
the answer comes back half done; a question asking for several items ("which three DJs…",
"which countries…") needs room for items spread across passages. Only English question
grammar is read here (wh-words, plural nouns, number words), never names or topics.
"""

from __future__ import annotations

import re

_WH = r"(?:what|which|who|whom|whose|when|where|why|how)"
# ", and how old was he?" / "; what did she say?" / " and which chairman said…"
_PART_SPLIT_RE = re.compile(rf"(?:,\s*(?:and|but)\s+|;\s*|\s+and\s+)(?={_WH}\b)", re.IGNORECASE)
_AUX = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "did",
        "do",
        "does",
        "has",
        "have",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
        "may",
        "might",
        "must",
        "shall",
    ]
)
_COUNT_WORDS = frozenset(
    ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "several"]
)
_DETERMINERS = frozenset(["the", "a", "an", "his", "her", "its", "their", "this", "that"])
_PLURALS = frozenset(["people", "men", "women", "children"])
_LIST_LEAD_RE = re.compile(r"\b(?:which|what)\s+(?P<phrase>(?:[\w'’-]+\s+){0,4})", re.IGNORECASE)


def question_parts(question: str) -> list[str]:
    """The question's separately asked parts; one part (an empty list) when it has only one.

    Each later part starts with its own wh-word, so "Who beat Mirza and how long did it
    take?" splits and "Which firms bought and sold shares?" does not."""
    parts = [p.strip(" ,;") for p in _PART_SPLIT_RE.split(question) if p.strip(" ,;?")]
    if len(parts) < 2:
        return []
    return [p if p.endswith("?") else f"{p}?" for p in parts]


def asks_for_list(question: str) -> bool:
    """Whether the question asks for several items: "which" or "what" before a count or a
    plural noun ("which three websites…", "which countries refused…"). A word ending in -s
    before "the" or "a" is a verb ("which company supplies the drones?"), not a plural."""
    for m in _LIST_LEAD_RE.finditer(question):
        phrase = m.group("phrase").lower().split()
        for word, after in zip(phrase, [*phrase[1:], ""], strict=True):
            if word in _AUX:
                break
            if word in _COUNT_WORDS or word in _PLURALS:
                return True
            plural = len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "'s", "’s"))
            if plural and after not in _DETERMINERS:
                return True
    return False
