"""HTTP service over the engine.

The engine (and with it the model) is built once in the lifespan and handed to endpoints through
a dependency; endpoints are plain `def` so FastAPI runs them in its thread pool while the
generator's lock serialises access to llama.cpp.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.config import Settings
from rag.engine import Engine
from rag.errors import BadQuestion, EmptyStore, ModelError, NewsdeskError, UnknownDocuments
from rag.schemas import Answer, AskRequest, SearchRequest, SearchResponse

_STATUS = {BadQuestion: 422, UnknownDocuments: 404, EmptyStore: 409, ModelError: 503}


def _error(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app; pass an engine to share one that is already loaded (tests, `serve`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if engine is None:
            app.state.engine = Engine(settings or Settings())
            app.state.engine.warm_up()
        else:
            app.state.engine = engine
        yield

    app = FastAPI(
        title="newsdesk",
        version="0.1.0",
        summary="Offline question answering over news articles with verified citations.",
        lifespan=lifespan,
    )

    @app.exception_handler(NewsdeskError)
    async def _newsdesk_error(_: Request, exc: NewsdeskError) -> JSONResponse:
        return _error(_STATUS.get(type(exc), 500), exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        message = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in details)
        return _error(422, "invalid_request", message or "invalid request", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz(engine: EngineDep) -> JSONResponse:
        try:
            chunks = engine.store.count_chunks()
            model_loaded = "_generator" in engine.__dict__
        except NewsdeskError as exc:
            return _error(503, "not_ready", str(exc))
        body = {
            "status": "ready" if model_loaded else "loading",
            "chunks": chunks,
            "model": engine.model_name,
            "model_loaded": model_loaded,
        }
        return JSONResponse(body, status_code=200 if model_loaded else 503)

    @app.post("/v1/ask", response_model=Answer, tags=["ask"])
    def ask(body: AskRequest, engine: EngineDep) -> Answer:
        """Answer a question from the articles, with citations to exact passages."""
        return engine.ask(body.question, doc_ids=body.doc_ids, outlets=body.outlets)

    @app.post("/v1/search", response_model=SearchResponse, tags=["search"])
    def search(body: SearchRequest, engine: EngineDep) -> SearchResponse:
        """Ranked passages with scores and character offsets; no generation."""
        return engine.search(
            body.query, limit=body.limit, doc_ids=body.doc_ids, outlets=body.outlets
        )

    return app
