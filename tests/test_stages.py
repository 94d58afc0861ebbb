"""The answer's stages one at a time (`rag.answer.stages`), then `Engine.finish` joining them
over the real store and embedder with a scripted draft. In the stage tests a bag-of-words
encoder stands in for the embedder and no judge reads meaning, so the rules are visible."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import engine_over
from scripted import ScriptedModel
from test_grounding import bow
from test_streaming import tokens

from rag.answer import countries
from rag.answer.citations import Snapshot
from rag.answer.conflicts import Claim, Conflict
from rag.answer.grounding import DraftChecker, Grounder
from rag.answer.stages import (
    DISAGREE_TEXT,
    CheckedDraft,
    Decline,
    Sentence,
    WorkingAnswer,
    add_conflicts,
    check,
    cite,
    decide,
)
from rag.engine import Engine
from rag.index.documents import DocumentRecord, Unit
from rag.retrieve.context import Passage


def article(doc_id: str, outlet: str, sentences: list[str]) -> tuple[str, Passage]:
    """An article's text and one passage of all its sentences, at exact offsets."""
    text, units = "Headline\n\n", []
    for i, sentence in enumerate(sentences):
        start = len(text)
        text += sentence + " "
        units.append(Unit(f"{doc_id}~s{i}", doc_id, i, start, start + len(sentence), sentence))
    doc = DocumentRecord(doc_id, f"{doc_id}.txt", None, "h", f"Title {doc_id}", outlet, 1, 0.0)
    return text, Passage(doc, units, 1.0, 0.9)


ARTICLES = [
    article(
        "a",
        "BBC",
        [
            "The harbour museum in Norvik reopened on Monday after a two-year repair.",
            "Its roof was rebuilt with local oak.",
        ],
    ),
    article("b", "Sky", ["Curator Anna Veld said 40,000 visitors are expected in the first year."]),
    article("c", "ITV", ["The museum expects 25,000 visitors a year, the mayor said."]),
]
# An article none of the passages comes from: the other side of a disagreement may be there.
OUTSIDE_TEXT, OUTSIDE = article("d", "Times", ["Officials expect 30,000 visitors a year."])
PASSAGES = [p for _, p in ARTICLES]
SNAPSHOT = Snapshot(
    {p.document.doc_id: text for text, p in [*ARTICLES, (OUTSIDE_TEXT, OUTSIDE)]},
    {p.document.doc_id: p.document for p in [*PASSAGES, OUTSIDE]},
    {},
)
DRAFT = (
    "The Norvik harbour museum reopened on Monday [1]. "
    "Anna Veld expects 40,000 visitors in the first year [2]. "
    "Russia has 900,000 soldiers [1]."
)
# 40,000 (passage 2) against 25,000 (passage 3).
VISITORS = Conflict(
    "quantity",
    "visitors",
    [
        Claim("40,000", 2, PASSAGES[1].sentences[0]),
        Claim("25,000", 3, PASSAGES[2].sentences[0]),
    ],
)


def quote(doc_id: str, unit: Unit) -> str:
    return SNAPSHOT.texts[doc_id][unit.start : unit.end]


# ---- check ----------------------------------------------------------------------------------


def test_check_keeps_each_supported_sentence_with_its_origin_and_citations():
    checked = check(DRAFT, DraftChecker(3, Grounder(PASSAGES, bow)))
    assert checked.answer.sentences == [
        Sentence(
            "The Norvik harbour museum reopened on Monday [1].",
            [1],
            "model",
            True,
            "The Norvik harbour museum reopened on Monday.",
        ),
        Sentence(
            "Anna Veld expects 40,000 visitors in the first year [2].",
            [2],
            "model",
            True,
            "Anna Veld expects 40,000 visitors in the first year.",
        ),
    ]
    assert checked.answer.dropped == ["Russia has 900,000 soldiers."]
    # Passage 1 is quoted by the sentence that carries the claim, not both of its sentences.
    assert checked.answer.windows == {1: (0, 0), 2: (0, 0)}
    assert checked.answer.checked and checked.answer.carries is not None
    assert checked.answered and not checked.declined


