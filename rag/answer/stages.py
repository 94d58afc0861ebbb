"""A checked draft becomes an answer in four stages, each a function from one typed value to
the next, so each decision can be read, called and tested alone:

    check          the draft and its DraftChecker      -> CheckedDraft
    decide         CheckedDraft and the disagreements  -> Decline, or the WorkingAnswer
    add_conflicts  WorkingAnswer and the disagreements -> WorkingAnswer citing each side
    cite           WorkingAnswer                       -> CitedAnswer, numbered for a reader

The disagreements (`find_conflicts`) are read from the articles before `decide`, which needs
them: a draft with nothing left still answers when the reports disagree.

Until `cite`, passages keep the numbers the prompt gave them, so every stage reads the same
[n] the model wrote; only `cite` renumbers them 1..n in order of first appearance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from rag.answer.citations import (
    Snapshot,
    build_citations,
    display_numbers,
    markers_of,
    renumber,
)
from rag.answer.conflicts import Conflict, cite_article_claims
from rag.answer.grounding import DraftChecker, merge_windows, with_markers
from rag.retrieve.context import Passage
from rag.schemas import AbstainReason, AnswerSentence, Citation, ConflictClaim
from rag.schemas import Conflict as ConflictOut

# The answer when the model said nothing the check kept but the reports disagree on what was
# asked (with the citations of both sides): the sides are in `conflicts`, in their own words.
DISAGREE_TEXT = "The reports disagree on this."

Origin = Literal["model", "conflict"]


@dataclass(frozen=True)
class Sentence:
    """One sentence of the answer being built, so a reader can later tell whose words it is
    and whether the check read it."""

    text: str  # as shown, with its [n] markers (the prompt's numbers)
    cited: list[int]
    origin: Origin  # "model": the model's words; "conflict": the note written for a disagreement
    supported: bool | None  # True: the support check passed it; None: nothing checked it
    claim: str = ""  # what the check read (no markers, no lead-in); "" when unchecked


@dataclass(frozen=True)
class WorkingAnswer:
    """The answer between the check and the reader's numbering: what it says, what the check
    withdrew, how far each citation's quote is narrowed, and the disagreements beside it."""

    sentences: list[Sentence]
    dropped: list[str] = field(default_factory=list)
    # Passage n -> (first, last) of its sentences the answer leans on. Empty when unchecked:
    # a citation then quotes the whole passage the model read.
    windows: dict[int, tuple[int, int]] = field(default_factory=dict)
    # The support check ran: every citation left is one it found supporting its sentence.
    checked: bool = False
    # Whether another article's copy of passage n states what n is cited for (None: all do),
    # so `also_in` names only real second sources.
    carries: Callable[[int, str], bool] | None = None
    conflicts: list[Conflict] = field(default_factory=list)
    # Passages numbered after the prompt's: a side of a disagreement read outside them.
    extra: list[Passage] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)

    @property
    def cited(self) -> list[int]:
        """Every passage cited, in order: the sentences' citations, then each side's."""
        sides = [c.passage for f in self.conflicts for c in f.claims]
        return list(dict.fromkeys([n for s in self.sentences for n in s.cited] + sides))


@dataclass(frozen=True)
class CheckedDraft:
    """The draft after the sentence-by-sentence check, with the two readings of it as a
    whole that `decide` weighs."""

    answer: WorkingAnswer
    declined: bool  # the model said only that the articles don't say
    answered: bool  # the kept sentences passed the whole-answer test (always, when unchecked)


@dataclass(frozen=True)
class Decline:
    """No answer: the `abstain_reason`, and the draft sentences withdrawn (`dropped`)."""

    reason: AbstainReason
    dropped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CitedAnswer:
    """The fields of `Answer` the stages decide, numbered for a reader; the engine adds the
    question, timings and model."""

    text: str
    citations: list[Citation]
    conflicts: list[ConflictOut]
    sentences: list[AnswerSentence]
    dropped: list[str]


def check(draft: str, checker: DraftChecker) -> CheckedDraft:
    """The whole draft through `checker`, which a stream may have fed as tokens arrived: the
    sentences it took stay taken, so the answer is made of the sentences the stream showed.
    Without a grounder (verification off) they pass as written."""
    checker.feed(draft, final=True)
    # "X did Y [1]. The articles don't say when." answers one part: `said` keeps that part.
    declined = not checker.said
    if checker.grounder is None:
        sentences = [Sentence(s, markers_of(s), "model", None) for s in checker.said]
        return CheckedDraft(WorkingAnswer(sentences), declined, checker.answered)
    grounded = checker.grounder.result()
    answer = WorkingAnswer(
        [
            Sentence(with_markers(c), c.cited, "model", c.supported, c.text)
            for c in grounded.sentences
        ],
        dropped=grounded.dropped,
        windows=grounded.windows,
        checked=True,
        carries=grounded.carries_claims,
    )
    return CheckedDraft(answer, declined, checker.answered)


