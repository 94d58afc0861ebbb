"""OpenAI `usage` through the official `openai` client against a real server and model: the
counts are llama.cpp's own for the draft, the same whether the answer is streamed or not."""

from __future__ import annotations

import pytest
from conftest import live_server

from api.app import create_app
from rag.engine import Engine

QUESTION = "Who is the UK Defence Secretary?"


@pytest.fixture(scope="module")
def client(seeded_engine: Engine):
    openai = pytest.importorskip("openai")
    with live_server(create_app(engine=seeded_engine)) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=300)


@pytest.mark.slow
@pytest.mark.long
def test_usage_is_the_drafts_real_token_count_streamed_or_not(client, seeded_engine):
    messages = [{"role": "user", "content": QUESTION}]
    reply = client.chat.completions.create(model="newsdesk", messages=messages)
    usage = reply.usage
    assert usage is not None
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    # What llama.cpp itself reports for the same prompt: greedy decoding draws the same draft.
    prepared = seeded_engine.prepare(QUESTION)
    own = seeded_engine.generator.chat(
        prepared.messages, max_tokens=seeded_engine.settings.max_tokens
    )
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        own.prompt_tokens,
        own.completion_tokens,
    )
    assert usage.prompt_tokens > 100 and usage.completion_tokens > 0

    chunks = list(
        client.chat.completions.create(
            model="newsdesk",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    *answer, last = chunks
    assert last.choices == [] and last.usage is not None
    assert last.usage.model_dump() == usage.model_dump()
    assert all(c.usage is None for c in answer)
    assert answer[-1].choices[0].finish_reason == "stop"
    streamed = "".join(c.choices[0].delta.content or "" for c in answer)
    assert streamed == reply.choices[0].message.content


@pytest.mark.slow
@pytest.mark.long
def test_no_usage_chunk_unless_asked(client):
    chunks = list(
        client.chat.completions.create(
            model="newsdesk",
            messages=[{"role": "user", "content": "What is the capital of Mars?"}],
            stream=True,
        )
    )
    assert all(c.choices for c in chunks)  # every chunk is part of the answer
    assert chunks[-1].choices[0].finish_reason == "stop"