def test_check_without_a_grounder_passes_sentences_as_written():
    checked = check("Some visitors came [2]. Others [1] stayed home.", DraftChecker(3))
    assert checked.answer.sentences == [
        Sentence("Some visitors came [2].", [2], "model", None),
        Sentence("Others [1] stayed home.", [1], "model", None),
    ]
    assert checked.answer.windows == {} and not checked.answer.checked
    assert checked.answer.carries is None and checked.answered


def test_check_of_a_draft_that_declines():
    checked = check("The articles don't say.", DraftChecker(3, Grounder(PASSAGES, bow)))
    assert checked.declined and checked.answer.sentences == [] and checked.answer.dropped == []


def test_check_reads_whether_the_kept_sentences_answer_the_question():
    asked: list[str] = []

    def answers(text: str) -> bool:
        asked.append(text)
        return False

    checked = check(DRAFT, DraftChecker(3, Grounder(PASSAGES, bow), answers))
    # Kept, but no answer: `decide` declines them as a near miss.
    assert len(checked.answer.sentences) == 2
    assert not checked.answered and not checked.declined
    # Asked of what the check kept, with the citations it kept, never of the dropped sentence.
    assert asked[-1] == checked.answer.text


def test_check_finishes_what_a_stream_began_without_checking_a_sentence_twice():
    judged: list[str] = []

    def judge(items: list[tuple[str, list[int]]], quotes: dict[int, str]) -> list[float]:
        judged.extend(claim for claim, _ in items)
        return [1.0] * len(items)

    streamed = DraftChecker(3, Grounder(PASSAGES, bow, judge=judge))
    so_far = ""
    for piece in tokens(DRAFT)[:12]:  # the first sentence is complete, the second is not
        so_far += piece
        streamed.feed(so_far)
    assert len(judged) == 1
    whole = check(DRAFT, DraftChecker(3, Grounder(PASSAGES, bow, judge=judge)))
    judged.clear()
    assert check(DRAFT, streamed).answer.sentences == whole.answer.sentences
    # Only the second: the first was judged mid-stream, the third fails on its number first.
    assert judged == ["Anna Veld expects 40,000 visitors in the first year."]


# ---- decide ---------------------------------------------------------------------------------

SAID = WorkingAnswer(
    [Sentence("The museum reopened on Monday [1].", [1], "model", True, "The museum reopened.")],
    dropped=["Russia has 900,000 soldiers."],
    windows={1: (0, 0)},
    checked=True,
)
NOTHING_HELD = WorkingAnswer([], dropped=["Russia has 900,000 soldiers."], checked=True)


def test_decide_carries_an_answer_on():
    assert decide(CheckedDraft(SAID, declined=False, answered=True), []) is SAID
    assert decide(CheckedDraft(SAID, declined=False, answered=True), [VISITORS]) is SAID


def test_decide_declines_a_near_miss_whatever_the_reports_say():
    for conflicts in ([], [VISITORS]):
        decided = decide(CheckedDraft(SAID, declined=False, answered=False), conflicts)
        # Withdrawn: what the check kept, then what it had dropped.
        assert decided == Decline(
            "not_an_answer", ["The museum reopened.", "Russia has 900,000 soldiers."]
        )


def test_decide_declines_a_draft_with_nothing_left():
    declined = WorkingAnswer([], checked=True)
    assert decide(CheckedDraft(declined, declined=True, answered=False), []) == Decline(
        "model_declined", []
    )
    assert decide(CheckedDraft(NOTHING_HELD, declined=False, answered=False), []) == Decline(
        "unsupported_answer", ["Russia has 900,000 soldiers."]
    )


