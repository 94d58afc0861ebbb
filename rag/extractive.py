"""The answering sentence, found without the model, for when the model declines beside it.

A 1.5B model sometimes says "The articles don't say." with the answer in front of it, most
often when the passage words it differently ("How many sites across Ukraine were struck?"
against "17 sites had been struck nationwide"). For two question forms the answer can be
recognised without a model: a count of the asked thing, and a day of the week. When a passage
sentence gives one (a number counting a word the question counts, a weekday the question does
not already hold) and repeats most of the question's other words, that sentence, quoted whole
with its citation, replaces the refusal, and then goes through every check a draft does.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.context import Passage
from rag.facts import content_words, number_bindings, numbers, words

_COUNT_RE = re.compile(r"\bhow many\s+(?P<what>(?:[\w'’-]+\s+){1,4})", re.IGNORECASE)
_DAY_RE = re.compile(r"\b(?:which|what) day\b", re.IGNORECASE)
_WEEKDAYS = frozenset(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
)
# The question's own form words: they say what kind of answer is wanted, not what it is about.
_FORM_WORDS = frozenset(content_words("how many which what day of the week number"))


def _counted(question: str) -> set[str]:
    """Stems of the words right after "how many", in `facts.number_bindings`' form."""
    m = _COUNT_RE.search(question)
    if not m:
        return set()
    return {w[:5] for w in content_words(m.group("what")) if not w[0].isdigit()}


def _reader(question: str) -> Callable[[str], str | None] | None:
    """For a question of a form this module knows, what a sentence answers to it (or None);
    for any other question, None. The question is read once, not once per sentence."""
    counted = _counted(question)
    if counted:
        asked = numbers(question)

        def count(sentence: str) -> str | None:
            bindings = number_bindings(sentence).items()
            found = sorted(n for n, bound in bindings if n not in asked and bound & counted)
            return " ".join(found) or None

        return count
    if _DAY_RE.search(question):
        held = words(question)

        def day(sentence: str) -> str | None:
            return " ".join(sorted((words(sentence) & _WEEKDAYS) - held)) or None

        return day
    return None


def answering_sentence(
    question: str, passages: list[Passage], min_cover: float = 0.5
) -> tuple[int, str] | None:
    """(passage number, sentence) that states what was asked, or None.

    `min_cover` is the share of the question's subject words (its content words, minus the
    form words) the sentence must repeat, so "17 sites had been struck" answers about sites
    struck overnight, not whatever else is counted in the same passage. Two sentences that
    cover the question equally well but give different answers make it no answer at all."""
    gives = _reader(question)
    subject = content_words(question) - _FORM_WORDS
    if gives is None or not subject:
        return None
    best: list[tuple[float, int, str, str]] = []
    for n, passage in enumerate(passages, 1):
        for unit in passage.sentences:
            given = gives(unit.text)
            if given is None:
                continue
            cover = len(subject & content_words(unit.text)) / len(subject)
            if cover >= min_cover:
                best.append((cover, n, unit.text, given))
    if not best:
        return None
    top = max(c for c, *_ in best)
    answers = {given for c, _, _, given in best if c == top}
    if len(answers) > 1:
        return None
    _, n, sentence, _ = next(b for b in best if b[0] == top)
    return n, sentence
