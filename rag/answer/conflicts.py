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

A disagreement is two values of one kind for the one asked thing, each stated by a report that
does not state the other: two people as the subject of the asked act done to the asked object,
two countries for one person's title, two counts of the asked thing. Each side is read from a
report's own narration, never from a reader's comment or a quoted line. A false disagreement
costs more than a missed one: it tells the reader the reports contradict each other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from rag.index.documents import DocumentRecord, Unit
from rag.retrieve.context import Passage
from rag.retrieve.facts import content_words, words

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
_NATIONALITY_RE = re.compile(r"[a-z](?:an|ese|ish|ch|i)$")
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


def _word_set(*lines: str) -> frozenset[str]:
    """A word list written as lines of prose, which reads better than one word a line."""
    return frozenset(word for line in lines for word in line.split())


_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z'\u2019-]*")
# Outside quotation marks a news report speaks in neither the first nor the second person.
_FIRST_PERSON = frozenset(["me", "my", "mine", "we", "us", "our", "ours", "you", "your", "yours"])


def _unquoted(text: str) -> str:
    """The sentence without what it quotes: a quote is someone's words, not the report's."""
    closing = text.find("\u201d")
    if closing >= 0 and "\u201c" not in text[:closing]:
        text = text[closing + 1 :]  # the end of a quote begun in the sentence before
    out, inside = [], False
    for ch in text:
        if ch in '\u201c\u201d"':
            inside = ch == "\u201c" or (ch == '"' and not inside)
        elif not inside:
            out.append(ch)
    return "".join(out)


def _narrated(text: str) -> bool:
    """Whether the sentence is the report's own narration, so a claim of that report. A
    reader's comment printed under an article ("Good luck to all three ... I hope",
    "Congratulations!") or a quoted speaker's line speaks in the first or second person or
    exclaims, outside any quotation marks; a report's narration does neither."""
    own = _unquoted(text)
    if "!" in own:
        return False
    tokens = _TOKEN_RE.findall(own)
    return not any(t == "I" or (t.lower() in _FIRST_PERSON and not t.isupper()) for t in tokens)


def _disagree(sides: list[tuple[str, str]]) -> bool:
    """Whether two of the values in (value, doc_id) pairs are each stated by a report that does
    not state the other. One article giving both is a slip or a list of that article, and two
    reports that both name the same two people (a joint act) do not disagree."""
    docs: dict[str, set[str]] = {}
    for value, doc_id in sides:
        docs.setdefault(value, set()).add(doc_id)
    return any(docs[a] - docs[b] and docs[b] - docs[a] for a in docs for b in docs if a < b)


def _distinct(claims: list[Claim], key: Callable[[Claim], str]) -> list[Claim]:
    """One claim per distinct value (the first, i.e. best-ranked, passage that makes it)."""
    seen: dict[str, Claim] = {}
    for c in claims:
        seen.setdefault(key(c), c)
    return list(seen.values())


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
        if not _narrated(unit.text):
            continue  # a reader's comment or a quoted line is no report's claim
        for m in _TITLE_RE.finditer(unit.text):
            if m.group("former"):
                continue  # "former Russian President Dmitry Medvedev" holds no title now
            possessive = bool(m.group("qual")) and m.end("qual") < m.start("role") - 1
            qual = _qualifier(m.group("qual"), possessive)
            raw = m.group("qual") if qual else None
            words = m.group(0) if qual else m.group(0)[m.start("role") - m.start() :]
            found.append(_Title(qual, raw, m.group("role"), m.group("person"), n, unit, words))
    return found


def _nation(t: _Title) -> bool:
    """Whether the title's qualifier can name a country: an abbreviation ("UK") or a word
    shaped like a nationality ("Russian", "Chinese", "British", "French"). A party or a rank
    ("Labour Prime Minister", "Interim President") is another kind of value, never a rival
    country."""
    raw = t.raw_qualifier or ""
    return bool(t.qualifier) and (raw.isupper() or bool(_NATIONALITY_RE.search(raw)))


