"""Schemathesis hooks for `test_openapi_fuzz.py`: plant the characters no text input may carry.

Generated strings are always valid UTF-8 without surrogates, so on their own they never test
the one text rule. Here every other generated request gets one lone surrogate or control
character planted in one of its text fields (a question, a chat message, a document's text,
title or outlet...), chosen by a hash of the request so a run is repeatable. A lone surrogate
can only travel as a JSON escape; in a multipart upload the field gets a control character
and the file the bytes a surrogate would have in UTF-8. Each planted request's status is
appended to the file `NEWSDESK_FUZZ_LOG` names, so the test sees what they got.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

import schemathesis

BAD_TEXT = ("\ud800", "\udfff", "\x00", "\x07", "\x1b", "\x7f")
BAD_BYTES = (b"\xed\xa0\x80", b"\x00", b"\x07")
PLANTED = "x-newsdesk-fuzz-planted"


def _leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """Paths to every string (and bytes) value in a JSON-like body."""
    if isinstance(value, (str, bytes)):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return []


def _plant(value: Any, path: tuple, pick: int, multipart: bool) -> Any:
    if path:
        key, rest = path[0], path[1:]
        copy = dict(value) if isinstance(value, dict) else list(value)
        copy[key] = _plant(value[key], rest, pick, multipart)
        return copy
    at = pick % (len(value) + 1)
    if isinstance(value, bytes):
        return value[:at] + BAD_BYTES[pick % len(BAD_BYTES)] + value[at:]
    choices = [c for c in BAD_TEXT if not (multipart and "\ud800" <= c <= "\udfff")]
    return value[:at] + choices[pick % len(choices)] + value[at:]


def _choice(case: Any) -> tuple[tuple, int] | None:
    """Whether to plant in this request and where: a hash of it, so a run is repeatable."""
    body = case.body
    paths = _leaves(body) if isinstance(body, (dict, list, str)) else []
    seed = hashlib.sha256(repr((case.path, case.method, body)).encode("utf-8", "replace"))
    pick = int.from_bytes(seed.digest()[:8], "big")
    if not paths or pick % 2:
        return None
    return paths[(pick >> 1) % len(paths)], pick >> 8


_planted: dict[int, str] = {}  # id(case) -> where, until its response is logged


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """Multipart uploads: a control character in a field, or a bad byte in the file."""
    choice = _choice(case) if (case.media_type or "").startswith("multipart/") else None
    if choice is not None:
        path, pick = choice
        case.body = _plant(case.body, path, pick, multipart=True)
        case.headers = {**(case.headers or {}), PLANTED: _where(path)}
    return case


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """JSON bodies: any bad character, lone surrogates included, sent as JSON escapes. The
    body is replaced on the wire only: schemathesis cannot validate a surrogate itself."""
    if (case.headers or {}).get(PLANTED) is not None:
        _planted[id(case)] = case.headers[PLANTED]
        return
    if not (case.media_type or "").endswith("json"):
        return
    choice = _choice(case)
    if choice is None:
        return
    path, pick = choice
    try:
        kwargs["data"] = json.dumps(_plant(case.body, path, pick, multipart=False)).encode()
    except (TypeError, ValueError):  # a body that is not plain JSON data goes as generated
        return
    _planted[id(case)] = _where(path)


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    log = os.environ.get("NEWSDESK_FUZZ_LOG")
    where = _planted.pop(id(case), None)
    if log and where is not None:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{case.method} {case.path} {where} {response.status_code}\n")


def _where(path: tuple) -> str:
    # Field names are generated too: only a safe spelling goes into a header and the log.
    return re.sub(r"[^A-Za-z0-9_.-]", "?", ".".join(map(str, path))) or "body"
