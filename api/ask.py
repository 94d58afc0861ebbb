"""Questions: one checked answer, the same as a stream of events, and plain search."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.deps import AdmissionDep, EngineDep
from api.errors import documented, error_body, log, status_of
from api.models import (
    RedraftEvent,
    SentenceCitation,
    SentenceEvent,
    SourcesEvent,
    TokenEvent,
)
from api.streaming import SSE_HEADERS, last_result, run_events, sse
from rag.answer.citations import source_passages
from rag.engine import Engine, Prepared
from rag.errors import NewsdeskError
from rag.schemas import Answer, AskRequest, SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["ask"], responses=documented(400, 401, 413, 422))

SSE_SCHEMA = {
    "type": "object",
    "description": "One server-sent event; `data` is JSON.",
    "properties": {
        "event": {
            "type": "string",
            "enum": ["sources", "token", "redraft", "sentence", "answer", "error"],
        },
        "data": {
            "type": "string",
            "description": "The event's payload as JSON.",
            "contentMediaType": "application/json",
            "contentSchema": {
                "oneOf": [
                    {"$ref": f"#/components/schemas/{name}"}
                    for name in (
                        "SourcesEvent",
                        "TokenEvent",
                        "RedraftEvent",
                        "SentenceEvent",
                        "Answer",
                    )
                ]
            },
        },
    },
    "required": ["data"],
}
STREAM_DOC = {
    200: {
        "description": "Server-sent events: `sources` (the passages, before generation; "
        "SourcesEvent), `token` (the unchecked draft as it is decoded; TokenEvent), `redraft` "
        "(the model declined that draft and the tokens after it are a second one; RedraftEvent), "
        "`sentence` "
        "(each answer sentence as soon as it passes the check, numbered as the answer; "
        "SentenceEvent), then `answer` (the checked answer, the same body as /v1/ask), or "
        "`error` with the error shape.",
        "content": {"text/event-stream": {"schema": SSE_SCHEMA}},
    }
}
ASK_ERRORS = documented(404, 409, 503)


@router.post("/ask", response_model=Answer, responses=ASK_ERRORS)
async def ask(body: AskRequest, request: Request, engine: EngineDep, admission: AdmissionDep):
    """Answer a question from the articles, with citations to exact passages."""
    admission.enter()
    cancel = threading.Event()

    def produce(cancel: threading.Event) -> Iterator[Answer]:
        yield engine.ask(body.question, doc_ids=body.doc_ids, outlets=body.outlets, cancel=cancel)

    events = run_events(produce, cancel, lambda s, done: admission.leave(s, cancelled=not done))
    return await last_result(request, events, cancel)


@router.post(
    "/ask/stream", response_class=StreamingResponse, responses={**STREAM_DOC, **ASK_ERRORS}
)
async def ask_stream(body: AskRequest, engine: EngineDep, admission: AdmissionDep):
    """The answer as server-sent events: sources first, then the draft's tokens and each
    checked sentence as it passes, then the checked answer.

    Bad input, unknown filters and a full queue fail before the stream starts, with their
    status code; a failure during generation arrives as an `error` event."""
    admission.enter()
    try:
        prepared = await run_in_threadpool(
            engine.prepare, body.question, body.doc_ids, body.outlets
        )
    except BaseException:
        admission.leave()
        raise
    cancel = threading.Event()
    events = run_events(
        lambda c: _generate(engine, prepared, c),
        cancel,
        lambda s, done: admission.leave(s, cancelled=not done),
    )
    return StreamingResponse(
        _sse_stream(body.question, prepared, events),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


def _generate(engine: Engine, prepared: Prepared | Answer, cancel: threading.Event):
    if isinstance(prepared, Answer):
        yield prepared
        return
    for event in engine.generate(prepared, cancel):
        if event.answer is not None:
            yield event.answer
        elif event.kind == "sentence":
            cited = [SentenceCitation(n=n, passage=p) for n, p in event.cited]
            yield SentenceEvent(text=event.text, citations=cited)
        elif event.kind == "redraft":
            yield RedraftEvent(reason=event.text)
        else:
            yield event.text


async def _sse_stream(
    question: str,
    prepared: Prepared | Answer,
    events: AsyncIterator[Answer | SentenceEvent | RedraftEvent | str],
) -> AsyncIterator[bytes]:
    passages = (
        []
        if isinstance(prepared, Answer)
        else source_passages(prepared.passages, prepared.snapshot)
    )
    yield sse("sources", SourcesEvent(question=question, passages=passages))
    try:
        async for item in events:
            if isinstance(item, Answer):
                yield sse("answer", item)
            elif isinstance(item, SentenceEvent):
                yield sse("sentence", item)
            elif isinstance(item, RedraftEvent):
                yield sse("redraft", item)
            else:
                yield sse("token", TokenEvent(text=item))
    except NewsdeskError as exc:
        yield sse("error", error_body(exc.code, str(exc), status=status_of(exc)))
    except Exception:  # noqa: BLE001 - the status line is gone; the client still gets a reason
        log.exception("stream failed")
        yield sse("error", error_body("internal_error", "internal error; see the server log"))


@router.post(
    "/search", response_model=SearchResponse, tags=["search"], responses=documented(404, 409)
)
def search(body: SearchRequest, engine: EngineDep) -> SearchResponse:
    """Ranked passages with scores and character offsets; no generation."""
    return engine.search(body.query, limit=body.limit, doc_ids=body.doc_ids, outlets=body.outlets)