def _same_person(a: _Title, b: _Title) -> bool:
    return bool(a.person_words & b.person_words)


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
            sides = [
                (str(next(i for i, p in enumerate(people) if _same_person(t, p))), t.unit.doc_id)
                for t in candidates
            ]
            if _disagree(sides):
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

    # What title a person holds: the question names the person and asks for a title, or
    # names this very role ("Which country is X president of?"). A question that names the
    # person beside another role ("Who is the foreign minister who rejected X's offer?") asks
    # about someone else.
    asks_a_title = bool(q_words & _TITLE_WORDS)
    for t in titles:
        topic = f"{t.person}'s title"
        if not (t.person_words & q_words) or any(c.topic == topic for c in conflicts):
            continue
        if not (asks_a_title or t.role.lower() in q):
            continue
        same = [o for o in titles if _same_person(t, o) and o.role == t.role and _nation(o)]
        if same:
            # The other side may sit outside the passages, elsewhere in the same articles
            # ("Russian President Vladimir Putin" three paragraphs up): passage 0, to cite.
            same += [
                o
                for o in known
                if o.passage == 0 and _same_person(t, o) and o.role == t.role and _nation(o)
            ]
        # One claim per country. An abbreviation ("UK") may be the same country as an
        # adjective ("British"), which only a gazetteer could tell, so the two never count
        # as a disagreement: only two spelled-out qualifiers can disagree.
        by_country: dict[str, _Title] = {}
        for o in same:
            by_country.setdefault(o.qualifier or "", o)
        spelled = [o for o in by_country.values() if not (o.raw_qualifier or "").isupper()]
        sides = [(o.qualifier or "", o.unit.doc_id) for o in same]
        if len(spelled) > 1 and len(spelled) == len(by_country) and _disagree(sides):
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
    # A count, not a sum of money ("$500"), a share or a year ("2004 elections").
    number = re.compile(
        rf"(?<![$\u00a3\u20ac\d.,])\b(?P<n>\d[\d,]*(?:\.\d+)?)\s+(?:[a-z-]+\s+){{0,2}}?"
        rf"{re.escape(noun)}\b",
        re.IGNORECASE,
    )
    found = []
    for n, unit in units:
        if not _narrated(unit.text):
            continue
        for hit in number.finditer(unit.text):
            if re.fullmatch(r"(?:19|20)\d\d", hit.group("n")):
                continue
            verb = _counted_by(unit.text, hit.start())
            begin = unit.text.rfind(verb, 0, hit.start()) if verb else hit.start()
            words = unit.text[begin if begin >= 0 else hit.start() : hit.end()]
            found.append((verb, Claim(hit.group("n").replace(",", ""), n, unit, words)))
    # "How many drones did Ukraine say it destroyed?" asks about the destroyed ones: 84
    # destroyed and 500 launched are two facts, not two reports of one.
    asked = {w[:5] for w in re.findall(r"[a-z]+", question.lower()) if len(w) > 3}
    if any(verb and verb[:5] in asked for verb, _ in found):
        found = [(verb, c) for verb, c in found if verb and verb[:5] in asked]
    claims = [c for _, c in found]
    if _disagree([(c.value, c.unit.doc_id) for c in claims]):
        return [Conflict("quantity", noun, _distinct(claims, key=lambda c: c.value))]
    return []


# "Who has threatened to punish the Russian leader?": the question asks for whoever did it.
_WHO_RE = re.compile(
    r"^\s*who\s+(?:(?:has|have|had)\s+(?:\w+\s+)?)?(?P<verb>[a-z]+(?:ed|s))\b"
    r"(?:\s+to\s+(?P<then>[a-z]+)\b)?(?P<rest>[^?]*)",
    re.IGNORECASE,
)
# Forms of "be", "have" and "do" end like a past tense or a third person but ask for no act
# ("Who is the foreign minister?").
_NOT_ACTS = frozenset(["is", "was", "has", "does", "says"])
# Words that end the asked object: "punish the Russian leader | for refusing to end the war".
_OBJECT_ENDS = _word_set(
    "for after before because when while since during in on at with from by over into about",
    "against to and or but than as of",
)
# A short opening phrase before the subject: "Additionally, ", "As late as Tuesday, ".
_OPENING_RE = re.compile(r"^[^,\u2014\"\u201c]{1,40},\s+")
# One word of a person's name: capitalised, each hyphenated part too (a double-barrelled
# "Smith-Jones", never "Ex-chat"), and no acronym, which names a body.
_NAME_WORD_RE = re.compile(r"^[A-Z][a-z]+(?:[A-Z][a-z]+)?(?:-[A-Z][a-z]+)*$")
_HONORIFICS = frozenset(["Mr", "Mrs", "Ms", "Miss", "Dr", "Sir", "Dame", "Lord", "Lady"])
_PARTICLES = frozenset(["de", "da", "di", "du", "von", "van", "der", "den", "le", "la", "bin"])
_PRONOUNS = frozenset(["He", "She"])
# English function words: capitalised at the start of a sentence they name no one ("All
# three will play", "The permanent replacement", "Very good idea", "Everyone who listens").
_FUNCTION_WORDS = _word_set(
    "the a an this that these those all some any each every both many most much few several",
    "such no none other another everyone everybody someone somebody anyone nobody it they we",
    "you i there here very as but and or so yet if when while after before although though",
    "because since meanwhile however additionally also then now still only even just",
)
# Between a subject and its verb: auxiliaries and adverbs ("has also", "will now").
_AUXILIARIES = _word_set(
    "has have had will would could should can may might must did does do is are was were be",
    "been being also already then now later just not never again still once first",
)
_BE = frozenset(["is", "are", "was", "were", "be", "been", "being"])
# A verb that agrees with a plural: after a single name it is a club's or a firm's verb
# ("X have sacked their striker"); a person "has".
_PLURAL_VERBS = frozenset(["have", "are", "were"])
_ACTOR_COVER = 0.6


