"""Blocking engine work on a thread, consumed by async endpoints, cancelled when clients leave.

Generation holds llama.cpp for seconds, so it runs on its own thread and hands events to the
event loop through a queue. Whoever consumes the events (a streaming response, or an endpoint
waiting for one answer) sets the cancel flag when it stops early: the engine checks the flag
between tokens, so a client that disconnects frees the model within one token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel

T = TypeVar("T")
_DONE = object()


def run_events(
    produce: Callable[[threading.Event], Iterable[T]],
    cancel: threading.Event,
    on_finish: Callable[[float, bool], None],
) -> AsyncIterator[T]:
    """Iterate `produce(cancel)` on a new thread; `on_finish(seconds, completed)` runs there.

    The returned async iterator re-raises the thread's exception, and closing it early sets
    `cancel`."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[object, Any]] = asyncio.Queue()

    def put(kind: object, item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: the server is stopping
            loop.call_soon_threadsafe(queue.put_nowait, (kind, item))

    def work() -> None:
        started = time.perf_counter()
        completed = False
        try:
            for item in produce(cancel):
                put(None, item)
            completed = not cancel.is_set()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(exc, None)
        finally:
            on_finish(time.perf_counter() - started, completed)
            put(_DONE, None)

    threading.Thread(target=work, name="newsdesk-generate", daemon=True).start()

    async def events() -> AsyncIterator[T]:
        done = False
        try:
            while True:
                kind, item = await queue.get()
                if kind is _DONE:
                    done = True
                    return
                if isinstance(kind, BaseException):
                    raise kind
                yield item
        finally:
            if not done:
                cancel.set()  # the consumer stopped early: the client went away

    return events()


async def watch_disconnect(request: Request, cancel: threading.Event, every: float = 0.25) -> None:
    """For non-streaming answers: notice a client that hung up while the model was working."""
    while not cancel.is_set():
        if await request.is_disconnected():
            cancel.set()
            return
        await asyncio.sleep(every)


async def last_result(request: Request, events: AsyncIterator[T], cancel: threading.Event) -> T:
    """The final item of `events`, cancelling the work if the client disconnects first."""
    watcher = asyncio.create_task(watch_disconnect(request, cancel))
    result: list[T] = []
    try:
        async for item in events:
            result[:] = [item]
    finally:
        watcher.cancel()
    if not result:
        raise RuntimeError("the worker produced no result")
    return result[0]


def sse(event: str | None, data: BaseModel | dict[str, Any] | str) -> bytes:
    """One server-sent event; `event=None` gives a bare `data:` line (OpenAI's stream format)."""
    if isinstance(data, BaseModel):
        payload = data.model_dump_json()
    elif isinstance(data, str):
        payload = data
    else:
        payload = json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
