"""Disagreements over both development corpora, through the real retrieval and context.

The question's passages and articles come from the real store, embedder and context budget,
exactly as the engine gathers them before it generates; only the model is left out (its
vocabulary counts the tokens), so this runs in about a minute. bbc-dev's ordinary questions
must find no disagreement, and the seeds' real ones must still be found."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from conftest import engine_over

from eval.corpora import CORPORA
from rag.answer.citations import take_snapshot
from rag.answer.conflicts import Conflict, asks_about_titles
from rag.engine import Engine
from rag.llm.model_files import local_model_file
from rag.llm.remote_llm import vocab_counter


class _Tokens:
    """Stands in for the model where the context needs only its token counts."""

    def __init__(self, model_file: Path) -> None:
        self.count_tokens = functools.lru_cache(maxsize=None)(vocab_counter(model_file))


def _without_model(engine: Engine) -> Engine:
    model_file = local_model_file(engine.settings.model, engine.settings.cache_dir)
    if model_file is None:
        pytest.skip("the default GGUF is not on this machine (make setup assembles it)")
    return engine_over(engine, generator=_Tokens(model_file))


@pytest.fixture(scope="module")
def seeds(seeded_engine) -> Engine:
    return _without_model(seeded_engine)


@pytest.fixture(scope="module")
def bbc_dev(seeded_engine, embedder, tmp_path_factory) -> Engine:
    data = tmp_path_factory.mktemp("bbc-dev") / "data"
    engine = Engine(seeded_engine.settings.model_copy(update={"data_dir": data}))
    engine.__dict__["embedder"] = embedder
    engine.ingest([CORPORA["bbc-dev"].articles])
    return _without_model(engine)


def conflicts_for(engine: Engine, question: str) -> list[Conflict]:
    """What `Engine.prepare` gathers and `Engine.finish` reads disagreements from."""
    q = engine.check_question(question)
    with engine.store.reading():
        result = engine.retrieve(q)
        if not result.hits or result.best_dense < engine.settings.min_relevance:
            return []
        passages = engine.context(result, q)
        snapshot = take_snapshot(passages, engine.store, sentences=asks_about_titles(q))
    return engine.conflicts(q, passages, snapshot)


def _found(engine: Engine, corpus: str) -> dict[str, list[Conflict]]:
    return {
        gold.id: found
        for gold in CORPORA[corpus].load()
        if (found := conflicts_for(engine, gold.question))
    }


# Ordinary who-questions beyond the file's own three: each once drew a false disagreement from
# sentence openers ("All", "The", "Very" in a reader's comment, "Disgraced"), a club, a passive
# subject, another act or another person's offer.
MORE_WHO = [
    "Who replaced John Peel?",
    "Who attempted to replace John Peel?",
    "Who filled in after Peel had a heart attack?",
    "Who sacked Adrian Mutu?",
    "Who represents Adrian Mutu?",
    "Who offered to buy Manchester United?",
]


def test_ordinary_questions_find_no_disagreement(bbc_dev):
    found = _found(bbc_dev, "bbc-dev")
    found.update({q: f for q in MORE_WHO if (f := conflicts_for(bbc_dev, q))})
    assert found == {}, {
        q: [(c.kind, [x.value for x in c.claims]) for c in f] for q, f in found.items()
    }


def test_the_seeds_real_disagreements_are_found_and_no_others(seeds):
    found = _found(seeds, "seeds")
    values = {q: {(c.kind, x.value) for c in f for x in c.claims} for q, f in found.items()}
    # q078 asks for a foreign minister's name; Putin's title is no part of it.
    assert set(values) == {"q068", "q069", "q070", "q072"}, values
    # The UK prime minister slip: one report names the predecessor.
    assert {v for _, v in values["q068"]} == {"Rishi Sunak", "Sir Keir Starmer"}
    assert {v for _, v in values["q069"]} == {"Chinese President", "Russian President"}
    assert values["q070"] == {("quantity", "500"), ("quantity", "84")}
    assert values["q072"] == {("actor", "Trump"), ("actor", "Putin")}