def test_decide_lets_a_disagreement_stand_where_nothing_else_was_said():
    declined = WorkingAnswer([], checked=True)
    assert decide(CheckedDraft(declined, declined=True, answered=False), [VISITORS]) is declined
    held = decide(CheckedDraft(NOTHING_HELD, declined=False, answered=False), [VISITORS])
    assert held is NOTHING_HELD


# ---- add_conflicts --------------------------------------------------------------------------


def test_add_conflicts_without_a_disagreement_changes_nothing():
    assert add_conflicts(SAID, [], PASSAGES, SNAPSHOT) is SAID


def test_a_disagreement_is_cited_beside_the_answer_never_written_into_it():
    answer = add_conflicts(SAID, [VISITORS], PASSAGES, SNAPSHOT)
    assert answer.sentences == SAID.sentences and answer.dropped == SAID.dropped
    assert answer.conflicts == [VISITORS] and answer.extra == []
    assert answer.cited == [1, 2, 3]
    # Each side is quoted by the sentence that states it.
    assert answer.windows == {1: (0, 0), 2: (0, 0), 3: (0, 0)}


def test_with_nothing_else_said_the_answer_is_one_note_citing_every_side():
    answer = add_conflicts(WorkingAnswer([], checked=True), [VISITORS], PASSAGES, SNAPSHOT)
    note = DISAGREE_TEXT[:-1] + " [2][3]."
    assert answer.sentences == [Sentence(note, [2, 3], "conflict", None)]
    assert answer.text == note and answer.cited == [2, 3]


def test_unchecked_sides_quote_their_whole_passage():
    answer = add_conflicts(WorkingAnswer([]), [VISITORS], PASSAGES, SNAPSHOT)
    assert answer.windows == {} and answer.cited == [2, 3]


def test_a_side_read_outside_the_passages_is_numbered_after_them():
    outside = Claim("30,000", 0, OUTSIDE.sentences[0])
    conflict = Conflict("quantity", "visitors", [VISITORS.claims[0], outside])
    answer = add_conflicts(WorkingAnswer([], checked=True), [conflict], PASSAGES, SNAPSHOT)
    assert [p.sentences for p in answer.extra] == [OUTSIDE.sentences]
    assert [c.passage for c in answer.conflicts[0].claims] == [2, 4]
    assert answer.text == DISAGREE_TEXT[:-1] + " [2][4]."
    assert answer.windows == {2: (0, 0), 4: (0, 0)}


def test_a_side_saying_he_is_quoted_with_the_sentence_that_names_him():
    first, second = PASSAGES[0].sentences
    conflict = Conflict(
        "actor",
        "who did it",
        [Claim("Roe", 1, second, antecedent=first), Claim("Doe", 2, PASSAGES[1].sentences[0])],
    )
    answer = add_conflicts(WorkingAnswer([], checked=True), [conflict], PASSAGES, SNAPSHOT)
    assert answer.windows == {1: (0, 1), 2: (0, 0)}


# ---- cite -----------------------------------------------------------------------------------


def test_cite_numbers_citations_as_the_reader_meets_them():
    answer = WorkingAnswer(
        [
            Sentence("Anna Veld expects 40,000 visitors [2].", [2], "model", True, "…"),
            Sentence("The museum reopened on Monday [1].", [1], "model", True, "…"),
        ],
        dropped=["Russia has 900,000 soldiers."],
        windows={1: (0, 0), 2: (0, 0)},
        checked=True,
    )
    cited = cite(answer, PASSAGES, SNAPSHOT)
    assert cited.text == (
        "Anna Veld expects 40,000 visitors [1]. The museum reopened on Monday [2]."
    )
    assert [(c.n, c.passage) for c in cited.citations] == [(1, 2), (2, 1)]
    assert all(c.supported is True for c in cited.citations)
    # Narrowed to the window: passage 1's first sentence, exactly as the article has it.
    by_n = {c.n: c for c in cited.citations}
    assert by_n[2].quote == quote("a", PASSAGES[0].sentences[0])
    assert by_n[2].quote == SNAPSHOT.texts["a"][by_n[2].start : by_n[2].end]
    assert [(s.text, s.origin, s.citations, s.supported) for s in cited.sentences] == [
        ("Anna Veld expects 40,000 visitors [1].", "model", [1], True),
        ("The museum reopened on Monday [2].", "model", [2], True),
    ]
    assert " ".join(s.text for s in cited.sentences) == cited.text
    assert cited.dropped == ["Russia has 900,000 soldiers."] and cited.conflicts == []


