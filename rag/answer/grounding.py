"""Check every answer sentence against the passages it cites before a reader sees it.

Two gates, cheap first. The names-and-numbers filter: every number in the sentence must be in
its cited passages, counting what it counts there, and every name must be in the passages.
Then the judge reads meaning: the local model is asked, for each sentence, whether its cited
passages state it, and the answer is read from the "Yes"/"No" token probabilities. Shared
words prove nothing ("Italy will send troops" shares them all with "Italy has refused to send
troops"), so wording alone never passes a sentence when a judge is available. Citations that
support nothing are removed, an uncited sentence is given the passage that supports it when
there is one, and sentences nothing supports are dropped and reported.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from rag.answer.citations import (
    answer_sentences,
    is_abstention,
    markers_of,
    normalise_markers,
    strip_markers,
)
from rag.answer.countries import country_forms, in_place_of
from rag.retrieve.context import Passage
from rag.retrieve.facts import (
    NOT_NAMES,
    Count,
    acronyms,
    content_words,
    counts,
    misbound,
    names,
    numbers,
    words,
)
from rag.retrieve.question import asks_for_list, is_calendar_word, question_parts

# (claim, the passage numbers it is checked against) for each sentence, and what each of those
# passages is quoted as -> P(supported) each, or None when the model cannot be read that way.
Judge = Callable[[list[tuple[str, list[int]]], dict[int, str]], list[float] | None]

# Every verdict is logged at DEBUG with the reading behind it (`extra={"reading": ...}`), so an
# evaluation can keep what the judge said about each claim and try a stricter rule on it later
# without running the model again (`scripts/rescore_checks.py`).
log = logging.getLogger(__name__)


@dataclass
class SentenceCheck:
    text: str
    cited: list[int]
    supported: bool


@dataclass
class GroundedAnswer:
    text: str
    cited: list[int]
    sentences: list[SentenceCheck] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    # passage n -> (first, last) sentence of it that the answer leans on
    windows: dict[int, tuple[int, int]] = field(default_factory=dict)

    def carries_claims(self, n: int, text: str) -> bool:
        """Whether another article's copy of passage n states every claim that cites n in
        words: only then is it a second source for the answer, not just for the passage."""
        claims = [c.text for c in self.sentences if n in c.cited]
        return all(supports_in_words(c, text) for c in claims)


def support_strength(
    claim: str,
    evidence: str,
    similarity: float,
    min_similarity: float = 0.45,
    min_overlap: float = 0.5,
    given: frozenset[str] = frozenset(),
    asked: frozenset[str] = frozenset(),
    echoed: frozenset[str] = frozenset(),
    countries: bool = False,
) -> float | None:
    """None when the evidence does not support the claim; otherwise how strongly it does.

    Numbers and names must be in the evidence, each number counting what it counts there;
    then meaning (cosine) or wording must match. Names in `given` (the question's own, found
    in the articles) and content words in `asked` (the question's) are the user's premise
    echoed back, not claims the answer adds; the wording test reads what the answer adds.
    Wording is the stronger proof: a passage that shares most of the claim's words scores
    1 + overlap, one that only means something close scores its cosine (below 1)."""
    if not numbers(claim) - echoed <= numbers(evidence) or misbound(claim, evidence):
        return None
    evidence_words = name_forms(evidence, countries)
    missing = {name for name in names(claim) if not _named_in(name, evidence_words)}
    if missing - given:
        return None
    # Words echoed from the question are its premise; what the sentence adds must be there.
    said = content_words(claim)
    claim_words = (said - asked) or said
    overlap = len(claim_words & content_words(evidence)) / len(claim_words) if claim_words else 1.0
    if overlap >= min_overlap:
        return 1.0 + overlap
    # Meaning alone is weak proof: it is not enough once a name had to be excused.
    return similarity if similarity >= min_similarity and not missing else None


def plausible(
    claim: str,
    evidence: str,
    given: frozenset[str] = frozenset(),
    context_names: frozenset[str] | None = None,
    echoed: frozenset[str] = frozenset(),
    countries: bool = False,
) -> bool:
    """The names-and-numbers filter: nothing the claim names or counts is missing from the
    evidence, and no number counts something else there. Necessary, never sufficient.

    A sentence's first word is capitalised whatever it is ("Under the deal…", "About 20
    countries…"), so it is held to be a name only when the passages (`context_names`, by
    default the evidence's) write it as one; otherwise the judge reads it. Numbers in
    `echoed` are the question's own count of what it asks for ("which four offices…"): an
    answer repeating it ("the four offices were…") adds no number of its own. With
    `countries`, a country may be named another way than the evidence names it (`name_forms`)."""
    if not numbers(claim) - echoed <= numbers(evidence) or misbound(claim, evidence):
        return False
    if not content_words(claim) & content_words(evidence):
        return False  # shares no word at all with its evidence ("CONFIRMED."): no claim on it
    evidence_words = name_forms(evidence, countries)
    first = re.match(r"\W*([A-Za-z][\w-]*)", claim)
    opening = first.group(1).lower() if first else ""
    if opening in (names(evidence) if context_names is None else context_names):
        opening = ""  # a name the passages use: checked like any other
    missing = {
        name for name in names(claim) if name != opening and not _named_in(name, evidence_words)
    }
    return not (missing - given)


def name_forms(evidence: str, countries: bool = False) -> set[str]:
    """What a name in a claim may be found as in its evidence: the evidence's words and the
    initials of its capitalised names ("UK" for "the United Kingdom"); with `countries`, also
    the other names of the countries it names ("France" for "French", "China" for "Beijing")."""
    found = words(evidence) | acronyms(evidence)
    return found | country_forms(evidence) if countries else found


def _named_in(name: str, evidence_words: set[str]) -> bool:
    """Every part of a (lower-cased) name is in the evidence: "Kilroy-Silk" needs both."""
    return all(_has_name(part, evidence_words) for part in name.split("-"))


def _has_name(part: str, evidence_words: set[str]) -> bool:
    """The name, or a form of it a letter or two longer or shorter: "Russia" in "Russian
    President", "the Maharynskys'" in "Ihor Maharynsky", "MP" in "MPs"."""
    if part in evidence_words or part + "s" in evidence_words or not part:
        return True
    return len(part) >= 5 and any(
        (w.startswith(part) or part.startswith(w)) and len(w) >= 5 and abs(len(w) - len(part)) <= 2
        for w in evidence_words
    )


def supports_in_words(claim: str, evidence: str) -> bool:
    """Support a reader can see: the claim's numbers, names and most of its words are there."""
    return support_strength(claim, evidence, 0.0) is not None


# "The BBC News article [2] states that X", "According to the passages, X": the claim is X.
_ATTRIBUTION_RE = re.compile(
    r"^(?:(?:as\s+)?(?:according\s+to|per)\s+)?(?:the\s+|an?\s+|both\s+|all\s+|one\s+of\s+the\s+)?"
    r"(?:[A-Z][\w.&'’-]*\s+){0,4}?(?:news\s+)?"
    r"(?:articles?|reports?|passages?|sources?|stor(?:y|ies)|coverage)"
    r"(?:\s+(?:on|about|from|by|of)\s+[^,.]{1,60}?)?"
    r"(?:,\s+|\s+(?:states?|says?|said|reports?|reported|mentions?|mentioned|notes?|noted|"
    r"explains?|indicates?|suggests?|confirms?|shows?|describes?)(?:\s+that)?[,:]?\s+)",
    re.IGNORECASE,
)


def claim_text(sentence: str) -> str:
    """The checkable claim of an answer sentence: markers and any "the article states that"
    lead-in removed, so the check (and the reader) sees only what is asserted."""
    claim = re.sub(r"\s{2,}", " ", _without_markers(sentence))
    rest = _ATTRIBUTION_RE.sub("", claim, count=1)
    if rest != claim and len(rest.split()) >= 3:
        claim = rest[0].upper() + rest[1:]
    return claim


_FULL_NAME_RE = re.compile(r"\b([A-Z][a-z]+) ([A-Z][a-z]+(?:-[A-Z][a-z]+)?)\b")
# Words that stand before a surname without being a first name: "Foreign Minister Lavrov".
_BEFORE_SURNAME = frozenset(
    [
        "President",
        "Minister",
        "Secretary",
        "Chancellor",
        "Leader",
        "General",
        "Commander",
        "Envoy",
        "Ambassador",
        "Spokesman",
        "Spokeswoman",
        "Chief",
        "Premier",
        "Prince",
        "King",
        "Queen",
        "Lord",
        "Lady",
        "Sir",
        "Dame",
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "Senator",
        "Governor",
        "Mayor",
        "Pope",
        "Colonel",
        "Captain",
        "Admiral",
        "Marshal",
        "Lieutenant",
    ]
)


def mend_first_names(claim: str, evidence: str) -> str:
    """A first name the model got wrong, put right when the passages name only one person
    with that surname: a 1.5B model writes "Vladimir Lavrov" beside "Sergei Lavrov" (one
    Vladimir too many in its context), or beside a bare "Lavrov", where the first name it
    made up is dropped. The surname is the claim; a wrong first name would otherwise sink a
    sentence the passages support."""

    def mend(m: re.Match[str]) -> str:
        first, last = m.group(1), m.group(2)
        if first in _BEFORE_SURNAME or first in NOT_NAMES or m.group(0) in evidence:
            return m.group(0)
        given = {
            f
            for f in re.findall(rf"\b([A-Z][a-z]+) {re.escape(last)}\b", evidence)
            if f not in _BEFORE_SURNAME and f not in NOT_NAMES
        }
        if len(given) == 1:
            return f"{given.pop()} {last}"
        if not given and re.search(rf"\b{re.escape(last)}\b", evidence) and first not in evidence:
            return last  # the passages say only "Lavrov": the first name was the model's own
        return m.group(0)

    return _FULL_NAME_RE.sub(mend, claim)


# A four-digit year ("the 2019 election") is a date, never a count to put right.
_YEAR_RE = re.compile(r"1[89]\d\d|20\d\d")


def counted(sentences: list[str]) -> list[tuple[Count, set[str]]]:
    """Each number in the passages' sentences and its sentence's content words, read once per
    question for `mend_counts`, which asks them of every claim."""
    return [(c, content_words(s)) for s in sentences for c in counts(s)]


def mend_counts(
    claim: str, found: list[tuple[Count, set[str]]], keep: frozenset[str] = frozenset()
) -> str:
    """A count the model took from the neighbouring phrase, put right when the passages count
    that thing with one number only: a 1.5B model reads "84 drones were shot down, but 17
    sites were hit" and writes "84 sites were hit". The thing counted is the claim; its number
    is one the passages give, but for something else, and the filter would sink a sentence
    whose point the passages make. The judge still reads the mended sentence.

    Only when the sentence giving the other number holds at least as much of the rest of the
    claim as the one its number came from: "22 people were killed" beside "killed 22 ... Five
    people were injured" is about the killing, not about the five. Left as written: a number
    the passages never give (made up, not misplaced), one the question gives (`keep`), years,
    dates, and units of one or two letters ("$84m"), which count money, not things. `found`
    is `counted(the passages' sentences)`."""
    rest = content_words(claim)
    parts, at = [], 0
    for c in counts(claim):
        if len(c.word) < 3 or c.value in keep or _YEAR_RE.fullmatch(c.value):
            continue
        source = [ws for g, ws in found if g.value == c.value]
        if (
            not source
            or is_calendar_word(c.word)
            or any(g.stem == c.stem for g, _ in found if g.value == c.value)
        ):
            continue  # made up, a date, or counting what the passages count with it
        others: dict[str, list[set[str]]] = {}
        for g, ws in found:
            if g.stem == c.stem:
                others.setdefault(g.value, []).append(ws)
        if len(others) != 1:
            continue
        ((value, there),) = others.items()
        about = rest - content_words(c.word)
        if max(len(about & ws) for ws in there) >= max(len(about & ws) for ws in source):
            parts += [claim[at : c.start], value]
            at = c.end
    return "".join(parts) + claim[at:]


# A run of capitalised words: a name as a claim writes it ("Rob Da Bank", "Lord Smith").
_NAME_SPAN_RE = re.compile(r"[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*")
# What joins the items of a list in a sentence: ", ", ", and ", " and ", " or ".
_ITEM_SEP_RE = re.compile(r",\s+(?:(?:and|or)\s+)?|\s+(?:and|or)\s+")
_LEADING_NAME_RE = re.compile(r"^(?:the\s+)?" + _NAME_SPAN_RE.pattern)
_TRAILING_NAME_RE = re.compile(r"(?:\bthe\s+)?\b" + _NAME_SPAN_RE.pattern + "$")
# Longest piece between two separators still read as one item ("other allies like Turkey").
_MAX_ITEM_WORDS = 5


def prune_list(claim: str, missing: set[str]) -> str | None:
    """The claim with the items of its list that name something missing from the evidence
    left out: asked which countries did something, a small model names the ones its passage
    gives and adds others from a neighbouring passage ("Germany, Italy, and other allies like
    Turkey…"), and one wrong item would sink the right ones. The judge still reads what is
    left. None when the claim has no such list, when a missing name is outside its items,
    or when no item would be left. `missing` holds lower-cased names."""
    seps = list(_ITEM_SEP_RE.finditer(claim))
    pieces = [claim[a:b] for a, b in _spans(len(claim), seps)]
    if len(pieces) < 2:
        return None
    # The list runs from the name ending the first piece through the short pieces after it
    # to the name opening the first longer piece; separators after that are the predicate's.
    last = next(
        (i for i in range(1, len(pieces)) if len(pieces[i].split()) > _MAX_ITEM_WORDS), None
    )
    last = len(pieces) - 1 if last is None else last
    head = _TRAILING_NAME_RE.search(pieces[0])
    tail = _LEADING_NAME_RE.match(pieces[last])
    middle = pieces[1:last]
    if not head or not tail or not all(re.search(r"\b[A-Z]", p) for p in middle):
        return None
    items = [head.group(0), *middle, tail.group(0)]
    prefix = pieces[0][: head.start()]
    suffix = pieces[last][tail.end() :] + (claim[seps[last].start() :] if last < len(seps) else "")
    if _mentions(prefix + suffix, missing):
        return None
    kept = [item for item in items if not _mentions(item, missing)]
    if not kept or len(kept) == len(items):
        return None
    word = "or" if any("or" in m.group(0).split() for m in seps[:last]) else "and"
    listed = kept[0] if len(kept) == 1 else f"{', '.join(kept[:-1])} {word} {kept[-1]}"
    return prefix + listed + suffix


def _spans(length: int, seps: list[re.Match[str]]) -> list[tuple[int, int]]:
    starts = [0, *(m.end() for m in seps)]
    ends = [*(m.start() for m in seps), length]
    return list(zip(starts, ends, strict=True))


def _mentions(text: str, missing: set[str]) -> bool:
    return bool(names(text) & missing)


# How much more the judge may believe a claim with two of its names swapped before the claim
# itself is in doubt: a small judge hears the right names in the right passage and says yes to
# "B beat A" when the passage says "A beat B", but it says yes more firmly to the true order.
ROLE_MARGIN = 0.1


def role_swaps(claim: str, evidence: str, limit: int = 2, countries: bool = False) -> list[str]:
    """The claim with its first name swapped with each later one that the evidence also
    names: "Smith beat Jones" -> "Jones beat Smith". Names listed together, joined by "and"
    or commas, are left alone: "Smith, Brown and Jones won" swapped says the same thing.
    `countries` as for `plausible`: a country named another way is a name the evidence names."""
    forms = name_forms(evidence, countries)
    spans = []
    for m in _NAME_SPAN_RE.finditer(claim):
        parts, start = m.group(0).split(), m.start()
        while parts and parts[0] in NOT_NAMES:
            start += len(parts[0]) + 1
            parts = parts[1:]
        text = re.sub(r"[’']s$", "", " ".join(parts).rstrip("."))
        # A weekday or a month does nothing to anyone: swapping it tests nothing.
        if not text or is_calendar_word(text):
            continue
        if all(_has_name(w.lower().strip(".'’"), forms) for w in text.split()):
            spans.append((start, start + len(text), text))
    if len(spans) < 2:
        return []
    (a0, a1, first), swaps = spans[0], []
    for k, (b0, b1, other) in enumerate(spans[1:], 1):
        between = claim[a1:b0]
        # Only names and "and"/","/"or" between them: one list, in any order.
        listed = between
        for c0, c1, _ in reversed(spans[1:k]):
            listed = listed[: c0 - a1] + listed[c1 - a1 :]
        if other.lower() == first.lower() or re.fullmatch(r"(?:\s|,|and|or|&)*", listed):
            continue
        # Countries trade places in the form each place had ("Russia … Ukrainian drones" ->
        # "Ukraine … Russian drones"); other names trade as written.
        there, here = in_place_of(first, other) or other, in_place_of(other, first) or first
        swaps.append(claim[:a0] + there + between + here + claim[b1:])
    return swaps[:limit]


# Words by which a report holds back from stating a thing as done or true ("could take legal
# action", "was planning to appeal", "is to begin talks"). Plain English, no corpus's names.
HEDGES = frozenset(
    """may might could would should possibly potentially likely unlikely reportedly allegedly
    expected expects plan plans planned planning considering consider proposed proposal intend
    intends hope hopes aim aims believed believes thought suggest suggests suggesting suggested
    if whether talks set due""".split()  # noqa: SIM905 (a list of 40 words reads better so)
)


def hedges(text: str) -> bool:
    return bool(HEDGES & words(text))


def hedged_away(claim: str, quote: str) -> bool:
    """Whether the quote hedges what the claim, which does not hedge, may state as fact: the
    claims worth reading again as a possibility. A claim that hedges itself ("reportedly
    warned", "held talks") says no more than its quote, and is left alone."""
    return hedges(quote) and not hedges(claim)


# How much more the judge may believe a claim said as a possibility before the claim itself is
# in doubt, when its quote hedges and it does not. A small judge says yes to "the firm has
# appealed" when its passage says the firm "was planning to appeal", but it says yes more
# firmly still to "It is possible that the firm has appealed"; to a claim its passage states as
# done, it gives both about the same belief (measured on the labelled pairs: docs/quality.md).
HEDGE_MARGIN = 0.2


def as_possible(claim: str, names_: frozenset[str] = frozenset()) -> str:
    """The claim said as a possibility: "The firm has appealed." -> "It is possible that the
    firm has appealed." The first word keeps its capital when it is a name (`names_`,
    lower-cased) or an acronym."""
    first = claim.split(" ", 1)[0]
    bare = re.sub(r"\W+$", "", first)
    keep = bare.lower() in names_ or (len(bare) > 1 and bare[:2].isupper())
    body = claim if keep or not claim else claim[0].lower() + claim[1:]
    return "It is possible that " + body


class Grounder:
    """Checks an answer one sentence at a time, so a stream can show each sentence as soon as
    it passes while the model writes the next. `ground_answer` is the same check over a whole
    answer; both give the same result for the same sentences."""

    def __init__(
        self,
        passages: list[Passage],
        encode: Callable[[list[str]], np.ndarray],
        question: str = "",
        judge: Judge | None = None,
        threshold: float = 0.5,
        role_check: bool = True,
        hedge_check: bool = True,
        articles: Mapping[str, str] | None = None,
    ) -> None:
        self.passages, self.encode, self.judge, self.threshold = passages, encode, judge, threshold
        self.role_check, self.hedge_check = role_check, hedge_check
        self.evidence = [f"{p.document.outlet or ''} {p.document.title} {p.text}" for p in passages]
        in_context = name_forms(" ".join(self.evidence))
        self.given = frozenset(n for n in names(question) if _named_in(n, in_context))
        # The whole text of each passage's article (doc_id -> text), when known: a name of the
        # question is excused only in a passage whose article names it somewhere.
        self.articles = articles
        self._article_forms: dict[str, set[str]] = {}
        self.asked = frozenset(content_words(question))
        self.everything = " ".join(self.evidence)
        self.counted = counted([u.text for p in passages for u in p.sentences])
        self.known = frozenset(names(self.everything))
        # "Which four offices did she hold?": "four" is the question's count of the items.
        self.question_numbers = frozenset(numbers(question))
        self.echoed = self.question_numbers if asks_for_list(question) else frozenset()
        self.several_parts = bool(question_parts(question))
        self._passage_vecs: np.ndarray | None = None
        self._seen: set[str] = set()
        self.kept: list[SentenceCheck] = []
        self.dropped: list[str] = []

    def _fits(self, claim: str, ns: list[int], countries: bool = False) -> bool:
        given = self._given_in(ns)
        return plausible(claim, self._joint(ns), given, self.known, self.echoed, countries)

    def _given_in(self, ns: list[int]) -> frozenset[str]:
        """The question's names excused in a claim citing passages `ns`. A passage may call
        the person a question names "he" ("He also commanded a salary of…"), so a name the
        passage lacks is excused, but only where its article names that person somewhere:
        an article that never names them says nothing about them, whoever "he" is there."""
        if self.articles is None or not self.given:
            return self.given
        docs = {self.passages[n - 1].document.doc_id for n in ns}
        forms = [self._forms_of(d) for d in docs]
        return frozenset(n for n in self.given if any(_named_in(n, f) for f in forms))

    def _forms_of(self, doc_id: str) -> set[str]:
        # Read once per article and answer: each claim asks again for every way of citing.
        if doc_id not in self._article_forms:
            self._article_forms[doc_id] = name_forms((self.articles or {}).get(doc_id, ""))
        return self._article_forms[doc_id]

    def _joint(self, ns: list[int]) -> str:
        return " ".join(self.evidence[n - 1] for n in ns)

    def check_all(self, sentences: list[str]) -> list[SentenceCheck | None]:
        """Each sentence as it may be shown (its supporting citations), or None when it is
        dropped: unsupported, a bare word, or a repeat of an earlier sentence. Those the
        filter passes go to the judge in one call (one turn of the model, each sentence with
        a prompt of its own)."""
        results: list[SentenceCheck | None] = [None] * len(sentences)
        drops: dict[int, str] = {}
        asked: list[tuple[int, str, list[int], np.ndarray, bool]] = []
        for i, sentence in enumerate(sentences):
            claim = mend_first_names(claim_text(sentence), self.everything)
            claim = mend_counts(claim, self.counted, self.question_numbers)
            key = " ".join(content_words(claim)) or claim.lower()
            if key in self._seen:
                continue  # a small model repeating itself says nothing new the second time
            self._seen.add(key)
            if len(re.findall(r"\w+", claim)) < 2 or not self.passages:
                drops[i] = claim  # one bare word ("CONFIRMED") states nothing to check
                continue
            chosen, sims, countries = self._candidates(sentence, claim)
            # A list with an item its passages never name: the other items may still hold.
            pruned = None if chosen else self._pruned(sentence, claim, sims)
            if pruned:
                chosen, sims, countries = self._candidates(sentence, pruned)
                claim = pruned if chosen else claim  # a drop reports what the model wrote
            if chosen:
                asked.append((i, claim, chosen, sims, countries))
            else:
                drops[i] = claim
        items = [(claim, chosen) for _, claim, chosen, _, _ in asked]
        # Each claim with two of its names swapped, read in the same call: if the judge
        # believes a swapped claim more than the claim, the roles are the wrong way round.
        # Each right after its claim: its prompt differs from the claim's only from the
        # statement on, so llama.cpp's cache spares it the passages and quotes.
        swaps = [
            role_swaps(claim, self._joint(chosen), countries=countries) if self.role_check else []
            for _, claim, chosen, _, countries in asked
        ]
        quotes: dict[int, str] = self._quotes(items) if self.judge and items else {}
        # And, when its quote hedges and it does not, said as a possibility: a passage that only
        # says it may happen is believed more of that than of the claim (`HEDGE_MARGIN`).
        possibles = [
            [as_possible(claim, self.known)]
            if self.hedge_check
            and quotes
            and hedged_away(claim, " ".join(quotes[n] for n in chosen))
            else []
            for claim, chosen in items
        ]
        readings = [
            (text, chosen)
            for (claim, chosen), ss, ps in zip(items, swaps, possibles, strict=True)
            for text in [claim, *ss, *ps]
        ]
        read = self.judge(readings, quotes) if self.judge and items else None
        # Per claim: its own P(yes), then its swaps', then its possible form's.
        groups = None
        if read is not None:
            at = iter(read)
            groups = [
                [next(at) for _ in range(1 + len(ss) + len(ps))]
                for ss, ps in zip(swaps, possibles, strict=True)
            ]
        for k, (i, claim, chosen, sims, countries) in enumerate(asked):
            if groups is not None:
                own, *others = groups[k]
                swapped, possible = others[: len(swaps[k])], others[len(swaps[k]) :]
                ok = (
                    own >= self.threshold
                    and all(v <= own + ROLE_MARGIN for v in swapped)
                    and all(v <= own + HEDGE_MARGIN for v in possible)
                )
            else:
                # No judge to read meaning: the older test of wording or close meaning.
                best = float(max(sims[n - 1] for n in chosen))
                strength = support_strength(
                    claim,
                    self._joint(chosen),
                    best,
                    given=self._given_in(chosen),
                    asked=self.asked,
                    echoed=self.echoed,
                    countries=countries,
                )
                ok = strength is not None
            if ok:
                results[i] = SentenceCheck(claim, chosen, True)
            else:
                drops[i] = claim
            if groups is not None:
                _log_reading(claim, chosen, quotes, groups[k], ok, len(possibles[k]), countries)
        for i in sorted(drops.keys() - {i for i, *_ in asked}):
            _log_reading(drops[i], [], {}, None, False)  # the filter's drop: never judged
        self.kept += [r for r in results if r is not None]
        self.dropped += [drops[i] for i in sorted(drops)]
        return results

    def _pruned(self, sentence: str, claim: str, sims: np.ndarray) -> str | None:
        """The claim without the list items that name what its passages lack (`prune_list`),
        for a claim no choice of citations passes: its own citations', or else the closest
        passage's."""
        cited = [n for n in markers_of(sentence) if 1 <= n <= len(self.passages)]
        ns = cited or [int(np.argmax(sims)) + 1]
        evidence = name_forms(self._joint(ns), countries=True)
        missing = {n for n in names(claim) if not _named_in(n, evidence)} - self._given_in(ns)
        return prune_list(claim, missing) if missing else None

    def _quotes(self, items: list[tuple[str, list[int]]]) -> dict[int, str]:
        """What the judge is shown of each cited passage: the sentences the claims citing it
        lean on (`quote_window`). A quote costs prompt tokens, and the judge reads it against
        the claims, so it holds what proves or disproves them and little else."""
        windows: dict[int, tuple[int, int]] = {}
        for claim, cited in items:
            for n in cited:
                found = quote_window(claim, self.passages[n - 1], self.given, self.asked)
                windows[n] = merge_windows(windows.get(n), found)
        return {
            n: " ".join(u.text for u in self.passages[n - 1].sentences[first : last + 1])
            for n, (first, last) in sorted(windows.items())
        }

    def _candidates(self, sentence: str, claim: str) -> tuple[list[int], np.ndarray, bool]:
        """The cheap filter: the citations worth asking the judge about (none: dropped), the
        claim's similarity to each passage, and whether a country had to be found by another
        of its names ("France" in a passage saying "French"). Each way of choosing is tried
        as written first, then with a country's other names, before the next way: the
        passage the model cited, naming a country its own way, beats a re-cited one."""
        if self._passage_vecs is None:
            self._passage_vecs = self.encode([p.text for p in self.passages])
        sims = (self.encode([claim]) @ self._passage_vecs.T)[0]
        as_written = self._choices(sentence, claim, sims, countries=False)
        any_name = self._choices(sentence, claim, sims, countries=True)
        # In step: a country's other names are looked up only where the claim as written fails.
        for strict in as_written:
            if strict:
                return strict, sims, False
            loose = next(any_name)
            if loose:
                return loose, sims, True
        return [], sims, False

    def _choices(
        self, sentence: str, claim: str, sims: np.ndarray, countries: bool
    ) -> Iterator[list[int]]:
        """The citations each way of choosing them gives, in order of preference."""
        passages = self.passages

        def fits(claim: str, ns: list[int]) -> bool:
            return self._fits(claim, ns, countries)

        cited = [n for n in markers_of(sentence) if 1 <= n <= len(passages)]
        yield [n for n in cited if fits(claim, [n])]
        chosen: list[int] = []
        if cited and fits(claim, cited):
            # Only the citations the support needs: one whose leaving keeps the rest
            # plausible adds nothing, least similar first.
            chosen = list(cited)
            for n in sorted(cited, key=lambda n: float(sims[n - 1])):
                rest = [m for m in chosen if m != n]
                if rest and fits(claim, rest):
                    chosen = rest
        yield chosen
        ranked = [int(j) + 1 for j in np.argsort(-sims)]  # passage numbers, closest first
        order = ranked[:3]
        # Re-cite: the most similar passage that names and counts what the claim does.
        yield [n for n in order if fits(claim, [n])][:1]
        # A sentence that joins two passages of one article ("Jane Roe" named in one,
        # "Ms Roe started at 15" in another): its citations plus the closest passage of
        # the same article. Never of another article: a "Ms Roe" there may be someone else.
        base = cited or order[:1]
        docs = {passages[n - 1].document.doc_id for n in base}
        yield next(
            (
                [*base, n]
                for n in ranked
                if n not in base
                and passages[n - 1].document.doc_id in docs
                and fits(claim, [*base, n])
            ),
            [],
        )
        # A two-part question answered in one sentence whose parts come from two reports
        # ("died in Peru" in one, "aged 65" in the other): the two closest passages that
        # together name and count all it does. The judge then reads whether they state
        # it. Not for one-part questions: there a name completed from another report
        # ("Mr Roe" here, "Tom Roe" there) may join two different people.
        pairs = [(a, b) for k, a in enumerate(order) for b in order[k + 1 :]]
        several = self.several_parts
        yield next((list(p) for p in pairs if several and fits(claim, list(p))), [])

    def result(self) -> GroundedAnswer:
        kept = self.kept
        text = " ".join(_with_markers(c.text, c.cited) for c in kept)
        cited_order = list(dict.fromkeys(n for c in kept for n in c.cited))
        windows: dict[int, tuple[int, int]] = {}
        for c in kept:
            for n in c.cited:
                found = support_window(c.text, self.passages[n - 1], self.given, self.asked)
                windows[n] = merge_windows(windows.get(n), found)
        return GroundedAnswer(
            text=text,
            cited=cited_order,
            sentences=list(kept),
            dropped=list(self.dropped),
            windows=windows,
        )


class DraftChecker:
    """Splits a growing draft into sentences and checks each once the next has begun (only
    then is it complete: "[2]" may still follow its full stop). The sentences it has taken
    are fixed, so a stream and the final answer are made of the same ones.

    `answers(text)` is the test of the answer as a whole (does it give what was asked?).
    Checked sentences are held back until the ones so far pass it, so a stream never shows a
    near miss that the answer then withdraws; once they pass, each new one is released as
    soon as it is checked."""

    def __init__(
        self,
        n_passages: int,
        grounder: Grounder | None = None,
        answers: Callable[[str], bool] | None = None,
    ) -> None:
        self.n_passages = n_passages
        self.grounder = grounder
        self.answers = answers
        self.answered = answers is None
        self.taken: list[str] = []
        # Sentences that say something; "The articles don't say when." answers no part.
        self.said: list[str] = []
        self._held: list[SentenceCheck] = []

    def feed(self, draft: str, final: bool = False) -> list[SentenceCheck]:
        """The newly released sentences (all that remain when `final`); unchecked ones (no
        grounder) pass as written, with the citations they give."""
        text, _ = normalise_markers(draft, self.n_passages)
        sentences = answer_sentences(text)
        complete = sentences if final else sentences[:-1]
        new = complete[len(self.taken) :]
        self.taken += new
        said = [s for s in new if not is_abstention(s)]
        self.said += said
        if self.grounder is None:
            passed = [SentenceCheck(_without_markers(s), markers_of(s), False) for s in said]
        else:
            passed = [c for c in self.grounder.check_all(said) if c is not None]
        if self.answered or not passed:
            return passed
        self._held += passed
        assert self.answers is not None
        if not self.answers(" ".join(_with_markers(c.text, c.cited) for c in self._held)):
            return []
        self.answered, released, self._held = True, self._held, []
        return released


def _log_reading(
    claim: str,
    cited: list[int],
    quotes: dict[int, str],
    read: list[float] | None,
    kept: bool,
    possible: int = 0,
    countries: bool = False,
) -> None:
    """`read`: the claim's P(yes), its swaps', then (the last `possible`) its possible form's;
    `countries`: whether a country had to be found by another of its names."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    own, *others = read or [None]
    swapped, possibles = others[: len(others) - possible], others[len(others) - possible :]
    reading = {
        "claim": claim,
        "cited": cited,
        "quote": " ".join(quotes.get(n, "") for n in cited),
        "p_yes": None if own is None else round(own, 4),
        "swapped": [round(v, 4) for v in swapped],
        "possible": [round(v, 4) for v in possibles],
        "kept": kept,
        "countries": countries,
    }
    log.debug(
        "%s %r: P(yes) %s",
        "kept" if kept else "dropped",
        claim,
        reading["p_yes"],
        extra={"reading": reading},
    )


def _without_markers(sentence: str) -> str:
    body = strip_markers(sentence).strip()
    return re.sub(r"\s+([.,;:!?])", r"\1", body)


def ground_answer(
    answer: str,
    passages: list[Passage],
    encode: Callable[[list[str]], np.ndarray],
    question: str = "",
    judge: Judge | None = None,
    threshold: float = 0.5,
) -> GroundedAnswer:
    sentences = answer_sentences(answer)
    if not sentences or not passages:
        return GroundedAnswer(text="", cited=[], dropped=sentences)
    grounder = Grounder(passages, encode, question, judge, threshold)
    grounder.check_all(sentences)
    return grounder.result()


def with_markers(check: SentenceCheck) -> str:
    """A checked sentence as shown: its claim with the citations that support it."""
    return _with_markers(check.text, check.cited)


def support_window(
    claim: str,
    passage: Passage,
    given: frozenset[str] = frozenset(),
    asked: frozenset[str] = frozenset(),
) -> tuple[int, int]:
    """The fewest consecutive sentences of the passage whose words support the claim on their
    own (numbers, names and most content words), so a citation quotes what proves the
    sentence rather than the whole passage. When no run shorter than the passage does it by
    wording alone, the answer leaned on meaning, and the whole passage is the span."""
    header = f"{passage.document.outlet or ''} {passage.document.title}"
    units = passage.sentences
    for size in range(1, len(units)):
        best: tuple[float, int] | None = None
        for first in range(len(units) - size + 1):
            text = " ".join(u.text for u in units[first : first + size])
            # Similarity 0: only the wording can pass a window.
            strength = support_strength(claim, f"{header} {text}", 0.0, given=given, asked=asked)
            if strength is not None and (best is None or strength > best[0]):
                best = (strength, first)
        if best is not None:
            return best[1], best[1] + size - 1
    return 0, len(units) - 1


def quote_window(
    claim: str,
    passage: Passage,
    given: frozenset[str] = frozenset(),
    asked: frozenset[str] = frozenset(),
) -> tuple[int, int]:
    """The sentences of the passage to quote to the judge for the claim: the support window,
    widened to every sentence holding a word of the claim the window lacks. A judge shown
    part of what a claim joins ("reopened" here, "paid by the city" two sentences on) would
    refuse it for what it was not shown."""
    first, last = support_window(claim, passage, given, asked)
    units = passage.sentences
    shown = content_words(" ".join(u.text for u in units[first : last + 1]))
    missing = content_words(claim) - shown
    for i, unit in enumerate(units):
        if missing & content_words(unit.text):
            first, last = min(first, i), max(last, i)
    return first, last


def merge_windows(a: tuple[int, int] | None, b: tuple[int, int]) -> tuple[int, int]:
    return b if a is None else (min(a[0], b[0]), max(a[1], b[1]))


def _strongest(strengths: dict[int, float | None]) -> list[int]:
    """The citations that support a sentence on their own, in the given order. When one shares
    the sentence's wording, those that only mean something close are dropped: a reader checks
    a citation by reading it, and the one with the words is the one that shows it."""
    ok = {n: v for n, v in strengths.items() if v is not None}
    if any(v >= 1.0 for v in ok.values()):
        ok = {n: v for n, v in ok.items() if v >= 1.0}
    return list(ok)


def _with_markers(claim: str, cited: list[int]) -> str:
    marks = "".join(f"[{n}]" for n in cited)
    body = claim.rstrip()
    if body and body[-1] in ".!?":
        return f"{body[:-1]} {marks}{body[-1]}"
    return f"{body} {marks}"
