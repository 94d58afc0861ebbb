"""Notice when the passages behind an answer disagree on the fact that was asked.

News rewrites disagree in three checkable ways: who holds a title ("UK Prime Minister Rishi
Sunak" in one report, "Prime Minister Sir Keir Starmer" in another; "Chinese President Vladimir
Putin" against "Russian President Vladimir Putin"), how many of something there were ("over
500 drones" against "84 drones"), and who did something ("He [Trump] has also threatened to
punish the Russian leader" against "Putin has vowed ... to punish the Russian leader"). All are
read from the article text itself, never from the model, and only reported when the question
asks about that title, person, quantity or act, so an unrelated answer is not cluttered with
disagreements nobody asked about. For a person's title the other side may be elsewhere in an
article the passages came from; its sentence is then cited as an extra numbered passage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from rag.context import Passage
from rag.facts import content_words, words
from rag.store import DocumentRecord, Unit

_TITLE_WORDS = frozenset(["title", "described", "role", "position", "job"])
_ROLES = (
    "Prime Minister",
    "Foreign Minister",
    "Defence Minister",
    "Defence Secretary",
    "Defense Secretary",
    "Foreign Secretary",
    "Home Secretary",
    "Secretary of State",
    "Secretary-General",
    "Chancellor",
    "President",
)
_ROLE_RE = "|".join(re.escape(r) for r in _ROLES)
_NAME = r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
_TITLE_RE = re.compile(
    rf"(?:\b(?P<former>former|ex-|late|then)\s+)?"
    rf"(?:\b(?P<qual>[A-Z][A-Za-z]+|[A-Z]{{2,3}})(?:['\u2019]s)?\s+)?"
    rf"\b(?P<role>{_ROLE_RE})\s+"
    rf"(?P<person>(?:Sir\s+|Dame\s+)?{_NAME}(?:\s+(?:von\s+der\s+|de\s+)?{_NAME}){{0,2}})"
)
# A capitalised word before a title that is not a country or body.
_NOT_QUALIFIERS = {"The", "A", "An", "Then", "Former", "Late", "Acting", "Deputy", "Vice", "As"}
_HOW_MANY_RE = re.compile(r"\bhow many\s+(?:\w+\s+){0,2}?(?P<noun>[a-z]+s)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Claim:
    value: str  # what this report says: "Rishi Sunak", "Chinese President", "500"
    passage: int  # 1-based passage number, for the [n] marker
    unit: Unit  # the sentence that says it (exact span)
    words: str = ""  # the report's own words for it: "UK Prime Minister Rishi Sunak"
    # The sentence before, when it names who "He" in `unit` is: cited with it.
    antecedent: Unit | None = None


@dataclass(frozen=True)
class Conflict:
    kind: str  # "title" | "quantity" | "actor"
    topic: str  # "UK Prime Minister", "Vladimir Putin's title", "drones"
    claims: list[Claim]


@dataclass(frozen=True)
class _Title:
    qualifier: str | None
    raw_qualifier: str | None
    role: str
    person: str
    passage: int
    unit: Unit
    words: str

    @property
    def person_words(self) -> set[str]:
        return {w.lower() for w in self.person.split() if w not in ("Sir", "Dame")}


def _qualifier(raw: str | None, possessive: bool = False) -> str | None:
    if not raw or raw in _NOT_QUALIFIERS:
        return None
    if possessive and raw.isupper():
        return raw.lower()  # "UK's Prime Minister"; "Starmer's Prime Minister" is no title
    return None if possessive else raw.lower()


def _titles(units: list[tuple[int, Unit]]) -> list[_Title]:
    found = []
    for n, unit in units:
        for m in _TITLE_RE.finditer(unit.text):
            if m.group("former"):
                continue  # "former Russian President Dmitry Medvedev" holds no title now
            possessive = bool(m.group("qual")) and m.end("qual") < m.start("role") - 1
            qual = _qualifier(m.group("qual"), possessive)
            raw = m.group("qual") if qual else None
            words = m.group(0) if qual else m.group(0)[m.start("role") - m.start() :]
            found.append(_Title(qual, raw, m.group("role"), m.group("person"), n, unit, words))
    return found


def _same_person(a: _Title, b: _Title) -> bool:
    return bool(a.person_words & b.person_words)


def _distinct(claims: list[Claim], key) -> list[Claim]:
    """One claim per distinct value (the first, i.e. best-ranked, passage that makes it)."""
    seen: dict[str, Claim] = {}
    for c in claims:
        seen.setdefault(key(c), c)
    return list(seen.values())


def asks_about_titles(question: str) -> bool:
    """The question names a role ("Who is the UK prime minister?") or asks for a title: only
    then are the passages' whole articles read (`find_conflicts`' `articles`)."""
    q = question.lower()
    return bool(set(re.findall(r"[a-z]+", q)) & _TITLE_WORDS) or any(r.lower() in q for r in _ROLES)


def _title_conflicts(
    question: str, titles: list[_Title], known: list[_Title] | None = None
) -> list[Conflict]:
    """`titles` come from the numbered passages; `known` from the whole articles, to learn that
    the "President Donald Trump" of one passage is "US President Donald Trump" elsewhere."""
    known = known if known is not None else titles
    q = question.lower()
    q_words = set(re.findall(r"[a-z]+", q))
    asked_quals = {t.qualifier for t in titles if t.qualifier and t.qualifier in q_words}
    conflicts: list[Conflict] = []

    # Who holds a title: the question names the role ("Who is the UK prime minister?").
    asked_people = any(t.person_words & q_words for t in titles)
    for role in sorted({t.role for t in titles}):
        if role.lower() not in q or asked_people:
            continue
        holders = [t for t in titles if t.role == role]
        for qual in sorted(asked_quals):
            qualified = [t for t in holders if t.qualifier == qual]
            # An unqualified "Prime Minister X" counts when X holds that title for no other
            # country anywhere in the articles.
            loose = [
                t
                for t in holders
                if t.qualifier is None
                and not any(
                    _same_person(t, o) and o.role == role and o.qualifier not in (None, qual)
                    for o in known
                )
            ]
            candidates = qualified + loose
            people: list[_Title] = []
            for t in candidates:
                if not any(_same_person(t, p) for p in people):
                    people.append(t)
            if len(people) > 1:
                label = (
                    f"{qual.upper() if qual and len(qual) <= 3 else (qual or '').title()} {role}"
                )
                conflicts.append(
                    Conflict(
                        "title",
                        label.strip(),
                        [Claim(p.person, p.passage, p.unit, p.words) for p in people],
                    )
                )

    # What title a person holds: the question names the person and asks about a title.
    if asks_about_titles(question):
        for t in titles:
            topic = f"{t.person}'s title"
            if not (t.person_words & q_words) or any(c.topic == topic for c in conflicts):
                continue
            same = [o for o in titles if _same_person(t, o) and o.role == t.role and o.qualifier]
            if same:
                # The other side may sit outside the passages, elsewhere in the same articles
                # ("Russian President Vladimir Putin" three paragraphs up): passage 0, to cite.
                same += [
                    o
                    for o in known
                    if o.passage == 0 and _same_person(t, o) and o.role == t.role and o.qualifier
                ]
            # One claim per country. An abbreviation ("UK") may be the same country as an
            # adjective ("British"), which only a gazetteer could tell, so the two never count
            # as a disagreement: only two spelled-out qualifiers can disagree.
            by_country: dict[str, _Title] = {}
            for o in same:
                by_country.setdefault(o.qualifier or "", o)
            spelled = [o for o in by_country.values() if not (o.raw_qualifier or "").isupper()]
            if len(spelled) > 1 and len(spelled) == len(by_country):
                claims = [
                    Claim(f"{o.raw_qualifier} {o.role}", o.passage, o.unit, o.words)
                    for o in by_country.values()
                ]
                conflicts.append(Conflict("title", topic, claims))
    return conflicts


# Words between a verb and its number that say nothing about what was counted.
_HEDGES = frozenset(
    [
        "over",
        "about",
        "around",
        "nearly",
        "almost",
        "some",
        "more",
        "than",
        "at",
        "least",
        "up",
        "to",
        "roughly",
        "approximately",
        "just",
        "under",
        "a",
        "an",
        "the",
    ]
)


def _counted_by(text: str, start: int) -> str | None:
    """The word that says what happened to a number ("destroyed 84 drones"), hedges skipped."""
    for word in reversed(re.findall(r"[A-Za-z]+", text[:start])[-4:]):
        if word.lower() not in _HEDGES:
            return word.lower()
    return None


def _quantity_conflicts(question: str, units: list[tuple[int, Unit]]) -> list[Conflict]:
    m = _HOW_MANY_RE.search(question)
    if not m:
        return []
    noun = m.group("noun").lower()
    number = re.compile(
        rf"\b(?P<n>\d[\d,]*(?:\.\d+)?)\s+(?:[a-z-]+\s+){{0,2}}?{re.escape(noun)}\b", re.IGNORECASE
    )
    found = []
    for n, unit in units:
        for hit in number.finditer(unit.text):
            verb = _counted_by(unit.text, hit.start())
            begin = unit.text.rfind(verb, 0, hit.start()) if verb else hit.start()
            words = unit.text[begin if begin >= 0 else hit.start() : hit.end()]
            found.append((verb, Claim(hit.group("n").replace(",", ""), n, unit, words)))
    # "How many drones did Ukraine say it destroyed?" asks about the destroyed ones: 84
    # destroyed and 500 launched are two facts, not two reports of one.
    asked = {w[:5] for w in re.findall(r"[a-z]+", question.lower()) if len(w) > 3}
    if any(verb and verb[:5] in asked for verb, _ in found):
        found = [(verb, c) for verb, c in found if verb and verb[:5] in asked]
    claims = _distinct([c for _, c in found], key=lambda c: c.value)
    docs = {c.unit.doc_id for c in claims}
    if len(claims) > 1 and len(docs) > 1:
        return [Conflict("quantity", noun, claims)]
    return []


# "Who has threatened to punish the Russian leader?": the question asks for whoever did it.
_WHO_RE = re.compile(
    r"^\s*who\s+(?:(?:has|have|had)\s+(?:\w+\s+)?)?(?P<verb>[a-z]+(?:ed|s))\b", re.IGNORECASE
)
# A sentence's subject, after a short opening phrase ("Additionally, ", "As late as Tuesday, "):
# a run of capitalised words (titles included) or a pronoun, then a lower-case word.
_SUBJECT_RE = re.compile(
    r"^(?:[^,\u2014]{1,40},\s+)?(?P<subject>(?:[A-Z][\w\u2019'-]*\s+)*?(?:[A-Z][a-z-]+)|He|She)"
    r"\s+(?=[a-z])"
)
_PRONOUNS = frozenset(["He", "She"])
_ACTOR_COVER = 0.6


def _subject(text: str) -> tuple[str, int] | None:
    """The sentence's grammatical subject and where it starts, when it leads the sentence."""
    m = _SUBJECT_RE.match(text)
    if not m:
        return None
    return m.group("subject"), m.start("subject")


