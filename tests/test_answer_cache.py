"""The answer cache: a question asked again against the same articles, model and settings is
given its answer back without the model; any change to the articles, the filters or the
settings asks the model again. Decoding is scripted (`scripted.py`) so the test can count the
model's replies; the store, the embedder and the tokenizer are real."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from scripted import ScriptedModel

from api.app import create_app
from rag.config import Settings
from rag.engine import Engine
from rag.ingest.loading import article_from_upload
from rag.llm.model_files import resolve_model
from rag.llm.remote_llm import vocab_counter

QUESTION = "When does the new ferry terminal open?"
HARBOUR = (
    "Harbour Plans\n\nThe new ferry terminal will open in 2028, the harbour board said. "
    "Fishing boats keep their old quay."
)


def _engine(tmp_path: Path, embedder, size: int) -> tuple[Engine, ScriptedModel]:
    settings = Settings(data_dir=tmp_path / "data", answer_cache=size)
    engine = Engine(settings)
    engine.__dict__["embedder"] = embedder
    model = ScriptedModel(vocab_counter(resolve_model(settings.model, settings.cache_dir)))
    engine.__dict__["_generator"] = model
    engine.add_document(article_from_upload(HARBOUR.encode(), doc_id="harbour"))
    return engine, model


def test_a_repeated_question_is_answered_from_the_cache(tmp_path, embedder):
    engine, model = _engine(tmp_path, embedder, size=8)
    first = engine.ask(QUESTION)
    assert first.answerable and not first.cached and model.calls == 1, first
    again = engine.ask("  " + QUESTION)
    assert again.cached and model.calls == 1
    assert again.answer == first.answer and again.citations == first.citations
    assert again.timings.generate_ms == 0 and again.timings.total_ms < 50
    # What a caller does to its copy is not what the next caller gets.
    again.answer = "edited"
    assert engine.ask(QUESTION).answer == first.answer
    # A stream gets the cached answer as its one event.
    [event] = list(engine.ask_stream(QUESTION))
    assert event.kind == "answer" and event.answer.cached and model.calls == 1
    # Another filter is another question.
    assert not engine.ask(QUESTION, doc_ids=["harbour"]).cached and model.calls == 2
    assert engine.ask(QUESTION, doc_ids=["harbour"]).cached and model.calls == 2
    # So is the same question after the articles change: a new one, a new version, a delete.
    engine.add_document(
        article_from_upload(b"Rail News\n\nThe tram line opens in May.", doc_id="rail")
    )
    assert not engine.ask(QUESTION).cached and model.calls == 3
    engine.add_document(
        article_from_upload(HARBOUR.replace("2028", "2029").encode(), doc_id="harbour")
    )
    changed = engine.ask(QUESTION)
    assert not changed.cached and "2029" in changed.answer and model.calls == 4
    engine.delete_document("rail")
    assert not engine.ask(QUESTION).cached and model.calls == 5


def test_the_cache_holds_its_size_and_can_be_off(tmp_path, embedder):
    engine, model = _engine(tmp_path, embedder, size=1)
    engine.ask(QUESTION)
    engine.ask("Who approved the terminal?")  # pushes the first answer out
    assert not engine.ask(QUESTION).cached and model.calls == 3
    off, model = _engine(tmp_path / "off", embedder, size=0)
    off.ask(QUESTION)
    assert not off.ask(QUESTION).cached and model.calls == 2


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/ask/stream"])
def test_the_api_says_an_answer_came_from_the_cache(tmp_path, embedder, path):
    engine, model = _engine(tmp_path, embedder, size=8)
    with TestClient(create_app(engine=engine)) as client:
        bodies = [client.post(path, json={"question": QUESTION}) for _ in range(2)]
    assert [b.status_code for b in bodies] == [200, 200] and model.calls == 1
    if path == "/v1/ask":
        assert [b.json()["cached"] for b in bodies] == [False, True]
    else:
        assert '"cached": true' in bodies[1].text.replace('"cached":true', '"cached": true')
