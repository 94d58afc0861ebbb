"""Sentence-aware chunks with character offsets into the original article.

Chunks end on sentence boundaries so a passage shown to the model never starts mid-claim, and they
overlap by whole sentences so a fact that straddles two chunks is still whole in one of them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from rag.ingest.loading import Article, Span

# Words whose trailing period does not end a sentence.
_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "gen",
    "lt",
    "col",
    "sgt",
    "capt",
    "gov",
    "sen",
    "rep",
    "rev",
    "vs",
    "etc",
    "inc",
    "ltd",
    "co",
    "corp",
    "no",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "approx",
    "dept",
    "fig",
    "e.g",
    "i.e",
}
_BOUNDARY_RE = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+|$)")
_WORD_RE = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    paragraph: int


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    index: int
    start: int
    end: int
    text: str
    sentences: tuple[Sentence, ...]


def count_words(text: str) -> int:
    return len(_WORD_RE.findall(text))


def _is_abbreviation(text: str, dot_pos: int) -> bool:
    """True when the '.' at dot_pos closes an abbreviation or an initial, not a sentence."""
    if text[dot_pos] != ".":
        return False
    i = dot_pos
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    word = text[i:dot_pos].strip("\"'“‘(").lower()
    if word in _ABBREVIATIONS:
        return True
    # Single initials ("J. Smith") and dotted acronyms ("U.S.") are not boundaries; a lone digit
    # or bracket is ("on Radio 1. It", "(£1.25bn ). Fosters").
    return (len(word) == 1 and word.isalpha()) or (
        len(word) <= 5 and "." in word and word.replace(".", "").isalpha()
    )


def split_sentences(text: str, span: Span, paragraph: int = 0) -> list[Sentence]:
    """Sentences within one paragraph span, as (start, end) offsets into `text`."""
    sentences: list[Sentence] = []
    start = span.start
    segment = text[span.start : span.end]
    for m in _BOUNDARY_RE.finditer(segment):
        end = span.start + m.end()
        if _is_abbreviation(text, span.start + m.start()):
            continue
        nxt = text[end : span.end].lstrip()
        if nxt and not (nxt[0].isupper() or nxt[0].isdigit() or nxt[0] in "\"'“‘(£$€"):
            continue
        if end > start:
            sentences.append(Sentence(start, end, paragraph))
        start = end
        while start < span.end and text[start].isspace():
            start += 1
    if start < span.end:
        sentences.append(Sentence(start, span.end, paragraph))
    return sentences


def article_sentences(article: Article) -> list[Sentence]:
    sentences: list[Sentence] = []
    for i, span in enumerate(article.body):
        sentences.extend(split_sentences(article.text, span, paragraph=i))
    return sentences


def _make_chunk(article: Article, index: int, sents: list[Sentence]) -> Chunk:
    start, end = sents[0].start, sents[-1].end
    # Join sentences, not the raw span, so dropped boilerplate between them never leaks in.
    parts: list[str] = []
    for prev, sent in zip([None, *sents[:-1]], sents, strict=True):
        if prev is not None:
            parts.append("\n" if sent.paragraph != prev.paragraph else " ")
        parts.append(article.text[sent.start : sent.end])
    digest = hashlib.sha1(f"{article.doc_id}:{start}:{end}".encode()).hexdigest()[:8]
    return Chunk(
        chunk_id=f"{article.doc_id}#{index}-{digest}",
        doc_id=article.doc_id,
        index=index,
        start=start,
        end=end,
        text="".join(parts),
        sentences=tuple(sents),
    )


def chunk_article(
    article: Article, min_words: int = 60, max_words: int = 200, overlap_sentences: int = 1
) -> list[Chunk]:
    """Greedy packing of whole sentences into chunks of roughly min..max words."""
    sentences = article_sentences(article)
    if not sentences:
        return []
    words = [count_words(article.text[s.start : s.end]) for s in sentences]

    groups: list[list[int]] = []
    current: list[int] = []
    current_words = 0
    fresh = 0  # sentences in `current` that are not overlap from the previous chunk
    for i, n in enumerate(words):
        if current and fresh and current_words + n > max_words and current_words >= min_words:
            groups.append(current)
            keep = current[-overlap_sentences:] if overlap_sentences > 0 else []
            # Overlap only when it leaves room for new material.
            if sum(words[j] for j in keep) + n > max_words:
                keep = []
            current, current_words, fresh = list(keep), sum(words[j] for j in keep), 0
        current.append(i)
        current_words += n
        fresh += 1
    if current and fresh:
        tail_new = [j for j in current if not groups or j not in groups[-1]]
        tail_words = sum(words[j] for j in tail_new)
        if (
            groups
            and tail_words < min_words
            and sum(words[j] for j in groups[-1]) + tail_words <= int(max_words * 1.3)
        ):
            groups[-1].extend(tail_new)
        else:
            groups.append(current)

    return [
        _make_chunk(article, idx, [sentences[j] for j in group]) for idx, group in enumerate(groups)
    ]