def _actor_conflicts(question: str, units: list[tuple[int, Unit]]) -> list[Conflict]:
    """Reports that give the same act to different people: "He [Trump] has also threatened to
    punish the Russian leader" against "Putin has vowed ... to punish the Russian leader"."""
    if not _WHO_RE.match(question):
        return []
    asked = content_words(question) - {"who"}
    named = words(question)
    if len(asked) < 3:
        return []
    found: list[Claim] = []
    for i, (n, unit) in enumerate(units):
        if len(asked & content_words(unit.text)) / len(asked) < _ACTOR_COVER:
            continue
        subject = _subject(unit.text)
        if subject is None:
            continue
        who, start = subject
        antecedent = None
        if who in _PRONOUNS:
            # "He" is the subject of the sentence before, in the same passage.
            prev = units[i - 1] if i > 0 else None
            if prev is None or prev[0] != n or prev[1].doc_id != unit.doc_id:
                continue
            named_before = _subject(prev[1].text)
            if named_before is None or named_before[0] in _PRONOUNS:
                continue
            who, antecedent = named_before[0], prev[1]
        surname = who.split()[-1]
        if surname.lower() in named:
            continue  # the question's own people are not the answer to "who"
        words_ = unit.text[start:].rstrip(" .")
        found.append(Claim(surname, n, unit, words_, antecedent))
    claims = _distinct(found, key=lambda c: c.value)
    if len(claims) > 1 and len({c.unit.doc_id for c in claims}) > 1:
        return [Conflict("actor", "who did it", claims)]
    return []


