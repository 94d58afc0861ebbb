"""The answering sentence, found without the model, for when the model declines beside it.

A 1.5B model sometimes says "The articles don't say." with the answer in front of it, most
often when the passage words it differently ("How many sites across Ukraine were struck?"
against "17 sites had been struck nationwide"). For five question forms the answer can be
recognised without a model: a count of the asked thing, a day of the week, the words a report
quotes, an amount in each currency asked for, and the news organisation someone spoke to.
When a passage sentence gives one (a number counting a word the question counts, a weekday
the question does not already hold, a quotation, "£1 billion ($1.24 billion)", "CBS News")
and repeats most of the question's other words, that sentence, quoted whole with its
citation, replaces the refusal, and then goes through every check a draft does; so it does
for a draft none of whose sentences survived the check. A draft that leaves out a part the
question's form asks for gets that sentence beside it: someone's own words ("What phrase did
she use?", "What did Healey say…?") when the draft only paraphrases them, an amount in each
currency named ("in pounds and in dollars") when it gives one, the network asked for when it
names none.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.context import Passage
from rag.facts import content_words, names, number_bindings, numbers, words

_COUNT_RE = re.compile(r"\bhow many\s+(?P<what>(?:[\w'’-]+\s+){1,4})", re.IGNORECASE)
_DAY_RE = re.compile(r"\b(?:which|what) day\b", re.IGNORECASE)
# "What phrase did she use...?", "How did Hegseth describe...?": the answer is the report's words.
_WORDING_RE = re.compile(
    r"\bwhat (?:phrase|words?|term|expression|metaphor|comparison)\b"
    r"|\bhow did\b.{1,80}?\b(?:describe|characteri[sz]e|call)\b"
    r"|\bwhat\b(?:\s+[\w'’-]+){0,3}?\s+did\b.{1,60}?\b(?:say|ask|tell)\b",
    re.IGNORECASE,
)
# "How much …, in pounds and in dollars?": each currency named is a part of the answer.
_CURRENCIES = {
    "dollar": re.compile(r"\$\s?\d|\bdollars?\b|\bUSD\b"),
    "pound": re.compile(r"£\s?\d|\bpounds?\b|\bsterling\b|\bGBP\b"),
    "euro": re.compile(r"€\s?\d|\beuros?\b|\bEUR\b"),
}
_MONEY_RE = re.compile(r"[$£€]\s?\d[\d.,]*(?:\s?(?:billion|million|bn|m)\b)?")
_ASKED_CURRENCY_RE = re.compile(r"\b(dollar|pound|euro)s\b", re.IGNORECASE)
_QUOTED_RE = re.compile(r"[\u201c\"]([^\u201d\"]{3,}?)[\u201d\"]")
_WEEKDAYS = frozenset(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
)
# The question's own form words: they say what kind of answer is wanted, not what it is about.
_FORM_WORDS = frozenset(
    content_words(
        "how many which what day of the week number phrase word term expression metaphor "
        "comparison use describe characterise characterize call say ask tell much dollars "
        "pounds euros television tv radio network channel broadcaster newspaper news agency "
        "outlet organisation organization station"
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
    currencies = asked_currencies(question)
    if currencies:

        def amounts(sentence: str) -> str | None:
            if not all(_CURRENCIES[c].search(sentence) for c in currencies):
                return None
            return " ".join(_MONEY_RE.findall(sentence)) or None

        return amounts
    if asks_for_wording(question):

        def quote(sentence: str) -> str | None:
            return " | ".join(_QUOTED_RE.findall(sentence)) or None

        return quote
    if asks_for_media(question):
        held = names(question)

        def media(sentence: str) -> str | None:
            found = (m.group(0) for m in _MEDIA_NAME_RE.finditer(sentence))
            return " | ".join(sorted({m for m in found if not names(m) <= held})) or None

        return media
    return None


# "To which television network did Trump say…?", "Which newspaper did she tell…?": the answer
# is a news organisation a sentence names, not the outlet that carried the report.
_MEDIA_Q_RE = re.compile(
    r"\b(?:which|what)\s+(?:[\w-]+\s+){0,2}?(?:broadcaster|newspaper|(?:television|tv|radio|"
    r"cable|news|media)\s+(?:network|channel|station|outlet|agency|organi[sz]ation))s?\b",
    re.IGNORECASE,
)
# A news organisation's name: a capitalised name ending in a media word ("CBS News", "Sky
# News", "The Washington Post"), or one of the agencies and broadcasters known by one word.
_MEDIA_NAME_RE = re.compile(
    r"\b(?:[A-Z][\w&'’.-]*\s+){1,3}(?:News|Times|Post|Journal|Telegraph|Guardian|Herald|"
    r"Tribune|Gazette|Radio|Television|TV|Network|Channel|Broadcasting|Press|Wire Services?)\b"
    r"|\b(?:BBC|CNN|CBS|NBC|ABC|ITV|NPR|PBS|AFP|Reuters|Bloomberg|Politico|Al Jazeera|TASS|"
    r"Interfax|Ukrinform|Euronews)\b"
)


# "Which news agency is credited as the source of the report on…?": the answer is an outlet.
_OUTLET_RE = re.compile(
    r"\b(?:which|what)\s+(?:news\s+)?(?:agency|agencies|outlet|outlets|publication|newspaper|"
    r"paper|broadcaster|wire service|news organi[sz]ation)\b"
    r"|\bwho\s+(?:reported|published|wrote)\b",
    re.IGNORECASE,
)
_OUTLET_FORM = frozenset(
    content_words(
        "which what who news agency outlet publication newspaper paper broadcaster wire service "
        "organisation organization reported published wrote credited source report story article"
    )
)


def outlet_answer(
    question: str, passages: list[Passage], min_cover: float = 0.5
) -> tuple[int, str] | None:
    """(passage number, answer) for a question asking which outlet carried a report, or None.

    The outlet is read from the article's metadata, which the passages' headers show the model.
    The report meant is the article whose passages hold every name the question gives ("the
    Altius drone deal") and repeat the most of its other subject words, at least `min_cover`
    of them. Two such articles from different outlets, or an outlet unknown, give no answer."""
    if not _OUTLET_RE.search(question):
        return None
    subject = _stems(question) - _OUTLET_FORM
    if not subject:
        return None
    asked_names = names(question)
    said: dict[str, set[str]] = {}
    named: dict[str, set[str]] = {}
    first: dict[str, int] = {}
    for n, passage in enumerate(passages, 1):
        doc_id = passage.document.doc_id
        said.setdefault(doc_id, set()).update(_stems(passage.text))
        named.setdefault(doc_id, set()).update(names(passage.text))
        first.setdefault(doc_id, n)
    cover = {d: len(subject & w) / len(subject) for d, w in said.items() if asked_names <= named[d]}
    top = max(cover.values(), default=0.0)
    if top < min_cover:
        return None
    best = [d for d, c in cover.items() if c == top]
    outlets = {passages[first[d] - 1].document.outlet for d in best}
    if len(outlets) != 1 or None in outlets:
        return None
    return first[best[0]], f"The report is from {outlets.pop()}."


def _stems(text: str) -> set[str]:
    """Content words with a plural "s" dropped: "drone deal" is about the "drones"."""
    return {w[:-1] if w.endswith("s") and len(w) > 4 else w for w in content_words(text)}


def asks_for_wording(question: str) -> bool:
    """The question asks for a report's own words (a phrase, how someone described something):
    an answer that paraphrases them has not answered it."""
    return bool(_WORDING_RE.search(question))


def asks_for_media(question: str) -> bool:
    """The question asks which news organisation someone spoke to or was reported by."""
    return bool(_MEDIA_Q_RE.search(question))


def has_quotation(text: str) -> bool:
    return bool(_QUOTED_RE.search(text))


def asked_currencies(question: str) -> list[str]:
    """The currencies a question asks an amount in ("in pounds and in dollars")."""
    return list(dict.fromkeys(m.lower() for m in _ASKED_CURRENCY_RE.findall(question)))


def incomplete(question: str, answer: str) -> bool:
    """The answer leaves out a part the question's form asks for: someone's own words (it only
    paraphrases them), the news organisation asked for, or an amount in a currency the question
    names. Such an answer gets the passage sentence that has the missing part beside it."""
    if asks_for_wording(question) and not has_quotation(answer):
        return True
    if asks_for_media(question) and not _MEDIA_NAME_RE.search(answer):
        return True
    return any(not _CURRENCIES[c].search(answer) for c in asked_currencies(question))


def found_answer(question: str, passages: list[Passage]) -> tuple[int, str] | None:
    """What answers without the model, when it declined or its draft failed the check: the
    answering sentence, else the outlet a passage header names."""
    return answering_sentence(question, passages) or outlet_answer(question, passages)


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
