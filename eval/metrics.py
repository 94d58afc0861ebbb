"""Deterministic, offline scoring of answers against the golden set.

Every metric is a mean over per-question values, so a bootstrap over questions gives its 95%
interval. Crashes and unparseable answers are scored as failures, never dropped.

Citation support follows ALCE (Gao et al., 2023): a sentence is supported when the concatenation
of its cited passages entails it; a citation is irrelevant when it neither supports the sentence
alone nor is needed (removing it keeps the rest supporting). Entailment here is a labelled
lexical/numeric stand-in, not an NLI model: every number in the sentence must appear in the
cited text, and most of its content words must too.
"""

from __future__ import annotations

import random
import re
import statistics
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.citations import strip_markers

SUPPORT_CHECKER = (
    "lexical-numeric v2: all numbers in the sentence occur in the cited text and >= 60% of its "
    "content words (stemmed, stopwords and possessive 's removed, curly apostrophes read as "
    "straight) occur there"
)

_STOPWORDS = set(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
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
        "being",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "not",
        "no",
        "nor",
        "so",
        "than",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "it's",
        "he",
        "she",
        "they",
        "them",
        "his",
        "her",
        "their",
        "there",
        "here",
        "we",
        "you",
        "i",
        "me",
        "my",
        "our",
        "your",
        "who",
        "whom",
        "which",
        "what",
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
        "must",
        "shall",
        "also",
        "about",
        "into",
        "over",
        "after",
        "before",
        "said",
        "says",
        "say",
        "according",
        "while",
        "during",
        "up",
        "down",
        "out",
        "off",
        "very",
        "just",
        "only",
        "such",
        "other",
        "some",
        "any",
        "all",
        "each",
        "both",
        "more",
        "most",
        "many",
        "much",
        "one",
        "said",
        "told",
    ]
)
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_MARKER_RE = re.compile(r"\[(\d+)\]")


# ---- text helpers ------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation) | {"“", "”", "‘", "’"})
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _stem(word: str) -> str:
    for suffix in ("ing", "edly", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    # v1 read the articles' "Ukraine’s" as "ukraine" + "s" and an answer's "Ukraine's" as
    # "ukraine's", so the same word never matched; both are "ukraine" now.
    text = text.lower().replace("’", "'").replace("‘", "'")
    found = (w.removesuffix("'s") for w in _WORD_RE.findall(text))
    return {_stem(w) for w in found if w not in _STOPWORDS}


def numbers_in(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER_RE.findall(text)}


def alias_found(alias: str, text: str) -> bool:
    """Case-insensitive match that starts on a word boundary ("US" never matches "thus").

    The end is bounded only where a loose end would mislead: a number must not run on into
    more digits ("22" is not "224", but "600" is in "600m"), and a short word (<= 3 letters,
    "US", "UK") must end there. Longer aliases may be stems ("militar" in "militarily").
    """
    a = alias.strip()
    if not a:
        return False
    left = r"(?<!\w)" if a[0].isalnum() else ""
    if a[-1].isdigit():
        right = r"(?![\d])(?![.,]\d)"
    elif a[-1].isalpha() and len(a) <= 3:
        right = r"(?![a-z])"
    else:
        right = ""
    return re.search(left + re.escape(a) + right, text, re.IGNORECASE) is not None


def answer_present(answer: str, gold: Sequence[Sequence[str]]) -> bool:
    return bool(gold) and all(any(alias_found(a, answer) for a in group) for group in gold)


def token_f1(prediction: str, reference: str) -> float:
    pred = normalize(prediction).split()
    ref = normalize(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = Counter(pred) & Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


# ---- support (ALCE, lexical stand-in) -----------------------------------------------------------


def entails(passage: str, claim: str) -> bool:
    claim_text = strip_markers(claim)
    nums = numbers_in(claim_text)
    if nums and not nums <= numbers_in(passage):
        return False
    words = content_words(claim_text)
    if not words:
        return True
    have = content_words(passage)
    return len(words & have) / len(words) >= 0.6


@dataclass
class SupportScore:
    sentences: int
    supported: int
    citations: int
    relevant: int


def citation_support(sentences: Sequence[str], passages: dict[int, str]) -> SupportScore:
    """ALCE citation recall/precision counts for one answer."""
    supported = cites = relevant = 0
    for sentence in sentences:
        ns = [n for n in dict.fromkeys(int(m) for m in _MARKER_RE.findall(sentence))]
        texts = [passages[n] for n in ns if n in passages]
        ok = bool(texts) and entails(" ".join(texts), sentence)
        supported += ok
        for n in ns:
            cites += 1
            if n not in passages:
                continue
            alone = entails(passages[n], sentence)
            others = [passages[m] for m in ns if m != n and m in passages]
            needed = ok and not (others and entails(" ".join(others), sentence))
            relevant += alone or needed
    return SupportScore(len(sentences), supported, cites, relevant)


# ---- aggregation --------------------------------------------------------------------------------


@dataclass
class Interval:
    mean: float | None
    low: float | None
    high: float | None
    n: int

    def fmt(self, pct: bool = False) -> str:
        if self.mean is None:
            return "n/a"
        if pct:
            return f"{self.mean:.2f} [{self.low:.2f}, {self.high:.2f}]"
        return f"{self.mean:.2f} [{self.low:.2f}, {self.high:.2f}]"


def bootstrap(values: Sequence[float], rounds: int = 2000, seed: int = 13) -> Interval:
    vals = [float(v) for v in values]
    if not vals:
        return Interval(None, None, None, 0)
    rng = random.Random(seed)
    n = len(vals)
    means = sorted(sum(rng.choice(vals) for _ in range(n)) / n for _ in range(rounds))
    return Interval(
        statistics.fmean(vals), means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1], n
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    vals = sorted(values)
    idx = min(len(vals) - 1, max(0, round(q * (len(vals) - 1))))
    return vals[idx]
