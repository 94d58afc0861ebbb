"""The checkable facts of a sentence: its numbers, its names and its content words.

Shared by the support check (a claim's facts must be in its cited passage) and near-duplicate
detection (a passage that adds no new fact to one already shown is a duplicate).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
# A capitalised word, without a possessive ending ("UK's" names "UK").
_NAME_RE = re.compile(r"\b[A-Z][a-zA-Z-]*[a-zA-Z]|\b[A-Z]\b")
_WORD_RE = re.compile(r"[a-z0-9]+")
# "one" is left out: it is far more often a pronoun or "one-time", "one of" than a count.
_NUMBER_WORDS = {
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "twenty": "20",
    "thirty": "30",
    "hundred": "100",
}
_STOP = frozenset(
    {
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "not",
        "no",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "he",
        "she",
        "they",
        "them",
        "his",
        "her",
        "their",
        "there",
        "which",
        "what",
        "who",
        "whom",
        "when",
        "where",
        "why",
        "how",
        "will",
        "would",
        "can",
        "could",
        "should",
        "may",
        "might",
        "also",
        "said",
        "says",
        "according",
        "articles",
        "article",
        "passage",
        "passages",
        "source",
        "sources",
        "report",
        "reports",
    }
)
# Capitalised words that are not names.
NOT_NAMES = frozenset(
    [
        # Regions as adjectives ("Western peacekeeping plans") name no one.
        "Western",
        "Eastern",
        "Northern",
        "Southern",
        "The",
        "This",
        "That",
        "These",
        "Those",
        "It",
        "He",
        "She",
        "They",
        "In",
        "On",
        "According",
        "However",
        "Both",
        "A",
        "An",
        "As",
        "But",
        "And",
        "Also",
        "While",
        "His",
        "Her",
        "Hers",
        "Their",
        "Its",
        "Our",
        "We",
        "You",
        "I",
        "Them",
        "There",
        "Then",
        "When",
        "What",
        "Who",
        "Which",
        "Where",
        "Why",
        "How",
        "If",
        "So",
        "Yet",
        "For",
        "To",
        "At",
        "By",
        "With",
        "From",
        "After",
        "Before",
        "During",
        "Despite",
        "Although",
        "Because",
        "Since",
        "Meanwhile",
        "Additionally",
        "Furthermore",
        "Moreover",
        "No",
        "Not",
        "Some",
        "Many",
        "Most",
        "All",
        "Each",
        "Every",
        "Several",
        "Other",
        "Such",
        "Only",
        "Yes",
        "Here",
        "Instead",
        "Still",
        "Now",
        "Today",
        "Later",
        "Earlier",
    ]
)


def numbers(text: str) -> set[str]:
    found = {n.replace(",", "") for n in _NUMBER_RE.findall(text)}
    for word in _WORD_RE.findall(text.lower()):
        if word in _NUMBER_WORDS:
            found.add(_NUMBER_WORDS[word])
    return found


_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+", re.IGNORECASE)


@dataclass(frozen=True)
class Count:
    start: int  # where the number stands in the text
    end: int
    value: str  # "1000" for "1,000", "2" for "two"
    word: str  # the next content word ("drones" in "84 drones"), or ""

    @property
    def stem(self) -> str:
        """What it counts, as a stem: "84 drones" and "84 drone strikes" count one thing."""
        return self.word[:5]


def counts(text: str) -> list[Count]:
    """Each number in the text and what it counts: the stem of the next content word after it."""
    spans = list(_TOKEN_RE.finditer(text))
    tokens = [m.group().lower() for m in spans]
    found = []
    for i, (m, tok) in enumerate(zip(spans, tokens, strict=True)):
        number = tok.replace(",", "") if tok[0].isdigit() else _NUMBER_WORDS.get(tok)
        if number is None:
            continue
        after = [t for t in tokens[i + 1 : i + 4] if t not in _STOP and not t[0].isdigit()][:1]
        found.append(Count(m.start(), m.end(), number, after[0] if after else ""))
    return found


def number_bindings(text: str) -> dict[str, set[str]]:
    """What each number counts: the stem of the next content word after it ("84 drones"
    binds 84 to "drone"), so "84 sites" can be told apart from "84 drones ... 17 sites"."""
    bound: dict[str, set[str]] = {}
    for c in counts(text):
        bound.setdefault(c.value, set()).update([c.stem] if c.stem else [])
    return bound


# A currency sign or code right before an amount: "$156m", "£81.5m", "US$ 3bn", "EUR 20".
_MONEY_RE = re.compile(r"(US\$|[$£€¥]|\b(?:USD|GBP|EUR)\b)\s?(\d+(?:[.,]\d+)*)")
_CURRENCY = {"us$": "$", "usd": "$", "gbp": "£", "eur": "€"}


def currencies(text: str) -> dict[str, set[str]]:
    """Which currency each amount is in: "a $156m (£81.5m) deal" -> 156: $, 81.5: £."""
    found: dict[str, set[str]] = {}
    for sign, amount in _MONEY_RE.findall(text):
        found.setdefault(amount.replace(",", ""), set()).add(_CURRENCY.get(sign.lower(), sign))
    return found


def misbound(claim: str, evidence: str) -> bool:
    """True when the claim pins a number on something the evidence counts with another
    number ("84 sites" against "destroyed 84 drones, but 17 sites had been struck"), or
    gives an amount a currency the evidence never gives it ("£156m" against "$156m")."""
    money = currencies(evidence)
    for amount, signs in currencies(claim).items():
        if money.get(amount) and not signs & money[amount]:
            return True
    have = number_bindings(evidence)
    for number, words_after in number_bindings(claim).items():
        for word in words_after:
            elsewhere = any(word in ws for n, ws in have.items() if n != number)
            if elsewhere and word not in have.get(number, set()):
                return True
    return False


def names(text: str) -> set[str]:
    return {m.lower() for m in _NAME_RE.findall(text) if m not in NOT_NAMES}


_CAPITALISED_RUN_RE = re.compile(r"\b[A-Z][\w’'-]*(?:\s+(?:(?:of|and|for|the)\s+)?[A-Z][\w’'-]*)+")


def acronyms(text: str) -> set[str]:
    """The initials of each run of capitalised words, so "UK" and "UKIP" are found in "the
    United Kingdom" and "the UK Independence Party": a word in capitals gives all its
    letters ("UK Independence Party" -> "ukip"); every stretch of two or more words counts."""
    found: set[str] = set()
    for run in _CAPITALISED_RUN_RE.findall(text):
        parts = [re.sub(r"[’']s?$", "", w) for w in run.split() if w[0].isupper()]
        initials = [w if w.isupper() else w[0] for w in parts if w]
        for i in range(len(initials)):
            for j in range(i + 2, min(len(initials), i + 6) + 1):
                found.add("".join(initials[i:j]).lower())
    return found


def content_words(text: str) -> set[str]:
    return {w[:6] for w in _WORD_RE.findall(text.lower()) if w not in _STOP and len(w) > 2}


def words(text: str) -> set[str]:
    return set(_WORD_RE.findall(text.lower()))


def key_facts(text: str) -> set[str]:
    """Numbers and names: what a second report must repeat to say the same thing."""
    return numbers(text) | names(text)
