"""Search and metadata filters over the real store and embedder (no generation involved)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.errors import UnknownDocuments


def test_search_returns_exact_spans_ranked(seeded_engine):
    response = seeded_engine.search("Which countries ruled out deploying troops?", limit=5)
    assert 1 <= len(response.results) <= 5
    assert [r.rank for r in response.results] == list(range(1, len(response.results) + 1))
    scores = [r.score for r in response.results]
    assert scores == sorted(scores, reverse=True)
    for r in response.results:
        assert r.text == seeded_engine.store.document_text(r.doc_id)[r.start : r.end]
    assert any("Germany" in r.text or "Italy" in r.text for r in response.results)


def test_near_duplicates_take_one_slot_and_list_the_others(seeded_engine):
    response = seeded_engine.search("coalition of the willing troops Italy Germany", limit=8)
    covered = [(r.doc_id, r.start) for r in response.results]
    for r in response.results:
        for other in r.also_in:
            # The duplicate is listed, not shown again as its own result.
            assert (other.doc_id, other.start) not in covered
            assert (
                other.quote
                == seeded_engine.store.document_text(other.doc_id)[other.start : other.end]
            )


def test_doc_filter_restricts_results(seeded_engine):
    response = seeded_engine.search("troops", doc_ids=["002"], limit=5)
    assert response.results
    assert {r.doc_id[:3] for r in response.results} == {"002"}


def test_outlet_filter_is_case_insensitive(seeded_engine):
    outlets = {d.outlet for d in seeded_engine.store.list_documents() if d.outlet}
    outlet = sorted(outlets)[0]
    wanted = {d.doc_id for d in seeded_engine.store.list_documents() if d.outlet == outlet}
    response = seeded_engine.search("Ukraine", outlets=[outlet.upper()], limit=5)
    assert response.results
    assert {r.doc_id for r in response.results} <= wanted


@pytest.mark.parametrize(
    "kwargs", [{"doc_ids": ["nope"]}, {"outlets": ["Nobody Times"]}, {"doc_ids": ["../etc"]}]
)
def test_unknown_filters_are_errors_not_empty_answers(seeded_engine, kwargs):
    with pytest.raises(UnknownDocuments):
        seeded_engine.search("troops", **kwargs)


def test_search_endpoint(seeded_engine):
    with TestClient(create_app(engine=seeded_engine)) as client:
        r = client.post("/v1/search", json={"query": "Italy troops", "limit": 3})
        assert r.status_code == 200, r.text
        body = r.json()
        assert 1 <= len(body["results"]) <= 3
        assert {"rank", "doc_id", "start", "end", "text", "score", "also_in"} <= set(
            body["results"][0]
        )
        bad = client.post("/v1/search", json={"query": "Italy", "doc_ids": ["missing"]})
        assert bad.status_code == 404
        assert bad.json()["error"]["code"] == "unknown_documents"
        assert client.post("/v1/search", json={"query": "  "}).status_code == 422
        assert client.post("/v1/search", json={"query": "x", "limit": 0}).status_code == 422


def test_a_list_question_brings_the_sentence_after_each_hit(tmp_path, embedder):
    # The sentence that answers "which three DJs" announces nothing of the question's words;
    # the one before it does. A list question reads on; others keep to the hit.
    from rag.config import Settings
    from rag.engine import Engine
    from rag.ingest.loading import article_from_upload
    from rag.retrieve.context import assemble_context

    engine = Engine(Settings(data_dir=tmp_path / "data"))
    engine.__dict__["embedder"] = embedder
    text = (
        "Night Radio\n\nThe station's late show is to be replaced by three shows hosted by "
        "three new presenters from March. Ann Lee, Bo Kim and Cy Dunn will each take one "
        "night of the week. The show's founder retired in the autumn after 30 years on air."
    )
    engine.add_document(article_from_upload(text.encode(), doc_id="radio"))
    question = "Which three presenters host the shows that replace the late show?"

    def context(forward: bool) -> str:
        with engine.store.reading():
            hits = engine.retrieve(question).hits[:1]
            passages = assemble_context(
                hits, engine.store, lambda t: len(t.split()), forward=forward
            )
        return " ".join(p.text for p in passages)

    assert "replaced by three shows" in context(False) and "Ann Lee" not in context(False)
    assert "Ann Lee, Bo Kim and Cy Dunn" in context(True)


def test_the_sentence_between_two_shown_ones_is_shown(tmp_path, embedder):
    # Both neighbours were picked for the question, the middle one (which holds the answer)
    # was not: it fills the gap, joining the two into one passage, unless turned off or the
    # budget has no room for it.
    from rag.config import Settings
    from rag.engine import Engine
    from rag.ingest.loading import article_from_upload
    from rag.retrieve.context import assemble_context

    engine = Engine(Settings(data_dir=tmp_path / "data"))
    engine.__dict__["embedder"] = embedder
    text = (
        "Harbour Plans\n\nThe harbour board approved a new ferry terminal on Monday. "
        "Norland and Vestia lead the plan jointly. The ferry terminal will open in 2028. "
        "Fishing boats keep their old quay."
    )
    engine.add_document(article_from_upload(text.encode(), doc_id="harbour"))
    question = "Who leads the ferry terminal plan?"

    def context(fill_gaps: bool, budget: int = 320) -> list[str]:
        with engine.store.reading():
            hits = [
                h
                for h in engine.retrieve(question).hits
                if "ferry terminal" in h.unit.text and "lead" not in h.unit.text
            ]
            passages = assemble_context(
                hits, engine.store, lambda t: len(t.split()), budget, fill_gaps=fill_gaps
            )
        return [p.text for p in passages]

    apart = context(False)
    assert len(apart) == 2 and not any("Norland" in t for t in apart)
    joined = context(True)
    assert (
        len(joined) == 1
        and "on Monday. Norland and Vestia lead the plan jointly. The" in (joined[0])
    )
    assert context(True, budget=len(" ".join(apart).split()) + 3) == apart
