"""The checkable facts of a sentence: its numbers, its names and its content words.

Shared by the support check (a claim's facts must be in its cited passage) and near-duplicate
detection (a passage that adds no new fact to one already shown is a duplicate).
"""

from __future__ import annotations

import re

_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
# A capitalised word, without a possessive ending ("UK's" names "UK").
_NAME_RE = re.compile(r"\b[A-Z][a-zA-Z-]*[a-zA-Z]|\b[A-Z]\b")
_WORD_RE = re.compile(r"[a-z0-9]+")
_NUMBER_WORDS = {
    "one": "1",
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
_NOT_NAMES = {
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
}


def numbers(text: str) -> set[str]:
    found = {n.replace(",", "") for n in _NUMBER_RE.findall(text)}
    for word in _WORD_RE.findall(text.lower()):
        if word in _NUMBER_WORDS:
            found.add(_NUMBER_WORDS[word])
    return found


def names(text: str) -> set[str]:
    return {m.lower() for m in _NAME_RE.findall(text) if m not in _NOT_NAMES}


def content_words(text: str) -> set[str]:
    return {w[:6] for w in _WORD_RE.findall(text.lower()) if w not in _STOP and len(w) > 2}


def words(text: str) -> set[str]:
    return set(_WORD_RE.findall(text.lower()))


def key_facts(text: str) -> set[str]:
    """Numbers and names: what a second report must repeat to say the same thing."""
    return numbers(text) | names(text)
