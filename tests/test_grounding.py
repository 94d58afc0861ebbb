"""Support checking logic; the encoder is a tiny bag-of-words stand-in so the rules are visible.
The real-embedder path is covered by the end-to-end tests and measured by `newsdesk eval`."""

import re

import numpy as np

from rag.context import Passage
from rag.grounding import asks_for_quantity, ground_answer, require_quantity, supports
from rag.store import DocumentRecord, Unit

VOCAB: dict[str, int] = {}


def bow(texts: list[str]) -> np.ndarray:
    rows = []
    for t in texts:
        v = np.zeros(512, dtype=np.float32)
        for w in re.findall(r"[a-z]+", t.lower()):
            v[VOCAB.setdefault(w, len(VOCAB) % 512)] += 1
        rows.append(v / (np.linalg.norm(v) or 1))
    return np.stack(rows)


def passage(doc_id: str, text: str) -> Passage:
    doc = DocumentRecord(doc_id, f"{doc_id}.txt", None, "h", "Title", "BBC", 1, 0.0)
    return Passage(doc, [Unit(f"{doc_id}~s0", doc_id, 0, 0, len(text), text)], 1.0, 1.0)


PASSAGES = [
    passage(
        "a", "Despite this, Germany and other allies like Italy have ruled out deploying troops."
    ),
    passage("b", "A missile strike last week in Kyiv killed 22, including four children."),
]


def test_numbers_and_names_must_be_in_evidence():
    ev = PASSAGES[1].text
    assert supports("The strike in Kyiv killed 22 people.", ev, 0.9)
    assert not supports("The strike in Kyiv killed 23 people.", ev, 0.9)
    assert not supports("The strike in Odesa killed 22 people.", ev, 0.9)
    assert supports("Four children died in Kyiv.", ev, 0.9)


def test_wrong_citation_is_recited_and_unsupported_sentence_dropped():
    answer = (
        "Germany and Italy ruled out deploying troops [2]. "
        "The strike killed 22 people [2]. Russia has 900,000 soldiers [1]."
    )
    g = ground_answer(answer, PASSAGES, bow)
    assert g.text == (
        "Germany and Italy ruled out deploying troops [1]. The strike killed 22 people [2]."
    )
    assert g.cited == [1, 2]
    assert g.dropped == ["Russia has 900,000 soldiers."]


def test_nothing_supported_means_empty_text():
    g = ground_answer("Ukraine has surrendered [1].", PASSAGES, bow)
    assert g.text == "" and g.cited == [] and len(g.dropped) == 1


def test_quantity_question_needs_a_number_of_its_own():
    assert asks_for_quantity("How many troops will Europe send?")
    assert asks_for_quantity("What is the value of the missile deal?")
    assert not asks_for_quantity("Who refused to send troops?")

    evasive = ground_answer("Germany and Italy ruled out deploying troops [1].", PASSAGES, bow)
    assert evasive.text
    checked = require_quantity("How many troops will Germany deploy?", evasive)
    assert checked.text == "" and checked.dropped == [evasive.sentences[0].text]

    counted = ground_answer("The strike killed 22 people [2].", PASSAGES, bow)
    assert require_quantity("How many died in the strike?", counted).text == counted.text
    # A number copied from the question is not an answer to it.
    echo = ground_answer("The strike killed 22 people [2].", PASSAGES, bow)
    assert require_quantity("How many of the 22 dead were children?", echo).text == ""
