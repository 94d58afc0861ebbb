"""Checked sentences stream while the model writes: the sentence splitter and gate on a growing
draft (a bag-of-words encoder stands in, so the rules are visible), and the engine's event
order with a scripted generator over the real store and embedder. That the real model's draft
is unchanged by a check between two of its tokens is tested in test_generation."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

from test_grounding import bow, passage

from rag.answer.grounding import DraftChecker, Grounder, ground_answer
from rag.config import Settings
from rag.engine import Engine

PASSAGES = [
    passage("a", "The harbour museum in Norvik reopened on Monday after a two-year repair."),
    passage("b", "Curator Anna Veld said 40,000 visitors are expected in the first year."),
]
DRAFT = (
    "The Norvik harbour museum reopened on Monday [1]. "
    "Anna Veld expects 40,000 visitors in the first year [2]."
)


def tokens(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text)


def feed_all(checker: DraftChecker, draft: str) -> list[tuple[int, str]]:
    """(how many tokens had arrived, sentence) for each sentence the checker released."""
    released: list[tuple[int, str]] = []
    so_far = ""
    for i, piece in enumerate(tokens(draft), start=1):
        so_far += piece
        released += [(i, c.text) for c in checker.feed(so_far)]
    released += [(len(tokens(draft)), c.text) for c in checker.feed(so_far, final=True)]
    return released


def test_a_sentence_is_released_once_the_next_begins():
    checker = DraftChecker(2, Grounder(PASSAGES, bow))
    released = feed_all(checker, DRAFT)
    assert [s for _, s in released] == [
        "The Norvik harbour museum reopened on Monday.",
        "Anna Veld expects 40,000 visitors in the first year.",
    ]
    first_sentence = len(tokens(DRAFT.split(" [1]. ")[0] + " [1]."))
    # Released as soon as the second sentence has begun: long before the draft ends.
    assert released[0][0] == first_sentence + 1
    # The same sentences and citations as checking the whole draft at once.
    whole = ground_answer(DRAFT, PASSAGES, bow)
    assert checker.grounder is not None
    assert checker.grounder.result().text == whole.text


def test_a_full_stop_then_markers_is_not_cut_before_the_markers():
    checker = DraftChecker(2, Grounder(PASSAGES, bow))
    assert checker.feed("The Norvik harbour museum reopened on Monday.") == []
    assert checker.feed("The Norvik harbour museum reopened on Monday. [1]") == []
    [check] = checker.feed("The Norvik harbour museum reopened on Monday. [1] Anna")
    assert check.cited == [1]


def test_sentences_are_held_until_they_answer_the_question():
    asked: list[str] = []

    def answers(text: str) -> bool:
        asked.append(text)
        return "40,000" in text  # a figure question: only the second sentence gives one

    checker = DraftChecker(2, Grounder(PASSAGES, bow), answers)
    released = feed_all(checker, DRAFT)
    # Nothing shows until the second sentence passes; then both at once, in order.
    assert [i for i, _ in released] == [len(tokens(DRAFT))] * 2
    assert checker.answered and len(asked) == 2


def test_a_near_miss_is_never_released():
    checker = DraftChecker(2, Grounder(PASSAGES, bow), lambda text: False)
    assert feed_all(checker, DRAFT) == []
    assert not checker.answered and len(checker.said) == 2


def test_a_declining_sentence_is_taken_but_not_shown():
    checker = DraftChecker(2, Grounder(PASSAGES, bow))
    draft = "The museum reopened on Monday [1]. The articles don't say who paid for it."
    assert [c.text for c in checker.feed(draft, final=True)] == ["The museum reopened on Monday."]
    assert checker.said == ["The museum reopened on Monday [1]."]


class TwoSentences:
    """Scripted drafts: the first sentence of passage 2, then of passage 1, cited that way
    round (so the answer's numbers differ from the prompt's). No `judge`: read as a server."""

    name = "scripted"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.draft = ""

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int = 256,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        yield from tokens(self.draft)


def test_the_engine_streams_each_sentence_before_the_draft_ends(seeded_engine):
    engine = Engine(seeded_engine.settings)
    engine.__dict__["embedder"] = seeded_engine.embedder
    scripted = TwoSentences(engine)
    engine.__dict__["_generator"] = scripted
    prepared = engine.prepare("Which countries refused to send troops to Ukraine?")
    first = [u.text for u in prepared.passages[1].sentences[:1]] + [
        u.text for u in prepared.passages[0].sentences[:1]
    ]
    scripted.draft = f"{first[0].rstrip('.')} [2]. {first[1].rstrip('.')} [1]."
    events = list(engine.generate(prepared))
    kinds = [e.kind for e in events]
    assert kinds[-1] == "answer" and kinds.count("sentence") == 2, kinds
    last_token = max(i for i, k in enumerate(kinds) if k == "token")
    assert kinds.index("sentence") < last_token  # shown while the model is still writing
    answer = events[-1].answer
    assert answer is not None and answer.answerable
    sentences = [e for e in events if e.kind == "sentence"]
    assert " ".join(e.text for e in sentences) == answer.answer
    # Numbered by first appearance: the prompt's passage 2 is the answer's [1].
    assert sentences[0].cited == [(1, 2)] and sentences[1].cited == [(2, 1)]
    assert [(c.n, c.passage) for c in answer.citations] == [(1, 2), (2, 1)]
    # The answer records each sentence's origin: here the model's, checked.
    assert [(s.text, s.origin, s.citations, s.supported) for s in answer.sentences] == [
        (e.text, "model", [n for n, _ in e.cited], True) for e in sentences
    ]


def test_verification_off_streams_the_draft_sentences_as_written(seeded_engine):
    settings = Settings(**{**seeded_engine.settings.model_dump(), "verify": False})
    engine = Engine(settings)
    engine.__dict__["embedder"] = seeded_engine.embedder
    scripted = TwoSentences(engine)
    engine.__dict__["_generator"] = scripted
    prepared = engine.prepare("Which countries refused to send troops to Ukraine?")
    scripted.draft = "Some allies said no [2]. Others said yes [1]."
    events = list(engine.generate(prepared))
    sentences = [e.text for e in events if e.kind == "sentence"]
    assert sentences == ["Some allies said no [1].", "Others said yes [2]."]
    answer = events[-1].answer
    assert answer is not None and answer.answer == " ".join(sentences)
    assert all(c.supported is None for c in answer.citations)
    assert [(s.text, s.supported) for s in answer.sentences] == [(t, None) for t in sentences]


class Turns(TwoSentences):
    """Drafts slowly and judges, logging which question each call served; keeps a turn per
    answer as the in-process generator does."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.turn = threading.RLock()
        self.log: list[tuple[str, str]] = []  # (question's thread, "draft" or "judge")

    def answer_turn(self) -> threading.RLock:
        return self.turn

    def stream(self, messages, max_tokens=256, cancel=None) -> Iterator[str]:
        who = threading.current_thread().name
        for piece in tokens(self.draft):
            self.log.append((who, "draft"))
            time.sleep(0.01)
            yield piece

    def judge(self, prompts: list) -> list[float]:
        self.log.append((threading.current_thread().name, "judge"))
        time.sleep(0.01)
        return [0.9] * len(prompts)


def test_one_answer_at_a_time_holds_the_model_from_draft_to_last_check(seeded_engine):
    """Two questions at once: each one's draft and every reading of its check run back to
    back, so the judge finds its passages still in the model's cache."""
    engine = Engine(seeded_engine.settings)
    engine.__dict__["embedder"] = seeded_engine.embedder
    model = Turns(engine)
    engine.__dict__["_generator"] = model
    question = "Which countries refused to send troops to Ukraine?"
    prepared = engine.prepare(question)
    first = [u.text for u in prepared.passages[0].sentences[:2]]
    model.draft = " ".join(f"{s.rstrip('.')} [1]." for s in first)

    def ask() -> None:
        engine.ask(question, cancel=threading.Event())

    threads = [threading.Thread(target=ask, name=f"q{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {kind for _, kind in model.log} == {"draft", "judge"}
    order = [who for who, _ in model.log]
    runs = [who for i, who in enumerate(order) if i == 0 or order[i - 1] != who]
    assert sorted(runs) == ["q0", "q1"], order  # one's calls, then the other's
