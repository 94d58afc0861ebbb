"""Read the model's [n] markers and tie each one to an exact span of an original article."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rag.index.documents import DocumentRecord, Unit
from rag.index.store import Store
from rag.retrieve.context import Passage
from rag.schemas import Citation, SourcePassage, SourceSpan

# [1], [1, 2], [1][2], [1-2] and the like.
_MARKER_RE = re.compile(r"\[\s*(\d+(?:\s*(?:,|;|-|–|and)\s*\d+)*)\s*\]")
_ABSTAIN_RE = re.compile(
    r"(articles?|passages?|sources?|texts?)\s+(do not|don't|does not|doesn't|did not)\s+"
    r"(say|mention|contain|state|specify|provide|include|answer|indicate)"
    r"|\bnot (mentioned|stated|specified|provided|included) in the (articles?|passages?|sources?)"
    r"|\bI (do not|don't) know\b|\bno information\b|\bcannot (answer|determine)\b",
    re.IGNORECASE,
)


# A sentence ends at . ! ? (after closing quotes) plus any markers that follow it, when the next
# thing starts a new sentence; common abbreviations are not ends.
_ANSWER_SENTENCE_RE = re.compile(
    r"\S.*?(?:(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\b[A-Z])(?<!\.\.)[.!?]"
    r"[\"”’)]*(?:\s*\[\d+\])*(?=\s+[A-Z\"“(]|\s*$)|$)",
    re.DOTALL,
)
_ANY_MARKER_RE = re.compile(r"\[\d+\]")


def strip_markers(text: str) -> str:
    return _ANY_MARKER_RE.sub("", text)


def answer_sentences(answer: str) -> list[str]:
    """Sentences of an answer, each keeping the [n] markers that close it."""
    found = [m.group(0).strip() for m in _ANSWER_SENTENCE_RE.finditer(answer.strip())]
    return [s for s in found if strip_markers(s).strip(" .")]


def _expand(group: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|;|and)\s*", group):
        if re.fullmatch(r"\d+\s*[-–]\s*\d+", part):
            a, b = (int(x) for x in re.split(r"[-–]", part))
            numbers.extend(range(a, b + 1) if 0 < b - a < 10 else [a, b])
        elif part.strip().isdigit():
            numbers.append(int(part))
    return numbers


def normalise_markers(answer: str, n_passages: int) -> tuple[str, list[int]]:
    """Rewrite markers as [1][2], drop numbers with no passage; returns text and cited order."""
    cited: list[int] = []

    def replace(m: re.Match[str]) -> str:
        valid = [n for n in _expand(m.group(1)) if 1 <= n <= n_passages]
        for n in valid:
            if n not in cited:
                cited.append(n)
        return "".join(f"[{n}]" for n in dict.fromkeys(valid))

    text = _MARKER_RE.sub(replace, answer)
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    return text, cited


def markers_of(text: str) -> list[int]:
    """The [n] numbers a text cites, in order of first appearance."""
    return list(dict.fromkeys(int(m) for m in re.findall(r"\[(\d+)\]", text)))


def display_numbers(text: str, cited: list[int]) -> dict[int, int]:
    """Passage number -> the number a reader sees: 1, 2, … in order of first appearance in
    the text, then any other cited passage (a side of a disagreement) in the given order."""
    shown: dict[int, int] = {}
    for n in markers_of(text) + cited:
        shown.setdefault(n, len(shown) + 1)
    return shown


def renumber(text: str, shown: dict[int, int]) -> str:
    return re.sub(r"\[(\d+)\]", lambda m: f"[{shown.get(int(m.group(1)), m.group(1))}]", text)


def is_abstention(answer: str) -> bool:
    return bool(_ABSTAIN_RE.search(answer))


@dataclass(frozen=True)
class Snapshot:
    """The articles a question saw, read once while retrieval held the store's read lock.

    Citations are built seconds later, after generation; a document replaced in between must not
    shift their offsets, so quotes come from the version that was retrieved, never a newer one."""

    texts: dict[str, str]
    documents: dict[str, DocumentRecord]
    # The stored sentence units of the passages' own articles: what the conflict check reads
    # beyond the passages, split exactly as ingest split them (no headline or "Source:" line).
    # Empty unless asked for: only a question about a title or role reads them.
    sentences: dict[str, list[Unit]]


def take_snapshot(passages: list[Passage], store: Store, sentences: bool = False) -> Snapshot:
    own = dict.fromkeys(p.document.doc_id for p in passages)
    ids = set(own) | {a.doc_id for p in passages for a in p.also_in}
    documents = store.get_documents(ids)
    return Snapshot(
        {d: store.document_text(d) for d in documents},
        documents,
        {d: store.document_units("sentences", d) for d in own if d in documents}
        if sentences
        else {},
    )


def span_fields(doc: DocumentRecord, start: int, end: int, snapshot: Snapshot) -> dict[str, Any]:
    """What every cited or shown span reports about itself; `quote` is the retrieved version's
    text at [start, end), so it always equals the original article at those offsets."""
    return {
        "doc_id": doc.doc_id,
        "source_file": doc.source_file,
        "title": doc.title,
        "outlet": doc.outlet,
        "start": start,
        "end": end,
        "quote": snapshot.texts[doc.doc_id][start:end],
    }


def source_spans(passage: Passage, snapshot: Snapshot) -> list[SourceSpan]:
    """The other articles that carry a passage, with their own exact spans."""
    docs = snapshot.documents
    spans = []
    for a in passage.also_in:
        other = docs.get(a.doc_id)
        if other is None:
            continue
        spans.append(SourceSpan(**span_fields(other, a.start, a.end, snapshot)))
    return spans


def build_citations(
    cited: list[int],
    passages: list[Passage],
    snapshot: Snapshot,
    supported: bool | None = None,
    windows: dict[int, tuple[int, int]] | None = None,
    carries: Callable[[int, str], bool] | None = None,
) -> list[Citation]:
    """One citation per cited passage; `quote` is the original text at [start, end).

    `windows` narrows passage n to the sentences the answer leans on (first, last), so the
    quote is the smallest span that supports the sentence, not everything the model saw.
    `carries(n, text)` keeps only the other articles' copies that state what n is cited for."""
    citations: list[Citation] = []
    for n in cited:
        p = passages[n - 1]
        if windows and n in windows:
            p = p.window(*windows[n])
        also = source_spans(p, snapshot)
        if carries is not None:
            also = [a for a in also if carries(n, f"{a.outlet or ''} {a.title} {a.quote}")]
        citations.append(
            Citation(
                n=n,
                **span_fields(p.document, p.start, p.end, snapshot),
                chunk_id=p.chunk_id,
                score=round(p.score, 6),
                also_in=also,
                supported=supported,
            )
        )
    return citations


def source_passages(passages: list[Passage], snapshot: Snapshot) -> list[SourcePassage]:
    """The numbered passages as shown to the model, quoted from the retrieved version."""
    return [
        SourcePassage(
            n=n, **span_fields(p.document, p.start, p.end, snapshot), score=round(p.score, 6)
        )
        for n, p in enumerate(passages, start=1)
    ]
