"""Does a checked answer give the kind of thing that was asked?

The support check proves each sentence is in the articles; it cannot see that a true, cited
sentence answers a different question. Near misses are exactly that: asked how many were
injured, the draft says how many were killed; asked for a date, it says "Thursday"; asked for a
name, it restates the question. Each rule here reads the question's form and demands what an
answer of that form must contain; an answer without it is dropped, and the engine abstains.
"""

from __future__ import annotations

import re

from rag.context import Passage
from rag.facts import names, numbers, words
from rag.grounding import GroundedAnswer

_QUANTITY_RE = re.compile(
    r"\b(how (many|much)|what (is|was|were) the (number|value|total|size|cost|amount|price)"
    r"|what (percentage|share|proportion)|(?:what|which) (?:calendar )?(?:date|year))\b",
    re.IGNORECASE,
)
_SHARE_RE = re.compile(r"\bwhat (percentage|share|proportion)\b", re.IGNORECASE)
_PERCENT_RE = re.compile(r"%|\bper ?cent\b|\bpercentage points?\b", re.IGNORECASE)
_NAME_RE = re.compile(
    r"\b(?:what|which) (?:is|was|are|were) the names? of (?P<whom>[^?,]*?)"
    r"(?:\s+(?:who|that|which|whose|in|at|on)\b|[?,]|$)",
    re.IGNORECASE,
)
_TOKEN_RE = re.compile(r"[a-z0-9]+")
# An accumulated figure: "the total number of", "overall", "so far".
_TOTAL_RE = re.compile(
    r"\b(total|overall|in all|altogether|cumulative|all told|to date|so far)\b", re.IGNORECASE
)
# "How many people were injured": what was counted and what happened to it.
_COUNTED_RE = re.compile(
    r"\bhow many\s+(?:[\w'-]+\s+){0,3}?[a-z]+\s+(?:were|was|have been|had been|are|is|got)\s+"
    r"(?P<verb>[a-z]{4,}ed)\b",
    re.IGNORECASE,
)
# Adjectives of nationality are capitalised but name no one.
_DEMONYMS = set(
    [
        "russian",
        "ukrainian",
        "british",
        "english",
        "french",
        "german",
        "american",
        "european",
        "chinese",
        "italian",
        "canadian",
        "turkish",
        "irish",
        "australian",
        "polish",
        "western",
        "eastern",
        "nato",
        "eu",
        "un",
    ]
)


def asks_for_quantity(question: str) -> bool:
    return bool(_QUANTITY_RE.search(question))


def _drop_all(grounded: GroundedAnswer) -> GroundedAnswer:
    dropped = grounded.dropped + [s.text for s in grounded.sentences]
    return GroundedAnswer(text="", cited=[], sentences=[], dropped=dropped)


def require_quantity(question: str, grounded: GroundedAnswer) -> GroundedAnswer:
    """A "how many" answer with no number of its own does not answer: "European troops will be
    deployed [1]" is true and cited, yet the articles never give the count. The same holds for
    "on what date": "on Thursday" is no date; and "what share": a sum is no percentage.
    Numbers echoed from the question do not count."""
    if not asks_for_quantity(question):
        return grounded
    asked = numbers(question)
    if not any(numbers(s.text) - asked for s in grounded.sentences):
        return _drop_all(grounded)
    if _SHARE_RE.search(question) and not any(
        _PERCENT_RE.search(s.text) for s in grounded.sentences
    ):
        return _drop_all(grounded)
    return grounded


def require_name(
    question: str, grounded: GroundedAnswer, passages: list[Passage]
) -> GroundedAnswer:
    """ "What is the name of X?" is answered by a name the question does not already hold; and
    where the cited text names the role ("foreign minister"), the name must stand beside it,
    not just somewhere in the same passage."""
    m = _NAME_RE.search(question)
    if not m:
        return grounded
    asked = names(question) | words(question)
    role = (_TOKEN_RE.findall(m.group("whom").lower()) or [""])[-1]
    for s in grounded.sentences:
        new = {n for n in names(s.text) if n not in _DEMONYMS} - asked
        if new and _named_beside(role, new, grounded, passages):
            return grounded
    return _drop_all(grounded)


def _cited_text(grounded: GroundedAnswer, passages: list[Passage]) -> str:
    return " ".join(passages[n - 1].text for n in grounded.cited if 1 <= n <= len(passages))


def _named_beside(
    role: str, new: set[str], grounded: GroundedAnswer, passages: list[Passage], reach: int = 4
) -> bool:
    tokens = _TOKEN_RE.findall(_cited_text(grounded, passages).lower())
    at_role = [i for i, t in enumerate(tokens) if t == role]
    if not at_role:
        # Cited text that never uses the question's word for the role may still name the
        # person another way, unless other passages do speak of the role: then the answer
        # took its name from a passage about something else.
        return not any(role in words(p.text) for p in passages)
    at_name = [i for i, t in enumerate(tokens) if t in new]
    return any(abs(i - j) <= reach for i in at_role for j in at_name)


def require_counted_event(
    question: str, grounded: GroundedAnswer, passages: list[Passage]
) -> GroundedAnswer:
    """ "How many were injured?" needs passages that speak of injuries: a cited count of the
    killed answers another question. The asked verb must occur in the cited text (by its
    first four letters, so "killed" finds "killing")."""
    m = _COUNTED_RE.search(question)
    if not m:
        return grounded
    stem = m.group("verb").lower()[:4]
    if any(w.startswith(stem) for w in words(_cited_text(grounded, passages))):
        return grounded
    return _drop_all(grounded)


def require_total(
    question: str, grounded: GroundedAnswer, passages: list[Passage]
) -> GroundedAnswer:
    """ "What is the total number of civilians killed since the invasion began?" is not
    answered by the 22 one strike killed, however many words the two share: a total needs
    cited text that gives a total."""
    if not asks_for_quantity(question) or not _TOTAL_RE.search(question):
        return grounded
    if _TOTAL_RE.search(_cited_text(grounded, passages)):
        return grounded
    return _drop_all(grounded)


def require_answer_kind(
    question: str, grounded: GroundedAnswer, passages: list[Passage]
) -> GroundedAnswer:
    grounded = require_quantity(question, grounded)
    grounded = require_name(question, grounded, passages)
    grounded = require_total(question, grounded, passages)
    return require_counted_event(question, grounded, passages)
