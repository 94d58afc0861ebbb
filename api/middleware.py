"""Checks that run before any endpoint: the API key and the request body size.

Both are plain ASGI middleware so they also cover FastAPI's own routes (/docs, /openapi.json)
and reject a request before its body is read.
"""

from __future__ import annotations

import hmac
import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from api.page import is_page_path

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
UPLOAD_PATHS = frozenset({"/v1/documents"})
MULTIPART_OVERHEAD = 64_000  # headers and form fields around an upload


async def _send_error(
    send: Send, status: int, code: str, message: str, headers: list[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ApiKeyMiddleware:
    """When a key is configured, every path but the health checks and the page's own files
    needs `Bearer <key>`: the page carries no data and must load to ask for the key."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.expected = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or is_page_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        scheme, _, given = dict(scope["headers"]).get(b"authorization", b"").partition(b" ")
        # The scheme name is case-insensitive (RFC 7235); the key is compared in constant time.
        if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.expected):
            await _send_error(
                send,
                401,
                "unauthorized",
                "missing or wrong API key: send `Authorization: Bearer <NEWSDESK_API_KEY>`",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 for bodies over the limit, whether declared (Content-Length) or streamed."""

    def __init__(self, app: ASGIApp, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload + MULTIPART_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload if scope["path"] in UPLOAD_PATHS else self.max_body
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_error(
                send, 413, "payload_too_large", f"the request body is over {limit} bytes"
            )
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # FastAPI lets HTTPException through body parsing; our handler shapes it.
                    raise HTTPException(413, f"the request body is over {limit} bytes")
            return message

        await self.app(scope, limited, send)
