"""The reading room: the page `newsdesk serve` shows at `/`, for people who read rather than
parse JSON.

Its files (api/web/) are plain HTML, CSS and one script, with no build step and nothing fetched
from elsewhere, so the page works offline. It is a client of the public API like any other,
so it can never show what the API would not. The files hold no data, so they are served
without the API key: the page has to load before it can ask for the key. A strict Content
Security Policy backs up the rule that article text is only ever rendered as text: even a
mistake there could not run a script that came in with an article.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB_DIR = Path(__file__).resolve().parent / "web"
PAGE_PATH = "/"
STATIC_PREFIX = "/static/"

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every load (an ETag answers 304), so an upgraded server never runs an old script.
    "Cache-Control": "no-cache",
}


def is_page_path(path: str) -> bool:
    """The paths that serve the page's own files, which the API key does not guard."""
    return path == PAGE_PATH or path.startswith(STATIC_PREFIX)


class _PageFiles(StaticFiles):
    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(PAGE_HEADERS)
        return response


def install_page(app: FastAPI) -> None:
    """Serve the page at `/` and its files under `/static/`, outside the OpenAPI spec (they are
    not part of the API, and the spec's fuzz run should not chase them)."""

    @app.get(PAGE_PATH, include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers=PAGE_HEADERS)

    app.mount(STATIC_PREFIX.rstrip("/"), _PageFiles(directory=WEB_DIR), name="static")
