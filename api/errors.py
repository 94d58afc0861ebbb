"""One error shape for every failure: `{"error": {"code": ..., "message": ...}}`.

Clients (ours, curl users, OpenAI libraries, which read `error.message`) parse one thing whatever
went wrong, from a bad question to a full queue to a bug.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from rag.errors import (
    BadDocument,
    BadQuestion,
    Cancelled,
    EmptyStore,
    ModelError,
    NewsdeskError,
    StoreUnavailable,
    UnknownDocuments,
)

log = logging.getLogger("newsdesk.api")

STATUS_OF = {
    BadQuestion: 422,
    BadDocument: 422,
    UnknownDocuments: 404,
    EmptyStore: 409,
    ModelError: 503,
    StoreUnavailable: 503,
    Cancelled: 499,
}
CODE_OF_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    503: "busy",
}


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


_WHY = {
    400: "The body could not be read (e.g. not UTF-8, a broken multipart form).",
    401: "Missing or wrong API key (only when NEWSDESK_API_KEY is set).",
    404: "No such document, or a filter names documents/outlets the store does not hold.",
    409: "The store holds no articles yet.",
    413: "The request body or document is over the size limit.",
    415: "Unsupported document type or content type.",
    422: "Invalid request.",
    503: "The model's queue is full (see Retry-After), or the model, the model server or "
    "the Chroma server is unavailable.",
}


def documented(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the error statuses an endpoint can return, all in the one shape."""
    return {s: {"model": ErrorBody, "description": _WHY[s]} for s in statuses}


class ApiError(Exception):
    """An HTTP failure raised by our own endpoints and middleware, with its code and headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


def status_of(exc: NewsdeskError) -> int:
    return STATUS_OF.get(type(exc), 500 if type(exc) is not NewsdeskError else 400)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, headers=exc.headers)

    @app.exception_handler(NewsdeskError)
    async def _newsdesk_error(_: Request, exc: NewsdeskError) -> JSONResponse:
        return error_response(status_of(exc), exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        message = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details)
        return error_response(422, "invalid_request", message or "invalid request", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = CODE_OF_STATUS.get(exc.status_code, "http_error")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return error_response(exc.status_code, code, str(exc.detail), headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "internal error; see the server log")


def _allowed_methods(request: Request) -> list[str]:
    """Every method any route serves at this path; Starlette's own Allow names only one route."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)
