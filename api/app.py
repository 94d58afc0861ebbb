"""HTTP service over the engine.

The engine (and with it the model) is built once in the lifespan and handed to endpoints through
a dependency. Generation runs on worker threads behind the admission gate (one at a time per
model, a bounded queue, 503 past it); retrieval-only endpoints are plain `def` and run in
FastAPI's thread pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from api import ask, documents, internal, jobs, openai_compat
from api.admission import Admission
from api.deps import AdmissionDep, EngineDep
from api.errors import documented, error_response, install_error_handlers
from api.middleware import ApiKeyMiddleware, BodyLimitMiddleware
from api.page import install_page
from rag.config import Settings
from rag.engine import Engine
from rag.errors import NewsdeskError
from rag.index.postgres import shown_url
from rag.ingest.reindex import vector_store_problem


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app; pass an engine to share one that is already loaded (tests, `serve`).

    `settings` governs the HTTP layer (key, limits, queue, CORS); it defaults to the engine's."""
    settings = settings or (engine.settings if engine is not None else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if engine is None:
            app.state.engine = Engine(settings)
            app.state.engine.warm_up()
        else:
            app.state.engine = engine
        yield
        app.state.jobs.shutdown()

    app = FastAPI(
        title="newsdesk",
        version="0.2.0",
        summary="Offline question answering over news articles with verified citations.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.admission = Admission(settings.queue_size)
    app.state.jobs = jobs.Jobs()
    install_error_handlers(app)

    app.add_middleware(
        BodyLimitMiddleware,
        max_body=settings.max_body_bytes,
        max_upload=settings.max_upload_bytes,
    )
    if settings.api_key is not None and settings.api_key.get_secret_value():
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key.get_secret_value())
    if settings.cors_origins:
        # Outermost, so browsers' preflight requests are answered without a key.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up (no checks: for liveness probes). On the event loop itself, so a
        thread pool full of requests waiting for the store never delays it."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses=documented(503))
    def readyz(engine: EngineDep, admission: AdmissionDep) -> JSONResponse:
        """Ready to answer: the model is loaded, the store (vectors and documents) reachable
        and its vectors whole."""
        try:
            chunks = engine.store.count_chunks()
            engine.store.ping()  # a Chroma server that went away makes this replica unready
            lost = vector_store_problem(engine.store)  # deleted, short, or not answering
            model_loaded = "_generator" in engine.__dict__
        except NewsdeskError as exc:
            return error_response(503, "not_ready", str(exc))
        if lost:
            return error_response(503, "not_ready", lost)
        if not model_loaded:
            return error_response(
                503, "not_ready", f"the model {engine.model_name} is still loading"
            )
        database_url = engine.settings.database_url
        body = {
            "status": "ready",
            "chunks": chunks,
            "model": engine.model_name,
            "model_loaded": True,
            "vector_store": engine.settings.chroma_url or "local",
            "documents": shown_url(database_url) if database_url else "local",
            "generation": engine.settings.llm_url or "in-process",
            "queue": admission.stats(),
        }
        return JSONResponse(body)

    app.include_router(ask.router)
    app.include_router(openai_compat.router)
    app.include_router(documents.router)
    app.include_router(internal.router)
    app.include_router(jobs.router)
    install_page(app)
    app.openapi = lambda: _with_event_schemas(app)  # type: ignore[method-assign]
    return app


def _with_event_schemas(app: FastAPI) -> dict:
    """FastAPI documents response bodies, not the payloads inside a stream: add the SSE
    events' payload models to the schema's components, where `/v1/ask/stream` refers to them."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    from api.models import RedraftEvent, SentenceEvent, SourcesEvent, TokenEvent

    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (SourcesEvent, TokenEvent, RedraftEvent, SentenceEvent):
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in found.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components[model.__name__] = found
    app.openapi_schema = schema
    return schema