@dataclass(frozen=True)
class _Act:
    verb: str  # the asked verb's stem: "threaten"
    then: str | None  # the verb it governs: "punish" in "threatened to punish"
    object: frozenset[str]  # content words of what it was done to: "russia", "leader"


def _stem(word: str) -> str:
    """A verb's form-free stem: "threatened", "threatens" and "threaten" are one act."""
    w = word.lower()
    for suffix in ("ing", "ed", "es", "s", "e"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    return w[:-1] if len(w) > 3 and w[-1] == w[-2] else w  # "stopped"/"stop", "filled"/"fills"


def _asked_act(question: str) -> _Act | None:
    """The act a who-question asks about, or None for a question that asks for no act."""
    m = _WHO_RE.match(question)
    if not m or m.group("verb").lower() in _NOT_ACTS:
        return None
    head: list[str] = []
    for word in _TOKEN_RE.findall(m.group("rest")):
        if word.lower() in _OBJECT_ENDS:
            break
        head.append(word)
    then = m.group("then")
    return _Act(
        _stem(m.group("verb")),
        _stem(then) if then else None,
        frozenset(content_words(" ".join(head))),
    )


@dataclass(frozen=True)
class _Subject:
    name: str  # "Ann Smith", "Mr Smith", "He"
    start: int
    end: int  # where the name ends: its verb follows


def _subject(text: str) -> _Subject | None:
    """The run of name words that opens the sentence (after a short opening phrase) and is
    followed by a lower-case word, the start of its verb: the sentence's grammatical subject."""
    opening = _OPENING_RE.match(text)
    pos = opening.end() if opening else 0
    tokens = list(_TOKEN_RE.finditer(text, pos))
    run: list[re.Match[str]] = []
    for i, m in enumerate(tokens):
        word = m.group()
        if text[run[-1].end() if run else pos : m.start()].strip():
            break  # punctuation: "Mr Smith, the chairman, said" has no plain subject run
        following = tokens[i + 1].group() if i + 1 < len(tokens) else ""
        if word in _PRONOUNS:
            if not run:
                run.append(m)
            break
        if word in _HONORIFICS or _NAME_WORD_RE.match(word):
            run.append(m)
        elif run and word in _PARTICLES and _NAME_WORD_RE.match(following):
            run.append(m)  # "Anna van der Berg"
        else:
            break
    if not run or not re.match(r"\s+[a-z]", text[run[-1].end() :]):
        return None  # "Radio 2 said", "Smith's plan", "UN officials": no name then a verb
    return _Subject(text[run[0].start() : run[-1].end()], run[0].start(), run[-1].end())


def _capitalisation(texts: list[str]) -> tuple[frozenset[str], frozenset[str]]:
    """The words the passages write capitalised inside a sentence, and those they write in
    lower case: what tells a name from a word capitalised only because it opens a sentence."""
    inside: set[str] = set()
    lower: set[str] = set()
    for text in texts:
        for m in _TOKEN_RE.finditer(text):
            word = m.group()
            if word[0].islower():
                lower.add(word.lower())
                continue
            before = text[: m.start()].rstrip()
            if before and before[-1] not in ".!?:;\"\u201c\u2018'(\u2014\u2013-":
                inside.add(word)
    return frozenset(inside), frozenset(lower)


def _person(
    subject: _Subject, text: str, capitalised: frozenset[str], lower: frozenset[str]
) -> str | None:
    """The surname when the subject names a person: no function word ("All", "The", "Very"),
    no word capitalised only because it opens the sentence, and no club or firm taking a plural
    verb. A name is never written in lower case, and a one-word name that opens the sentence
    must be written capitalised inside some sentence too ("Veteran presenters took over" names
    no one)."""
    words_ = subject.name.split()
    if any(w.lower() in _FUNCTION_WORDS for w in words_):
        return None
    name = [w for w in words_ if w not in _HONORIFICS]
    opens = not text[: subject.start].strip()
    if (
        opens
        and len(name) == len(words_)
        and (name[0].lower() in lower or (len(name) == 1 and name[0] not in capitalised))
    ):
        return None
    verb = _TOKEN_RE.search(text, subject.end)
    if not name or (len(name) == len(words_) and verb and verb.group() in _PLURAL_VERBS):
        return None
    return name[-1]


def _states_act(text: str, subject: _Subject, act: _Act) -> bool:
    """Whether the sentence says its subject did the asked act to the asked object: the verb
    right after the subject (auxiliaries and adverbs aside) is the asked one in the active
    voice, or governs it ("has vowed ... to punish"), and the object comes after it. "The
    singer can never be replaced" and "Mr Smith took over after ..." state no such act."""
    tokens = list(_TOKEN_RE.finditer(text, subject.end))
    passive, i = False, 0
    while i < len(tokens) and (
        tokens[i].group().lower() in _AUXILIARIES or tokens[i].group().endswith("ly")
    ):
        passive = passive or tokens[i].group().lower() in _BE
        i += 1
    if i == len(tokens):
        return False
    verb, at = tokens[i].group(), None
    if _stem(verb) == act.verb:
        if passive and not verb.endswith("ing"):
            return False  # "was replaced": the subject is who it was done to
        at = i + 1
        if act.then and at + 1 < len(tokens) and tokens[at].group().lower() == "to":
            at += 2 if _stem(tokens[at + 1].group()) == act.then else 0
    elif act.then and i + 1 < len(tokens) and tokens[i + 1].group().lower() == "to":
        # Another verb taking the asked one: "has vowed to meet X or to punish Y". Only its
        # own infinitives count, not one of a noun ("made an offer to buy").
        for j in range(i + 1, len(tokens) - 1):
            chained = j == i + 1 or tokens[j - 1].group().lower() in ("or", "and")
            infinitive = tokens[j].group().lower() == "to"
            if chained and infinitive and _stem(tokens[j + 1].group()) == act.then:
                at = j + 2
                break
    if at is None:
        return False
    # What it was done to: the words after the verb, up to a preposition or punctuation
    # ("sacked the physio | after the coach complained" did nothing to the coach).
    thing: list[str] = []
    for j in range(at, len(tokens)):
        gap = text[tokens[j - 1].end() : tokens[j].start()]
        if gap.strip() or tokens[j].group().lower() in _OBJECT_ENDS:
            break
        thing.append(tokens[j].group())
    return act.object <= content_words(" ".join(thing))


def _actor_conflicts(question: str, units: list[tuple[int, Unit]]) -> list[Conflict]:
    """Reports that give the same act, done to the same object, to different people: "He
    [Trump] has also threatened to punish the Russian leader" against "Putin has vowed ... to
    punish the Russian leader". Each side is a person's name that is the subject of the asked
    verb in a report's own narration: a sentence opener ("All", "The", "Very"), a descriptive
    word ("Ex-chat"), a body ("X have sacked"), a passive subject ("X was replaced"), a reader's
    comment or a quoted line is no side."""
    act = _asked_act(question)
    asked = content_words(question) - {"who"}
    if act is None or len(asked) < 3:
        return []
    named = words(question)
    capitalised, lower = _capitalisation([u.text for _, u in units])
    found: list[Claim] = []
    for i, (n, unit) in enumerate(units):
        text = unit.text
        if len(asked & content_words(text)) / len(asked) < _ACTOR_COVER or not _narrated(text):
            continue
        subject = _subject(text)
        if subject is None or not _states_act(text, subject, act):
            continue
        antecedent, naming, source = None, subject, text
        if subject.name in _PRONOUNS:
            # "He" is the subject of the sentence before, in the same passage.
            prev = units[i - 1] if i > 0 else None
            if prev is None or prev[0] != n or prev[1].doc_id != unit.doc_id:
                continue
            before = _subject(prev[1].text)
            if before is None or before.name in _PRONOUNS or not _narrated(prev[1].text):
                continue
            antecedent, naming, source = prev[1], before, prev[1].text
        surname = _person(naming, source, capitalised, lower)
        if surname is None or surname.lower() in named:
            continue  # no person, or the question's own people: no answer to "who"
        found.append(Claim(surname, n, unit, text[subject.start :].rstrip(" ."), antecedent))
    if _disagree([(c.value, c.unit.doc_id) for c in found]):
        return [Conflict("actor", "who did it", _distinct(found, key=lambda c: c.value))]
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