def test_cite_unchecked_quotes_whole_passages_and_marks_nothing_supported():
    answer = WorkingAnswer([Sentence("Others [1] stayed home.", [1], "model", None)])
    cited = cite(answer, PASSAGES, SNAPSHOT)
    [citation] = cited.citations
    assert citation.supported is None
    assert (citation.start, citation.end) == (PASSAGES[0].start, PASSAGES[0].end)
    assert cited.sentences[0].supported is None


def test_cite_numbers_the_sides_of_a_disagreement_like_any_citation():
    answer = add_conflicts(WorkingAnswer([], checked=True), [VISITORS], PASSAGES, SNAPSHOT)
    cited = cite(answer, PASSAGES, SNAPSHOT)
    assert cited.text == DISAGREE_TEXT[:-1] + " [1][2]."
    [sentence] = cited.sentences
    assert (sentence.text, sentence.origin, sentence.citations) == (cited.text, "conflict", [1, 2])
    [conflict] = cited.conflicts
    assert [(c.n, c.value, c.doc_id) for c in conflict.claims] == [
        (1, "40,000", "b"),
        (2, "25,000", "c"),
    ]
    for claim in conflict.claims:
        assert claim.quote == SNAPSHOT.texts[claim.doc_id][claim.start : claim.end]
    assert [(c.n, c.passage) for c in cited.citations] == [(1, 2), (2, 3)]


def test_cite_quotes_a_side_read_outside_the_passages():
    outside = Claim("30,000", 0, OUTSIDE.sentences[0])
    conflict = Conflict("quantity", "visitors", [VISITORS.claims[0], outside])
    answer = add_conflicts(SAID, [conflict], PASSAGES, SNAPSHOT)
    cited = cite(answer, PASSAGES, SNAPSHOT)
    assert [(c.n, c.passage, c.doc_id) for c in cited.citations] == [
        (1, 1, "a"),
        (2, 2, "b"),
        (3, 4, "d"),
    ]
    assert cited.citations[2].quote == "Officials expect 30,000 visitors a year."
    assert [c.n for c in cited.conflicts[0].claims] == [2, 3]


# ---- Engine.finish: the stages joined -------------------------------------------------------


@pytest.fixture(scope="module")
def scripted(seeded_engine) -> tuple[Engine, ScriptedModel]:
    """The seeds' real store and embedder; the draft is whatever a test sets."""
    model = ScriptedModel(lambda text: len(text.split()))
    return engine_over(seeded_engine, generator=model), model


def finished(scripted: tuple[Engine, ScriptedModel], question: str, draft: str):
    """The answer `finish` gives, checked against the stream's own answer to the same draft."""
    engine, model = scripted
    prepared = engine.prepare(question)
    model.draft = draft
    answer = engine.finish(prepared, draft, 0.0)
    streamed = list(engine.generate(prepared))[-1].answer
    assert streamed is not None
    assert streamed.model_dump(exclude={"timings"}) == answer.model_dump(exclude={"timings"})
    return answer


def passage_with(engine: Engine, question: str, *words: str) -> int:
    prepared = engine.prepare(question)
    return next(
        n for n, p in enumerate(prepared.passages, start=1) if all(w in p.text for w in words)
    )


def test_warm_up_builds_the_country_index_before_the_first_answer(scripted):
    engine, _ = scripted
    countries._index.cache_clear()
    engine.warm_up()
    assert countries._index.cache_info().currsize == 1


