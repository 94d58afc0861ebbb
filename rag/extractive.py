"""The answering sentence, found without the model, for when the model declines beside it.

A 1.5B model sometimes says "The articles don't say." with the answer in front of it, most
often when the passage words it differently ("How many sites across Ukraine were struck?"
against "17 sites had been struck nationwide"). For three question forms the answer can be
recognised without a model: a count of the asked thing, a day of the week, and the words a
report quotes. When a passage sentence gives one (a number counting a word the question counts,
a weekday the question does not already hold, a quotation) and repeats most of the question's
other words, that sentence, quoted whole with its citation, replaces the refusal, and then
goes through every check a draft does; so it does for a draft none of whose sentences survived
the check. A question that asks for someone's words ("What phrase did she use?") also gets that
sentence beside a draft that only paraphrases them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.context import Passage
from rag.facts import content_words, number_bindings, numbers, words

_COUNT_RE = re.compile(r"\bhow many\s+(?P<what>(?:[\w'’-]+\s+){1,4})", re.IGNORECASE)
_DAY_RE = re.compile(r"\b(?:which|what) day\b", re.IGNORECASE)
# "What phrase did she use...?", "How did Hegseth describe...?": the answer is the report's words.
_WORDING_RE = re.compile(
    r"\bwhat (?:phrase|words?|term|expression|metaphor|comparison)\b"
    r"|\bhow did\b.{1,80}?\b(?:describe|characteri[sz]e|call)\b",
    re.IGNORECASE,
)
_QUOTED_RE = re.compile(r"[\u201c\"]([^\u201d\"]{3,}?)[\u201d\"]")
_WEEKDAYS = frozenset(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
)
# The question's own form words: they say what kind of answer is wanted, not what it is about.
_FORM_WORDS = frozenset(
    content_words(
        "how many which what day of the week number phrase word term expression metaphor "
        "comparison use describe characterise characterize call"
    )
)


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
    if asks_for_wording(question):

        def quote(sentence: str) -> str | None:
            return " | ".join(_QUOTED_RE.findall(sentence)) or None

        return quote
    return None


def asks_for_wording(question: str) -> bool:
    """The question asks for a report's own words (a phrase, how someone described something):
    an answer that paraphrases them has not answered it."""
    return bool(_WORDING_RE.search(question))


def has_quotation(text: str) -> bool:
    return bool(_QUOTED_RE.search(text))


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