def decide(checked: CheckedDraft, conflicts: list[Conflict]) -> Decline | WorkingAnswer:
    """Whether there is an answer at all, read from the draft as a whole.

    A near miss (true and cited, but not what was asked: no figure for a figure question, no
    name for a what-is-the-name question, a salary from another report for "what did X pay
    Y") is declined whatever the reports say. A draft with nothing left (the model declined,
    or no sentence held) goes on only when the reports disagree on what was asked: the
    disagreement is read from the articles, not from the model, so it stands without it."""
    answer = checked.answer
    if answer.sentences and not checked.answered:
        return Decline("not_an_answer", [s.claim for s in answer.sentences] + answer.dropped)
    if answer.sentences or conflicts:
        return answer
    if checked.declined:
        return Decline("model_declined")
    return Decline("unsupported_answer", answer.dropped)


def add_conflicts(
    answer: WorkingAnswer, conflicts: list[Conflict], passages: list[Passage], snapshot: Snapshot
) -> WorkingAnswer:
    """The answer with each side of a disagreement cited like any source, by the sentence
    that states it. A disagreement is reported beside the answer (`conflicts`), never written
    into it; only an answer with nothing else to say becomes one note of origin `conflict`,
    cited by every side."""
    if not conflicts:
        return answer
    numbered, conflicts = cite_article_claims(
        conflicts, [*passages, *answer.extra], snapshot.documents
    )
    claims = [c for f in conflicts for c in f.claims]
    sides = list(dict.fromkeys(c.passage for c in claims))
    note = DISAGREE_TEXT[:-1] + " " + "".join(f"[{n}]" for n in sides) + "."
    sentences = answer.sentences or [Sentence(note, sides, "conflict", None)]
    windows = answer.windows
    if answer.checked:
        windows = dict(windows)
        for claim in claims:
            units = numbered[claim.passage - 1].sentences
            i = units.index(claim.unit)
            # "He has also threatened…" is cited with the sentence that names him.
            first = units.index(claim.antecedent) if claim.antecedent else i
            windows[claim.passage] = merge_windows(windows.get(claim.passage), (first, i))
    return replace(
        answer,
        sentences=sentences,
        windows=windows,
        conflicts=conflicts,
        extra=numbered[len(passages) :],
    )


def cite(answer: WorkingAnswer, passages: list[Passage], snapshot: Snapshot) -> CitedAnswer:
    """Exact spans for every citation, numbered as a reader meets them.

    Readers see [1], [2], … in the order the answer first cites them, then the sides of a
    disagreement; each citation keeps in `passage` the number its passage had in the prompt
    and the `sources` event, so a client can match the two."""
    numbered = [*passages, *answer.extra]
    cited = answer.cited
    citations = build_citations(
        cited,
        numbered,
        snapshot,
        # After the check every remaining citation supports its sentence.
        supported=True if answer.checked else None,
        windows=answer.windows,
        carries=answer.carries,
    )
    shown = display_numbers(answer.text, cited)
    return CitedAnswer(
        text=renumber(answer.text, shown),
        citations=sorted(
            (c.model_copy(update={"n": shown[c.n], "passage": c.n}) for c in citations),
            key=lambda c: c.n,
        ),
        conflicts=[_conflict_out(c, numbered, snapshot, shown) for c in answer.conflicts],
        sentences=[
            AnswerSentence(
                text=renumber(s.text, shown),
                origin=s.origin,
                citations=[shown[n] for n in markers_of(s.text)],
                supported=s.supported,
            )
            for s in answer.sentences
        ],
        dropped=answer.dropped,
    )


def _conflict_out(
    conflict: Conflict, passages: list[Passage], snapshot: Snapshot, shown: dict[int, int]
) -> ConflictOut:
    claims = []
    for c in conflict.claims:
        doc = passages[c.passage - 1].document
        text = snapshot.texts[doc.doc_id]
        claims.append(
            ConflictClaim(
                value=c.value,
                n=shown[c.passage],
                doc_id=doc.doc_id,
                outlet=doc.outlet,
                start=c.unit.start,
                end=c.unit.end,
                quote=text[c.unit.start : c.unit.end],
            )
        )
    return ConflictOut(kind=conflict.kind, topic=conflict.topic, claims=claims)
