"""Large uploads run as jobs: `202 Accepted` at once, then `GET /v1/jobs/{id}` for progress.

Embedding a long article takes tens of seconds on a laptop CPU: a 300 kB article has about
3,500 sentences. A request that stays open that long gets cut off by proxies and clients, and
its caller cannot tell stalled from busy. An upload whose text is over
`NEWSDESK_UPLOAD_JOB_BYTES` is queued instead. One worker thread runs the jobs in order, since
writes are serialised anyway. The job reports how many texts it has embedded, and in the end
the same result a direct upload returns. Jobs live in memory: a restart forgets them, and an
upload whose job did not finish was not stored.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from api.errors import ApiError, documented
from rag.errors import NewsdeskError

log = logging.getLogger("newsdesk.api")

KEEP_FINISHED = 200  # finished jobs remembered for GET, oldest forgotten first
MAX_PENDING = 16  # queued or running; past it 503 `busy`


class JobAccepted(BaseModel):
    job_id: str
    status: Literal["queued"] = "queued"
    url: str = Field(description="Where to follow the job: `GET /v1/jobs/{job_id}`.")


class JobProgress(BaseModel):
    stage: Literal["queued", "embedding", "writing", "finished"]
    done: int = Field(0, description="Distinct texts embedded so far.")
    total: int = Field(0, description="Distinct texts to embed (0 until known).")


class JobError(BaseModel):
    code: str
    message: str


class JobState(BaseModel):
    job_id: str
    status: Literal["queued", "running", "done", "failed"]
    progress: JobProgress
    result: dict[str, object] | None = Field(
        None, description="When done: the body a direct upload returns (`status`, `document`, ...)."
    )
    result_status: int | None = Field(
        None, description="When done: the HTTP status a direct upload would have had (201/200)."
    )
    error: JobError | None = None
    created_at: float
    finished_at: float | None = None


class Job:
    def __init__(self) -> None:
        self.state = JobState(
            job_id=uuid.uuid4().hex,
            status="queued",
            progress=JobProgress(stage="queued"),
            created_at=time.time(),
        )
        self._lock = threading.Lock()

    def progress(self, done: int, total: int) -> None:
        """The embedding's callback; once every text is embedded the store write follows."""
        with self._lock:
            stage = "writing" if done >= total else "embedding"
            self.state.progress = JobProgress(stage=stage, done=done, total=total)

    def snapshot(self) -> JobState:
        with self._lock:
            return self.state.model_copy(deep=True)

    def _set(self, **fields: object) -> None:
        with self._lock:
            self.state = self.state.model_copy(update=fields)


class Jobs:
    """The app's job queue: one worker thread, a bounded backlog, recent jobs kept for GET."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="newsdesk-upload")

    def submit(self, work: Callable[[Job], tuple[dict[str, object], int]]) -> Job:
        """Queue `work(job)`, which returns (result body, HTTP status of a direct upload)."""
        job = Job()
        with self._lock:
            pending = sum(1 for j in self._jobs.values() if j.state.status in ("queued", "running"))
            if pending >= MAX_PENDING:
                raise ApiError(
                    503,
                    "busy",
                    f"{pending} uploads are being processed: try again shortly",
                    headers={"Retry-After": "10"},
                )
            self._jobs[job.state.job_id] = job
            finished = [k for k, j in self._jobs.items() if j.state.finished_at is not None]
            for key in finished[: max(0, len(finished) - KEEP_FINISHED)]:
                del self._jobs[key]
        self._pool.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[Job], tuple[dict[str, object], int]]) -> None:
        job._set(status="running", progress=JobProgress(stage="embedding"))
        try:
            body, status = work(job)
        except NewsdeskError as exc:
            error = JobError(code=exc.code, message=str(exc))
            self._finish(job, "failed", error=error)
        except Exception:  # a bug: the job says so, the log has the traceback
            log.exception("upload job %s failed", job.state.job_id)
            error = JobError(code="internal_error", message="internal error; see the server log")
            self._finish(job, "failed", error=error)
        else:
            self._finish(job, "done", result=body, result_status=status)

    @staticmethod
    def _finish(job: Job, status: str, **fields: object) -> None:
        with job._lock:
            progress = job.state.progress.model_copy(update={"stage": "finished"})
            job.state = job.state.model_copy(
                update={
                    "status": status,
                    "progress": progress,
                    "finished_at": time.time(),
                    **fields,
                }
            )

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def get_jobs(request: Request) -> Jobs:
    return request.app.state.jobs


JobsDep = Annotated[Jobs, Depends(get_jobs)]

router = APIRouter(prefix="/v1/jobs", tags=["documents"], responses=documented(401))


@router.get("/{job_id}", response_model=JobState, responses=documented(404))
def get_job(
    job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="From the 202 reply.")],
    jobs: JobsDep,
) -> JobState:
    """A large upload's progress, then its result (or its error)."""
    job = jobs.get(job_id)
    if job is None:
        raise ApiError(404, "not_found", f"no job {job_id!r} (jobs are forgotten on restart)")
    return job.snapshot()
