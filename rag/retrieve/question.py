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


# Runs of capitalised words: after a part's first word, the names it uses.
_NAMED_RE = re.compile(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")


def part_queries(question: str) -> list[str]:
    """The question's parts as search queries, each able to stand alone: a later part that
    names no one ("…, and how old was he?") is searched with the names the other parts use,
    or it would find any sentence about anyone's age."""
    parts = question_parts(question)
    if not parts:
        return []
    named = [_NAMED_RE.findall(p.split(maxsplit=1)[-1]) if " " in p else [] for p in parts]
    queries = []
    for i, part in enumerate(parts):
        if named[i]:
            queries.append(part)
            continue
        others = list(dict.fromkeys(n for j, ns in enumerate(named) if j != i for n in ns))
        queries.append(f"{part} {' '.join(others)}".strip())
    return queries


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


# "how many…", "how much…", "what share of…", "what is the value of…": the answer is a figure.
_FIGURE_RE = re.compile(
    r"\b(?:how (?:many|much)"
    r"|what (?:percentage|share|proportion|fraction)"
    r"|what (?:is|was|are|were|will be) the (?:number|value|total|size|cost|amount|price|sum)"
    r")\b",
    re.IGNORECASE,
)
# "on what date…", "from what date…", "in which year…": the answer is a calendar date or year.
_DATE_RE = re.compile(r"\b(?:what|which) (?:calendar )?(?:date|day of the month|year)\b", re.I)
_MONTH_RE = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November"
    r"|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\b"
)
# Counts written as words; "one" is left out, being far more often a pronoun.
_COUNT_RE = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|thirty"
    r"|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?"
    r"|dozens?|scores|half|none|no one|nobody|a third|a quarter)\b",
    re.IGNORECASE,
)
_DIGITS_RE = re.compile(r"\d+(?:[.,]\d+)*")
# "what share of GDP…": a sum of money is a figure, but not a share.
_SHARE_RE = re.compile(r"\bwhat (?:percentage|share|proportion|fraction)\b", re.IGNORECASE)
_PART_RE = re.compile(
    r"%|\bper ?cent|\bpercentage\b|\b(?:half|halves|thirds?|quarters?|fifths?|tenths?)\b"
    r"|\b\d+ (?:in|out of) (?:every )?\d+\b",
    re.IGNORECASE,
)


def asks_for_figure(question: str) -> bool:
    """Whether a one-part question asks for a number or a calendar date."""
    return not question_parts(question) and bool(
        _FIGURE_RE.search(question) or _DATE_RE.search(question)
    )


def gives_figure(question: str, answer: str) -> bool:
    """Whether the answer holds the figure a figure question asks for, beyond the question's
    own: asked how many were injured, "the strike killed 23 [1]" has a number, but asked how
    many of the 24 missiles were shot down, "Russia fired 24 missiles [1]" repeats the question's.
    Asked for a date, a month or a number will do; a weekday is not a date. Asked for a
    share, a sum is not one: "what share of GDP" needs a percentage or a fraction."""
    if _SHARE_RE.search(question):
        return bool(_PART_RE.search(answer))
    asked = set(_DIGITS_RE.findall(question))
    if any(n not in asked for n in _DIGITS_RE.findall(answer)):
        return True
    if _DATE_RE.search(question) and not _FIGURE_RE.search(question):
        return any(m.group().lower() not in question.lower() for m in _MONTH_RE.finditer(answer))
    said = {m.group().lower() for m in _COUNT_RE.finditer(question)}
    return any(m.group().lower() not in said for m in _COUNT_RE.finditer(answer))


# "what is the name of…", "what was her first name?", "name the…": the answer is a name.
_NAME_ASKED_RE = re.compile(
    r"\bwhat (?:is|was|are|were) (?:the|his|her|its|their) (?:\w+ )?names?\b|^name the\b",
    re.IGNORECASE,
)
_CAPITALISED_RE = re.compile(r"\b[A-Z][\w'’-]*")
_NOT_NAMES = frozenset(["the", "a", "an", "his", "her", "its", "their", "he", "she", "it", "they"])
_WEEKDAY_RE = re.compile(r"^(?:mon|tues|wednes|thurs|fri|satur|sun)day$")


def asks_for_name(question: str) -> bool:
    """Whether a one-part question asks for someone's or something's name."""
    return not question_parts(question) and bool(_NAME_ASKED_RE.search(question.strip()))


def gives_name(question: str, answer: str) -> bool:
    """Whether the answer names something the question does not: asked for a minister's name,
    "the minister called the idea unacceptable [1]" is true of the minister but names no one."""
    asked = {_bare(w) for w in re.findall(r"[\w'’-]+", question)}
    for m in _CAPITALISED_RE.finditer(answer):
        word = _bare(m.group())
        if word in asked or word in _NOT_NAMES or is_calendar_word(m.group()):
            continue
        return True
    return False


def is_calendar_word(word: str) -> bool:
    """A weekday or a month ("Tuesdays", "March"): capitalised, but no one's name."""
    bare = _bare(word)
    return bool(_WEEKDAY_RE.match(bare.removesuffix("s")) or _MONTH_RE.fullmatch(word.title()))


def _bare(word: str) -> str:
    """The word without a possessive ("Ross's" and "Ross" are one name), lower-cased."""
    return re.sub(r"['’]s?$", "", word).lower()
