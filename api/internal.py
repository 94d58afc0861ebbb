"""Writes that `newsdesk ingest` sends to the server that owns its data dir (see `rag.index.owner`).

Only the CLI uses these, so they are left out of the OpenAPI spec. Each request must carry the
owner token from the data dir's `server.json`, which only a user who can read the data dir
holds. That token is what allows the server to read a file named in the request: a caller who
can read it can already read and change everything in the data dir. The API key is still
required when one is set.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Header
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import EngineDep
from api.errors import ApiError
from rag.errors import NewsdeskError
from rag.index.owner import TOKEN_HEADER, token_matches
from rag.ingest.loading import find_article_files, load_article
from rag.ingest.pipeline import removed_from_folders

router = APIRouter(prefix="/v1/internal", include_in_schema=False)


class FileIn(BaseModel):
    path: str = Field(min_length=1, max_length=4096)


class PathsIn(BaseModel):
    paths: list[str] = Field(min_length=1, max_length=10_000)


def _check_owner(engine: EngineDep, token: str | None) -> None:
    if not token_matches(engine.settings.data_dir, token):
        raise ApiError(
            403,
            "forbidden",
            "this server does not own that data dir, or the owner token is wrong: run "
            "`newsdesk ingest` with the same --data-dir as the server",
        )


def _absolute(raw: str) -> Path:
    path = Path(raw)
    if not path.is_absolute() or "\0" in raw:
        raise ApiError(422, "invalid_request", f"not an absolute path: {raw!r}")
    return path


@router.post("/ingest")
async def ingest_file(
    body: FileIn,
    engine: EngineDep,
    owner: str | None = Header(None, alias=TOKEN_HEADER),
) -> dict[str, object]:
    """One file of a CLI ingest, read and indexed exactly as a local ingest would."""
    _check_owner(engine, owner)
    path = _absolute(body.path)

    def run() -> dict[str, object]:
        find_article_files([path])  # missing files and other types fail as they do locally
        if path.is_dir():
            raise NewsdeskError(f"{path} is a folder: send its files one by one")
        article = load_article(path)
        status, written, _ = engine.add_document(article, source_path=str(path.resolve()))
        return {"status": status, "chunks_written": written, "doc_id": article.doc_id}

    try:
        return await run_in_threadpool(run)
    except NewsdeskError as exc:
        raise ApiError(422, "bad_document", str(exc)) from None


@router.post("/sweep")
async def sweep(
    body: PathsIn,
    engine: EngineDep,
    owner: str | None = Header(None, alias=TOKEN_HEADER),
) -> dict[str, object]:
    """The end of a CLI ingest: files gone from an ingested folder take their documents."""
    _check_owner(engine, owner)
    paths = [_absolute(p) for p in body.paths]

    def run() -> dict[str, object]:
        files = find_article_files(paths)
        deleted = [
            doc_id
            for doc_id in removed_from_folders(engine.store, paths, files)
            if engine.delete_document(doc_id)
        ]
        return {"deleted": deleted, "chunks": engine.store.count_chunks()}

    try:
        return await run_in_threadpool(run)
    except NewsdeskError as exc:
        raise ApiError(422, "bad_request", str(exc)) from None
