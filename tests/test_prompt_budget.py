"""Every prompt fits the model's window, whatever the metadata and the question: the worst case
is counted with the model's own tokenizer and chat template (nothing is evaluated)."""

from __future__ import annotations

import pytest

from rag.config import Settings
from rag.engine import Engine, Prepared
from rag.errors import BadQuestion
from rag.frontend.chat import REWRITE_TOKENS, Conversation, Turn
from rag.ingest.loading import OUTLET_MAX, TITLE_MAX, article_from_upload
from rag.llm.generation import Generation
from rag.retrieve.context import assemble_context

pytestmark = pytest.mark.slow  # maps the GGUF model for its tokenizer and template

# A letter that the default model's vocabulary spells byte by byte: 4 tokens per character.
WIDE = "\U0001e900"
QUESTION = "How many visitors came to the harbour museum on Saturday?"


@pytest.fixture(scope="module")
def engine(tmp_path_factory, embedder) -> Engine:
    settings = Settings(data_dir=tmp_path_factory.mktemp("budget") / "data", min_relevance=0.0)
    engine = Engine(settings)
    engine.__dict__["embedder"] = embedder
    for i in range(12):
        text = " ".join(
            f"The harbour museum in Port Ellery opened hall {j} on Saturday and {i * 10 + j} "
            f"visitors from town {i} came."
            for j in range(4)
        )
        article = article_from_upload(
            text.encode(),
            doc_id=f"harbour-{i}",
            title=WIDE * TITLE_MAX,
            outlet=WIDE * OUTLET_MAX,
        )
        engine.add_document(article)
    return engine


def _tokens(engine: Engine, messages: list[dict[str, str]]) -> int:
    """Exactly what llama.cpp evaluates for these messages."""
    return len(engine.generator._system_turn.tokens(messages))  # type: ignore[attr-defined]


def test_the_worst_prompt_fits_the_window(engine):
    s = engine.settings
    question = f"{QUESTION} {WIDE * 500}"  # about 2,000 tokens
    prepared = engine.prepare(question)
    assert isinstance(prepared, Prepared) and prepared.passages
    assert all(p.document.outlet == WIDE * OUTLET_MAX for p in prepared.passages)

    assert _tokens(engine, prepared.messages) + s.max_tokens <= s.n_ctx
    # The support judge and the relevance check read the same passages with a reply as long
    # as the model may write in place of the question.
    rendered = engine.render_passages(prepared.passages)
    reply = "visitors " * s.max_tokens
    refs = list(range(1, len(rendered) + 1))
    texts = {n: p.text for n, p in enumerate(prepared.passages, 1)}
    [judge] = engine.prompts.judge_prompts(rendered, [(reply, refs)], texts)
    assert _tokens(engine, judge) < s.n_ctx
    relevance = engine.prompts.relevance_messages(rendered, prepared.q, reply)
    assert _tokens(engine, relevance) < s.n_ctx

    # Headers not counted (as before), the same hits would have overflowed the window.
    with engine.store.reading():
        unbounded = assemble_context(
            prepared.result.hits,
            engine.store,
            engine.count_tokens,
            budget_tokens=s.context_tokens,
            max_sentences=s.max_context_sentences,
        )
    rendered = engine.render_passages(unbounded)
    assert _tokens(engine, engine.prompts.messages(prepared.q, rendered)) > s.n_ctx


def test_a_question_too_long_for_the_window_is_refused(engine):
    with pytest.raises(BadQuestion, match="too long for the model's 4096-token context"):
        engine.prepare(f"{QUESTION} {WIDE * 1900}")


def test_a_long_conversation_loses_its_oldest_turns_to_fit(engine, monkeypatch):
    # The rewrite itself is not run (only its prompt is measured): a stand-in reply.
    prompts: list[list[dict[str, str]]] = []

    def chat(messages, max_tokens=256):
        prompts.append(messages)
        return Generation("How many visitors came to the museum?", 0, 0, 0.0)

    monkeypatch.setattr(engine.generator, "chat", chat)
    huge = WIDE * 1500  # about 6,000 tokens: one such turn alone overflows the window
    turns = [Turn(QUESTION, QUESTION, huge), Turn(QUESTION, QUESTION, "Four thousand [1].")]
    standalone = Conversation(engine, turns).standalone("And how many came on Sunday?")
    assert standalone == "How many visitors came to the museum?"
    (messages,) = prompts
    assert huge not in messages[0]["content"] and "Four thousand" in messages[0]["content"]
    assert _tokens(engine, messages) + REWRITE_TOKENS <= engine.settings.n_ctx
    # With nothing that fits, the question goes on as it was asked.
    prompts.clear()
    lone = Conversation(engine, [Turn(QUESTION, QUESTION, huge)])
    assert lone.standalone("And on Sunday?") == "And on Sunday?" and not prompts