def find_conflicts(
    question: str, passages: list[Passage], articles: Mapping[str, list[Unit]] | None = None
) -> list[Conflict]:
    """Disagreements on the asked fact among the numbered passages (sentence by sentence).

    `articles` (doc_id -> stored sentence units of the passages' own articles) are read for
    context: that the "President Donald Trump" of one passage is "US President Donald Trump"
    elsewhere, and for the other side of a disagreement about a person's title that no passage
    shows. A claim read from there has passage 0: the caller adds its sentence as a numbered
    passage. They are read only for a question about a title or a role."""
    units = [(n, u) for n, p in enumerate(passages, start=1) for u in p.sentences]
    known = None
    if articles is not None and asks_about_titles(question):
        known = _titles([(0, u) for doc_units in articles.values() for u in doc_units])
    conflicts = _title_conflicts(question, _titles(units), known)
    conflicts += _quantity_conflicts(question, units)
    conflicts += _actor_conflicts(question, units)
    # A conflict inside one article is a slip of that article; across articles, a disagreement.
    return [c for c in conflicts if len({cl.unit.doc_id for cl in c.claims}) > 1]


def cite_article_claims(
    conflicts: list[Conflict], passages: list[Passage], documents: Mapping[str, DocumentRecord]
) -> tuple[list[Passage], list[Conflict]]:
    """Each claim read outside the passages (passage 0) gets its sentence as a numbered passage
    after the others, so every side of a disagreement is cited like any source."""
    numbered = list(passages)
    # A sentence some passage already shows keeps that passage's number.
    given = {u.unit_id: n for n, p in enumerate(passages, start=1) for u in p.sentences}
    out = []
    for conflict in conflicts:
        claims = []
        for claim in conflict.claims:
            if claim.passage == 0:
                if claim.unit.unit_id not in given:
                    doc = documents[claim.unit.doc_id]
                    numbered.append(Passage(doc, [claim.unit], 0.0, 0.0))
                    given[claim.unit.unit_id] = len(numbered)
                claim = replace(claim, passage=given[claim.unit.unit_id])
            claims.append(claim)
        out.append(replace(conflict, claims=claims))
    return numbered, out


def describe(conflict: Conflict) -> str:
    """One answer sentence that quotes each side in its own words, with its citation: the
    reader sees exactly what each report says, and each quote is checkable in its passage."""
    sides = "; ".join(f"\u201c{c.words or c.value}\u201d [{c.passage}]" for c in conflict.claims)
    if conflict.kind == "quantity":
        return f"The reports give different numbers of {conflict.topic}: {sides}."
    if conflict.kind == "actor":
        sides = "; ".join(
            f"{c.value} (\u201c{c.words}\u201d) [{c.passage}]" for c in conflict.claims
        )
        return f"The reports disagree on who did it: {sides}."
    topic = conflict.topic if "'s " in conflict.topic else f"the {conflict.topic}"
    return f"The reports disagree on {topic}: {sides}."
