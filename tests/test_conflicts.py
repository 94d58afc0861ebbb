"""Disagreements between reports, read from the article text (real seed sentences)."""

from __future__ import annotations

from rag.conflicts import describe, find_conflicts
from rag.context import Passage
from rag.store import DocumentRecord, Unit


def _passages(sentences: list[tuple[str, str]]) -> list[Passage]:
    passages = []
    for i, (doc_id, text) in enumerate(sentences):
        doc = DocumentRecord(doc_id, f"{doc_id}.txt", None, "h", f"Title {doc_id}", doc_id, 1, 0)
        unit = Unit(f"{doc_id}:{i}", doc_id, i, 10, 10 + len(text), text)
        passages.append(Passage(doc, [unit], 1.0 / (i + 1), 0.5))
    return passages


SEED_SENTENCES = [
    (
        "001",
        "Starmer's proposal aligns with efforts from UK Prime Minister Rishi Sunak and French "
        "President Emmanuel Macron to galvanize a “coalition of the willing”.",
    ),
    ("004", "Prime Minister Sir Keir Starmer unveiled the initiative."),
    ("002", "On the day of the summit, Chinese President Vladimir Putin sent a stern message."),
    ("000", "Russian President Vladimir Putin appeared defiant."),
    ("001", "Additionally, former Russian President Dmitry Medvedev derided Macron."),
    (
        "000",
        "Meanwhile, Russia has intensified aerial assaults, launching over 500 drones and 24 "
        "cruise missiles overnight.",
    ),
    ("002", "Ukraine reported that it had destroyed 84 drones overnight into Thursday."),
    ("003", "President Donald Trump offered the Russian leader a deal."),
]
ARTICLES = ["US President Donald Trump said so."]


def test_who_holds_a_title():
    passages = _passages(SEED_SENTENCES)
    [conflict] = find_conflicts("Who is the UK prime minister?", passages, ARTICLES)
    assert conflict.kind == "title"
    assert [c.value for c in conflict.claims] == ["Rishi Sunak", "Sir Keir Starmer"]
    assert [c.passage for c in conflict.claims] == [1, 2]
    text = describe(conflict)
    # Each side in the report's own words, so the quote can be found in its passage.
    assert "“UK Prime Minister Rishi Sunak” [1]" in text
    assert "“Prime Minister Sir Keir Starmer” [2]" in text


def test_a_persons_title():
    passages = _passages(SEED_SENTENCES)
    [conflict] = find_conflicts(
        "Which country is Vladimir Putin described as president of?", passages, ARTICLES
    )
    assert {c.value for c in conflict.claims} == {"Chinese President", "Russian President"}


def test_quantities():
    passages = _passages(SEED_SENTENCES)
    [conflict] = find_conflicts("How many drones were in the attack?", passages, ARTICLES)
    assert conflict.kind == "quantity"
    assert [c.value for c in conflict.claims] == ["500", "84"]
    assert describe(conflict) == (
        "The reports give different numbers of drones: “launching over 500 drones” [6]; "
        "“destroyed 84 drones” [7]."
    )


def test_a_quantity_asked_with_its_verb_is_one_fact_not_a_conflict():
    # 84 destroyed and over 500 launched are two facts; asking for one is no disagreement.
    passages = _passages(SEED_SENTENCES)
    assert find_conflicts("How many drones did Ukraine destroy?", passages, ARTICLES) == []
    assert find_conflicts("How many drones did Russia launch?", passages, ARTICLES) == []


def test_no_conflict_when_not_asked_or_consistent():
    passages = _passages(SEED_SENTENCES)
    assert find_conflicts("What did Putin say about the war?", passages, ARTICLES) == []
    # Trump is "US President" elsewhere in the articles, so he is no rival French president,
    # and "former" Medvedev holds no title.
    assert find_conflicts("Who is the French president?", passages, ARTICLES) == []
    assert find_conflicts("Who is the president of Russia?", passages, ARTICLES) == []
    assert find_conflicts("How many cruise missiles were launched?", passages, ARTICLES) == []


def test_one_article_contradicting_itself_is_not_a_cross_source_conflict():
    passages = _passages([("000", s) for _, s in SEED_SENTENCES[:2]])
    assert find_conflicts("Who is the UK prime minister?", passages, ARTICLES) == []