def test_finish_declines_when_the_model_does(scripted):
    question = "How many soldiers does Ukraine's army currently have?"
    answer = finished(scripted, question, "The articles don't say.")
    assert not answer.answerable and answer.abstain_reason == "model_declined"
    assert answer.citations == [] and answer.dropped == [] and answer.sentences == []


def test_finish_declines_when_no_sentence_holds(scripted):
    question = "How many sites across Ukraine were struck in the overnight attack into Thursday?"
    # A number the passages never give (they say 84 drones and 17 sites): nothing to mend.
    draft = "90 sites across Ukraine were struck in the overnight attack into Thursday [1]."
    answer = finished(scripted, question, draft)
    assert not answer.answerable and answer.abstain_reason == "unsupported_answer"
    assert answer.dropped == [draft.replace(" [1]", "")]
    # The drones' count on the sites is put right from the passages and kept.
    mended = finished(scripted, question, draft.replace("90", "84"))
    assert mended.answerable and mended.answer.startswith("17 sites across Ukraine")


def test_finish_declines_a_near_miss(scripted):
    question = "How many soldiers does Ukraine's army currently have?"
    n = passage_with(scripted[0], question, "train and supply")
    draft = f"The proposed deal includes continuing to train and supply Ukraine’s own army [{n}]."
    answer = finished(scripted, question, draft)
    assert not answer.answerable and answer.abstain_reason == "not_an_answer"
    assert answer.dropped == [re.sub(r" \[\d+\]", "", draft)]


def test_finish_answers_with_the_disagreement_when_the_model_declines(scripted):
    question = "Which country is Vladimir Putin described as president of?"
    answer = finished(scripted, question, "The articles don't say.")
    assert answer.answerable
    [conflict] = answer.conflicts
    [sentence] = answer.sentences
    assert sentence.origin == "conflict" and sentence.text == answer.answer
    assert set(sentence.citations) == {claim.n for claim in conflict.claims}
    assert sorted(c.n for c in answer.citations) == list(range(1, len(answer.citations) + 1))


def test_finish_keeps_the_part_a_draft_answers(scripted):
    question = "Which city was John Healey in when he spoke to the BBC, and what did he eat there?"
    n = passage_with(scripted[0], question, "Healey", "Kyiv")
    answer = finished(
        scripted, question, f"John Healey was in Kyiv [{n}]. The articles don't say what he ate."
    )
    assert answer.answerable and answer.answer == "John Healey was in Kyiv [1]."
    assert [(s.origin, s.citations, s.supported) for s in answer.sentences] == [
        ("model", [1], True)
    ]
    assert [(c.n, c.passage) for c in answer.citations] == [(1, n)]


# ---- A second draft --------------------------------------------------------------------------


def _drafting_by_system_turn(engine: Engine, model: ScriptedModel, first: str, second: str):
    """Reply `second` to the plain system turn of a second draft, `first` to anything else."""

    def reply(messages: list[dict[str, str]]) -> str:
        return second if messages[0]["content"] == engine.prompts.second_system else first

    model.reply = reply  # type: ignore[method-assign]


SECOND_QUESTION = "How many sites across Ukraine were struck in the overnight attack into Thursday?"


def _with_second_draft(scripted, on: bool = True) -> tuple[Engine, ScriptedModel]:
    """The scripted engine with `NEWSDESK_SECOND_DRAFT` set (it is on by default)."""
    engine, model = scripted
    settings = engine.settings.model_copy(update={"second_draft": on})
    return engine_over(engine, settings, model), model


