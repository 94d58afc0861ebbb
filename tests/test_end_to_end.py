"""The whole path with real parts: seeds → Chroma → MiniLM → the default GGUF → cited answer."""

from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT

SEEDS = PROJECT_ROOT / "seeds"
QUESTION = "Which countries refused to send troops to Ukraine?"

pytestmark = pytest.mark.slow


def assert_citations_are_exact(answer) -> None:
    for c in answer.citations:
        raw = (SEEDS / c.source_file).read_text(encoding="utf-8")
        assert c.quote == raw[c.start : c.end]
        assert f"[{c.n}]" in answer.answer


@pytest.fixture(scope="module")
def troops_answer(seeded_engine):
    return seeded_engine.ask(QUESTION)


def test_troops_question_answered_from_the_refusal_passages(troops_answer, seeded_engine):
    answer = troops_answer
    assert answer.answerable, answer.answer
    assert "italy" in answer.answer.lower(), answer.answer
    cited_docs = {c.doc_id for c in answer.citations}
    assert cited_docs & {"000_0ab7ffefb9095089", "002_e7c760b7ca99449a"}, answer.citations
    assert_citations_are_exact(answer)
    assert answer.timings.total_ms >= answer.timings.generate_ms > 0
    assert answer.model == "qwen2.5-coder-1.5b"
    # The passage that names Germany ("ruled out deploying troops", 000) reaches the model.
    passages = seeded_engine.context(seeded_engine.retrieve(QUESTION))
    assert any("Germany" in p.text for p in passages)


@pytest.mark.xfail(
    strict=True,
    reason="known gap: the 1.5B model copies the top passage (Italy, 002) and does not merge "
    "000's differently worded 'Germany ... ruled out deploying troops' into its answer",
)
def test_troops_question_names_germany_and_italy(troops_answer):
    text = troops_answer.answer.lower()
    assert "germany" in text and "italy" in text, troops_answer.answer


def test_off_topic_question_abstains_without_citations(seeded_engine):
    answer = seeded_engine.ask("Who won the 1998 football World Cup final?")
    assert not answer.answerable
    assert answer.citations == []
    assert answer.abstain_reason in {"no_relevant_passages", "model_declined"}


def test_doc_filter_limits_citations(seeded_engine):
    answer = seeded_engine.ask(
        "What did Pete Hegseth call the accusations?", doc_ids=["003_bd8b585c81707f01"]
    )
    assert {c.doc_id for c in answer.citations} <= {"003_bd8b585c81707f01"}
    if answer.answerable:
        assert "garbage" in answer.answer.lower()


def test_empty_store_says_how_to_ingest(tmp_path: Path):
    from rag.config import Settings
    from rag.engine import Engine
    from rag.errors import EmptyStore

    with pytest.raises(EmptyStore, match="newsdesk ingest"):
        Engine(Settings(data_dir=tmp_path / "empty")).ask(QUESTION)
