"""`POST /v1/chat/completions`, so OpenAI client libraries and chat UIs work unchanged.

The last user message is the question; earlier user/assistant turns only serve to rewrite a
follow-up into a standalone question (as `newsdesk chat` does). Client system prompts are
ignored: what the model is told is ours, and the articles are data. The content a client sees
is always the checked answer with its [n] markers; citations, abstention and conflicts ride in
the `newsdesk` extension field. Streaming sends the sources at once, then the checked answer
once it is verified (the unchecked draft is only streamed by /v1/ask/stream).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.ask import ASK_ERRORS
from api.deps import AdmissionDep, EngineDep
from api.errors import documented, error_body, log, status_of
from api.models import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    NewsdeskExtension,
    Usage,
)
from api.streaming import SSE_HEADERS, last_result, run_events, sse
from rag.answer.citations import source_passages
from rag.engine import Engine
from rag.errors import BadQuestion, NewsdeskError
from rag.frontend.chat import Conversation, Turn
from rag.llm.generation import TokenUsage, counting_usage
from rag.schemas import Answer

router = APIRouter(prefix="/v1", tags=["openai"], responses=documented(400, 401, 413, 422))
OPENAI_SSE_SCHEMA = {
    "type": "object",
    "description": "`data:` lines with chat.completion.chunk JSON, then `data: [DONE]`.",
    "properties": {"data": {"type": "string"}},
    "required": ["data"],
}


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {"content": {"text/event-stream": {"schema": OPENAI_SSE_SCHEMA}}},
        **ASK_ERRORS,
    },
)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, engine: EngineDep, admission: AdmissionDep
):
    """OpenAI-compatible chat over the articles (`stream` true or false)."""
    question, turns = _split(body)
    engine.check_question(question)
    admission.enter()
    cancel = threading.Event()
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    def produce(cancel: threading.Event) -> Iterator[tuple[str, object]]:
        # Every generation for this answer runs on this thread: count its tokens for `usage`.
        with counting_usage() as usage:
            standalone = Conversation(engine, turns).standalone(question)
            prepared = engine.prepare(standalone, body.doc_ids, body.outlets)
            if isinstance(prepared, Answer):
                yield "answer", (standalone, prepared, usage)
                return
            yield "sources", source_passages(prepared.passages, prepared.snapshot)
            for event in engine.generate(prepared, cancel):
                if event.kind == "sentence":
                    yield "sentence", event.text
                elif event.answer is not None:
                    yield "answer", (standalone, event.answer, usage)

    events = run_events(produce, cancel, lambda s, done: admission.leave(s, cancelled=not done))
    if not body.stream:
        _, (standalone, answer, usage) = await last_result(request, events, cancel)  # type: ignore[misc]
        return ChatCompletion(
            id=completion_id,
            created=created,
            model=engine.model_name,
            choices=[ChatChoice(message=AssistantMessage(content=answer.answer))],
            usage=_usage(usage),
            newsdesk=_extension(answer, standalone),
        )
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(
        _chunks(events, completion_id, created, engine, include_usage),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


def _split(body: ChatCompletionRequest) -> tuple[str, list[Turn]]:
    messages = [m for m in body.messages if m.role in ("user", "assistant")]
    if not messages or messages[-1].role != "user":
        raise BadQuestion("the last message must be the user's question")
    question = messages[-1].plain_text().strip()
    turns: list[Turn] = []
    pending: str | None = None
    for m in messages[:-1]:
        if m.role == "user":
            pending = m.plain_text().strip()
        elif pending:
            turns.append(Turn(pending, pending, m.plain_text().strip()))
            pending = None
    return question, turns


def _usage(usage: TokenUsage) -> Usage:
    return Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def _extension(answer: Answer, standalone: str) -> NewsdeskExtension:
    return NewsdeskExtension(**answer.model_dump(), standalone_question=standalone)


def _chunk(
    completion_id: str,
    created: int,
    model: str,
    delta: dict[str, str],
    finish: str | None = None,
    extension: dict[str, object] | None = None,
) -> dict[str, object]:
    chunk: dict[str, object] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    if extension is not None:
        chunk["newsdesk"] = extension
    return chunk


async def _chunks(
    events: AsyncIterator[tuple[str, object]],
    completion_id: str,
    created: int,
    engine: Engine,
    include_usage: bool = False,
) -> AsyncIterator[bytes]:
    model = engine.model_name
    started = False
    usage: TokenUsage | None = None
    sent = ""  # the checked text already streamed

    def opening(sources: list[dict[str, object]]) -> bytes:
        # The role chunk, with the passages the answer will cite (none when it abstained early).
        delta = {"role": "assistant"}
        return sse(
            None, _chunk(completion_id, created, model, delta, extension={"sources": sources})
        )

    try:
        async for kind, payload in events:
            if kind == "sources":
                yield opening([p.model_dump() for p in payload])  # type: ignore[attr-defined]
                started = True
                continue
            if kind == "sentence":
                # Each checked sentence as soon as it passes, while the model writes the next.
                piece = f" {payload}" if sent else str(payload)
                sent += piece
                yield sse(None, _chunk(completion_id, created, model, {"content": piece}))
                continue
            standalone, answer, usage = payload  # type: ignore[misc]
            if not started:
                yield opening([])
            # What the sentences did not already say (all of it when the answer declined).
            rest = answer.answer[len(sent) :] if answer.answer.startswith(sent) else answer.answer
            if sent and rest and rest is answer.answer:
                rest = "\n\n" + rest
            for piece in re.findall(r"\s*\S+", rest):
                yield sse(None, _chunk(completion_id, created, model, {"content": piece}))
            extension = _extension(answer, standalone).model_dump(mode="json")
            yield sse(None, _chunk(completion_id, created, model, {}, "stop", extension))
    except NewsdeskError as exc:
        yield sse(None, error_body(exc.code, str(exc), status=status_of(exc)))
    except Exception:  # noqa: BLE001
        log.exception("chat completion stream failed")
        yield sse(None, error_body("internal_error", "internal error; see the server log"))
    if include_usage and usage is not None:
        # OpenAI's shape: after the finish chunk, one with no choices and the request's usage.
        last = _chunk(completion_id, created, model, {})
        last["choices"] = []
        last["usage"] = _usage(usage).model_dump()
        yield sse(None, last)
    yield b"data: [DONE]\n\n"
