"""The system turn's evaluated KV cache, kept on disk so a new process does not compute it again.

Every prompt starts with the same system turn (instructions and a worked example, about 310
tokens). On two cores llama.cpp evaluates it in about 5 s, which was a third of cold start;
reading it back from a file takes a fraction of a second. The file holds llama.cpp's own
state bytes for exactly those tokens, so the cache after a restore is the cache after an
evaluation, bit for bit, and the drafts that follow are the same.

A file is used only for the model file, llama.cpp build, context and batch settings and
tokens it was written for (all in its name), and only when its checksum holds; anything else
is evaluated as before and the file rewritten. It is an optimisation: failing to read or
write one never stops an answer.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_MAGIC = b"NDKV1\n"
_DIGEST = 32  # sha256 of the rest of the file


def state_path(directory: Path, identity: str, tokens: list[int]) -> Path:
    """Where the state for these tokens under this model identity lives."""
    h = hashlib.sha256(identity.encode("utf-8"))
    h.update(np.asarray(tokens, dtype="<i4").tobytes())
    return directory / f"system-{h.hexdigest()[:24]}.kv"


def save(llm: Any, path: Path, tokens: list[int]) -> bool:
    """Write the state of a cache that holds exactly `tokens`; False (and a warning) on failure."""
    import llama_cpp

    tmp: str | None = None
    try:
        size = llama_cpp.llama_state_get_size(llm._ctx.ctx)
        buffer = (ctypes.c_uint8 * int(size))()
        written = int(llama_cpp.llama_state_get_data(llm._ctx.ctx, buffer, size))
        body = (
            struct.pack("<I", len(tokens))
            + np.asarray(tokens, dtype="<i4").tobytes()
            + bytes(buffer)[:written]
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC + hashlib.sha256(body).digest() + body)
        os.replace(tmp, path)
        return True
    except OSError as exc:
        log.warning("could not keep the system prompt's KV cache in %s: %s", path, exc)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return False


def restore(llm: Any, path: Path, tokens: list[int]) -> bool:
    """Load the state written for `tokens`, leaving the cache holding exactly them. False when
    there is no usable file; the cache is then empty, ready for an evaluation."""
    import llama_cpp

    llm.reset()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("could not read %s: %s", path, exc)
        return False
    head = len(_MAGIC) + _DIGEST
    body = data[head:]
    intact = (
        data[: len(_MAGIC)] == _MAGIC
        and hashlib.sha256(body).digest() == data[len(_MAGIC) : head]
        and len(body) >= 4
    )
    n = struct.unpack_from("<I", body)[0] if intact else 0
    if not intact or len(body) < 4 + 4 * n:
        log.warning("ignoring %s: not a complete KV state file", path)
        return False
    saved = np.frombuffer(body, dtype="<i4", count=n, offset=4)
    if saved.tolist() != list(tokens):
        return False  # a hash collision of the name: evaluate instead
    state = body[4 + 4 * n :]
    buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
    if int(llama_cpp.llama_state_set_data(llm._ctx.ctx, buffer, len(state))) != len(state):
        log.warning("ignoring %s: llama.cpp did not accept it", path)
        llm.reset()  # the next evaluation clears the cache from position 0
        return False
    llm.input_ids[:n] = saved
    llm.n_tokens = n
    llm._requires_eval = True  # as Llama.load_state leaves it: no stored logits are reused
    return True
