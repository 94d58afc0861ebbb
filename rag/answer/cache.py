"""Answers already given, handed back while nothing they depend on has changed.

Decoding is greedy, so one question over the same articles, with the same model and settings,
gets the same answer every time; asking it again (a reloaded page, a repeated command, a shared
link) need not pay the model's seconds again. The key names everything an answer depends on:
the question as checked, its filters, the model, the settings and the store's version (a digest
of every document's content), so an upload, re-upload or delete by any process makes every
older entry unreachable. Entries live in this process only; the least recently used go first.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict

from rag.schemas import Answer


def answer_key(
    question: str,
    doc_ids: list[str] | None,
    outlets: list[str] | None,
    model: str,
    settings: str,
    store_version: str,
) -> str:
    """The entry an answer is kept under; filters are sets, so their order does not matter."""
    parts = [
        question,
        sorted(set(doc_ids)) if doc_ids is not None else None,
        sorted({o.lower() for o in outlets}) if outlets is not None else None,
        model,
        settings,
        store_version,
    ]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


class AnswerCache:
    """At most `size` answers, by key; `size` 0 keeps nothing."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Answer | None:
        """A copy, so a caller that edits its answer cannot change what the next one gets."""
        with self._lock:
            answer = self._entries.get(key)
            if answer is None:
                return None
            self._entries.move_to_end(key)
        return answer.model_copy(deep=True)

    def put(self, key: str, answer: Answer) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries[key] = answer.model_copy(deep=True)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