def test_a_declined_draft_gets_a_second_under_the_plain_system_turn(scripted):
    assert scripted[0].settings.second_draft  # on by default
    engine, model = _with_second_draft(scripted)
    n = passage_with(engine, SECOND_QUESTION, "17 sites")
    first = "The articles don't say."
    second = f"17 sites across Ukraine were struck in the overnight attack [{n}]."
    _drafting_by_system_turn(engine, model, first, second)
    try:
        before = model.calls
        answer = engine.ask(SECOND_QUESTION)
        assert model.calls - before == 2
        assert answer.answerable and answer.answer.startswith("17 sites"), answer
        # The checks keep the default prompt: only the draft's system turn changed.
        prepared = engine.prepare(SECOND_QUESTION)
        redo = engine.second_draft(prepared, engine.finish(prepared, first, 0.0))
        assert redo is not None and redo.messages[0]["content"] == engine.prompts.second_system
        assert redo.messages[1] == {
            "role": "user",
            "content": prepared.messages[1]["content"],
        }  # the same passages and question (the drafting instruction is empty by default)
        assert engine.second_draft(redo, engine.finish(redo, first, 0.0)) is None  # one only
        # Its sentences need the higher bar: the model declined the question once, so the
        # passages are less likely to hold the answer.
        bars = [engine.draft_checker(p).grounder.threshold for p in (prepared, redo)]
        assert bars == [engine.settings.support_threshold, engine.settings.second_draft_threshold]
        assert bars[0] < bars[1]
        # A stream shows the first draft's tokens, then says it starts again.
        events = list(engine.generate(prepared))
        kinds = [e.kind for e in events]
        assert kinds.count("redraft") == 1 and kinds[-1] == "answer"
        redraft = kinds.index("redraft")
        assert "token" in kinds[:redraft] and "token" in kinds[redraft:]
        assert events[redraft].text == "model_declined"
        assert "".join(e.text for e in events[redraft:] if e.kind == "token") == second
        streamed = events[-1].answer
        assert streamed is not None
        assert streamed.model_dump(exclude={"timings"}) == answer.model_dump(exclude={"timings"})
    finally:
        del model.reply


def test_no_second_draft_when_the_first_holds_fails_the_check_or_it_is_off(scripted, tmp_path):
    engine, model = _with_second_draft(scripted)
    n = passage_with(engine, SECOND_QUESTION, "17 sites")
    good = f"17 sites across Ukraine were struck in the overnight attack [{n}]."
    _drafting_by_system_turn(engine, model, good, "The articles don't say.")
    try:
        before = model.calls
        assert engine.ask(SECOND_QUESTION).answerable and model.calls - before == 1
        assert "redraft" not in [e.kind for e in engine.generate(engine.prepare(SECOND_QUESTION))]
        # A draft whose every sentence the check dropped made its wrong claims already; a
        # second try is not asked for.
        unsupported = "90 sites across Ukraine were struck in the overnight attack [1]."
        _drafting_by_system_turn(engine, model, unsupported, good)
        before = model.calls
        answer = engine.ask(SECOND_QUESTION)
        assert answer.abstain_reason == "unsupported_answer" and model.calls - before == 1
        kinds = [e.kind for e in engine.generate(engine.prepare(SECOND_QUESTION))]
        assert "redraft" not in kinds and kinds[-1] == "answer"
        off, _ = _with_second_draft(scripted, on=False)
        _drafting_by_system_turn(engine, model, "The articles don't say.", good)
        before = model.calls
        answer = off.ask(SECOND_QUESTION)
        assert answer.abstain_reason == "model_declined" and model.calls - before == 1
    finally:
        del model.reply
    # A near miss the judge read as no answer is not drafted again; nor is anything when the
    # prompts folder has no second system turn.
    prepared = engine.prepare(SECOND_QUESTION)
    near_miss = engine.finish(prepared, good, 0.0).model_copy(
        update={"answerable": False, "abstain_reason": "not_an_answer"}
    )
    assert engine.second_draft(prepared, near_miss) is None
    declined = engine.finish(prepared, "The articles don't say.", 0.0)
    assert engine.second_draft(prepared, declined) is not None
    folder = tmp_path / "prompts"
    shutil.copytree(engine.settings.prompts_dir, folder)
    (folder / "second_system.txt").unlink()
    bare = Engine(engine.settings.model_copy(update={"prompts_dir": folder}))
    assert bare.prompts.second_system == "" and bare.second_draft(prepared, declined) is None
