"""Documents over HTTP: upload (file or raw text), list, read, delete.

An upload with the id of an existing document replaces it atomically (the store swaps versions
in one step), so re-uploading a corrected story never leaves duplicates behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.deps import EngineDep, SettingsDep
from api.errors import ApiError, documented
from api.jobs import JobAccepted, JobsDep
from api.models import (
    Deleted,
    DocumentDetail,
    DocumentIn,
    DocumentInfo,
    DocumentList,
    IngestResult,
)
from rag.errors import BadDocument, UnsupportedDocument
from rag.index.documents import DocumentRecord
from rag.ingest.loading import (
    DOC_ID_PATTERN,
    SUPPORTED_SUFFIXES,
    Article,
    article_from_upload,
    check_doc_id,
)
from rag.ingest.pipeline import text_hash
from rag.schemas import text_problem

router = APIRouter(
    prefix="/v1/documents", tags=["documents"], responses=documented(400, 401, 413, 422)
)

DocId = Annotated[str, Path(pattern=DOC_ID_PATTERN, max_length=128, description="A document id.")]

UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "title": {"type": "string"},
                        "outlet": {"type": "string"},
                        "doc_id": {
                            "type": "string",
                            "pattern": DOC_ID_PATTERN,
                            "maxLength": 128,
                        },
                    },
                }
            },
            "application/json": {"schema": DocumentIn.model_json_schema()},
        },
    }
}


def _info(doc: DocumentRecord) -> DocumentInfo:
    return DocumentInfo(
        doc_id=doc.doc_id,
        title=doc.title,
        outlet=doc.outlet,
        source_file=doc.source_file,
        chunks=doc.n_chunks,
        ingested_at=doc.ingested_at,
    )


@router.post(
    "",
    response_model=IngestResult,
    status_code=201,
    openapi_extra=UPLOAD_DOC,
    responses={
        200: {"model": IngestResult, "description": "Replaced or unchanged."},
        202: {"model": JobAccepted, "description": "A large upload, queued as a job."},
        **documented(415, 503),
    },
)
async def upload(
    request: Request, engine: EngineDep, settings: SettingsDep, jobs: JobsDep
) -> JSONResponse:
    """Add a document: a .txt/.md/.html file as multipart `file`, or JSON with raw `text`.

    201 when it is new, 200 when it replaced a changed version or was already there. An id
    derived from a file name or title replaces only a document of that same name; a different
    name whose id collides gets a new id. A text over NEWSDESK_UPLOAD_JOB_BYTES is queued: 202
    with a job id, and `GET /v1/jobs/{id}` follows it to the same result."""
    article = await _read_article(request, settings.max_upload_bytes)
    if len(article.text.encode("utf-8", "surrogatepass")) > settings.upload_job_bytes:
        job = jobs.submit(lambda job: _ingest(engine, article, job.progress))
        accepted = JobAccepted(job_id=job.state.job_id, url=f"/v1/jobs/{job.state.job_id}")
        return JSONResponse(
            accepted.model_dump(), status_code=202, headers={"Location": accepted.url}
        )
    body, status_code = await run_in_threadpool(_ingest, engine, article)
    return JSONResponse(body, status_code=status_code)


def _ingest(
    engine: EngineDep, article: Article, progress: Callable[[int, int], None] | None = None
) -> tuple[dict[str, object], int]:
    """Index the article; the response body and status of a direct upload."""
    status, written, replaced = engine.add_document(article, progress=progress)
    doc = engine.store.get_document(article.doc_id)
    assert doc is not None
    result = IngestResult(
        status="replaced" if status == "updated" else status,  # type: ignore[arg-type]
        chunks_written=written,
        document=_info(doc),
        sha256=text_hash(article.text),
        replaced_hash=replaced,
    )
    return result.model_dump(), 201 if status == "added" else 200


async def _read_article(request: Request, limit: int) -> Article:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=8, max_part_size=limit)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "invalid_request", "multipart upload needs a `file` part")
        data = await upload.read(limit + 1)
        _check_size(len(data), limit)
        fields = {k: form.get(k) for k in ("title", "outlet", "doc_id")}
        if any(v is not None and not isinstance(v, str) for v in fields.values()):
            raise ApiError(422, "invalid_request", "title, outlet and doc_id must be text fields")
        for name, value in fields.items():
            problem = text_problem(value) if isinstance(value, str) else None
            if problem:
                raise ApiError(422, "invalid_request", f"{name} {problem}")
        # Decoding and parsing up to 2 MB is CPU work: off the event loop, which serves /healthz.
        name = upload.filename or "upload.txt"
        return await run_in_threadpool(_article, data, name, **fields)  # type: ignore[arg-type]
    if kind == "application/json":
        try:
            body = DocumentIn.model_validate_json(await request.body())
        except ValidationError as exc:
            message = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            raise ApiError(422, "invalid_request", message) from None
        data = body.text.encode("utf-8")
        _check_size(len(data), limit)
        return await run_in_threadpool(_article, data, None, body.title, body.outlet, body.doc_id)
    raise ApiError(
        415,
        "unsupported_media_type",
        f"send multipart/form-data with a `file` ({', '.join(SUPPORTED_SUFFIXES)}) or "
        f"application/json with `text`, not {kind or 'no content type'}",
    )


def _check_size(size: int, limit: int) -> None:
    if size > limit:
        raise ApiError(413, "payload_too_large", f"the document is over the {limit}-byte limit")


def _article(
    data: bytes,
    file_name: str | None,
    title: str | None = None,
    outlet: str | None = None,
    doc_id: str | None = None,
) -> Article:
    try:
        return article_from_upload(
            data, file_name, doc_id=doc_id or None, title=title, outlet=outlet
        )
    except BadDocument as exc:
        status = 415 if isinstance(exc, UnsupportedDocument) else 422
        raise ApiError(status, exc.code, str(exc)) from None


@router.get("", response_model=DocumentList)
def list_documents(engine: EngineDep) -> DocumentList:
    """Every document in the store, by id."""
    return DocumentList(documents=[_info(d) for d in engine.store.list_documents()])


@router.get("/{doc_id}", response_model=DocumentDetail, responses=documented(404))
def get_document(doc_id: DocId, engine: EngineDep) -> DocumentDetail:
    """One document with the original text that citation offsets point into."""
    doc = _existing(doc_id, engine)
    return DocumentDetail(**_info(doc).model_dump(), text=engine.store.document_text(doc_id))


@router.delete("/{doc_id}", response_model=Deleted, responses=documented(404))
def delete_document(doc_id: DocId, engine: EngineDep) -> Deleted:
    """Remove a document, its passages and its vectors."""
    _existing(doc_id, engine)
    if not engine.delete_document(doc_id):
        raise ApiError(404, "not_found", f"no document {doc_id!r}")
    return Deleted(doc_id=doc_id)


def _existing(doc_id: str, engine: EngineDep) -> DocumentRecord:
    try:
        check_doc_id(doc_id)
    except BadDocument as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    doc = engine.store.get_document(doc_id)
    if doc is None:
        raise ApiError(404, "not_found", f"no document {doc_id!r}")
    return doc
