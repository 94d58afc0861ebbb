"""Read an article file and find the parts of it worth indexing.

Nothing is rewritten: the article keeps its original text, and cleaning only decides which spans of
that text are body. Every later offset (chunks, citations, quotes) therefore points into the file
as the user has it, so `text[start:end]` always shows the exact passage.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import BadDocument, NewsdeskError, UnsupportedDocument
from rag.ingest.html_text import html_to_article

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm")
HTML_SUFFIXES = (".html", ".htm")
# Ids travel in URLs and filters: letters, digits, dot, dash, underscore; never a path.
# A dot is always followed by a non-dot, so ".." can never appear (no lookahead: the pattern is
# also checked by pydantic's regex engine and published in the OpenAPI schema).
DOC_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$"
DOC_ID_MAX = 128
# Metadata travels into every prompt header and listing: an outlet is a name, not a paragraph.
OUTLET_MAX = 200
TITLE_MAX = 300
DOC_ID_RE = re.compile(DOC_ID_PATTERN)

_SOURCE_RE = re.compile(r"^\s*source\s*:\s*(?P<outlet>.+?)\s*$", re.IGNORECASE)
_READ_FULL_RE = re.compile(
    r"^\s*read the full (?:article|story)(?: from (?:the )?(?P<outlet>.+?))?(?: here)?\s*[:.]?"
    r"(?:\s*read more)?\s*$",
    re.IGNORECASE,
)
_BOILERPLATE_RE = re.compile(
    r"^\s*(?:read more|click here.*|share this.*|advertisement|sign up.*newsletter.*)\s*$",
    re.IGNORECASE,
)
_SENTENCE_END = (".", "!", "?", '"', "”", "’", "'", ")", ":")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass
class Article:
    doc_id: str
    source_file: str
    text: str
    title: str
    outlet: str | None
    body: list[Span] = field(default_factory=list)
    headline: Span | None = None
    # The file name or title the id was made from; None when the client named the id. A derived
    # id only ever replaces a document of that same name (`rag.ingest.pipeline.settle_doc_id`).
    derived_from: str | None = None

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def _lines_with_offsets(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line's content, end excluding the line break."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        content = raw.rstrip("\r\n")
        spans.append((pos, pos + len(content)))
        pos += len(raw)
    return spans


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _looks_like_headline(line: str) -> bool:
    words = line.split()
    return 0 < len(words) <= 20 and len(line) <= 160 and not line.rstrip().endswith(_SENTENCE_END)


def _is_trailing_junk(line: str) -> bool:
    """Stray fragments after the story such as `SMS/` (short, no sentence, no real words)."""
    return len(line) <= 12 and not line.endswith(_SENTENCE_END) and len(line.split()) <= 2


def parse_article(text: str, doc_id: str, source_file: str) -> Article:
    """Split raw article text into headline, outlet and body spans; offsets stay original."""
    lines = []
    for start, end in _lines_with_offsets(text):
        s, e = _strip_span(text, start, end)
        if s < e:
            lines.append(Span(s, e))

    outlet: str | None = None
    body: list[Span] = []
    for span in lines:
        line = text[span.start : span.end]
        if m := _SOURCE_RE.match(line):
            outlet = outlet or m.group("outlet")
            continue
        if m := _READ_FULL_RE.match(line):
            if m.group("outlet") and not outlet:
                outlet = m.group("outlet").strip()
            continue
        if _BOILERPLATE_RE.match(line):
            continue
        body.append(span)

    while body and _is_trailing_junk(text[body[-1].start : body[-1].end]):
        body.pop()

    headline: Span | None = None
    if len(body) > 1 and _looks_like_headline(text[body[0].start : body[0].end]):
        headline = body.pop(0)

    if headline is not None:
        title = text[headline.start : headline.end]
    elif body:
        first = text[body[0].start : body[0].end]
        title = first if len(first) <= 90 else first[:90].rsplit(" ", 1)[0] + "…"
    else:
        title = doc_id
    return Article(
        doc_id=doc_id,
        source_file=source_file,
        text=text,
        title=bounded(title, TITLE_MAX),
        outlet=bounded(outlet, OUTLET_MAX) if outlet else None,
        body=body,
        headline=headline,
    )


def read_text_file(path: Path) -> str:
    """Decode keeping line endings, so offsets match the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NewsdeskError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return decode_text(data, html=path.suffix.lower() in HTML_SUFFIXES)
    except UnsupportedDocument as exc:
        raise UnsupportedDocument(f"{path}: {exc}") from None


_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CHARSET_RE = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.IGNORECASE
)
NOT_TEXT = "the file is not text (binary data or control characters): upload UTF-8 text or HTML"


def decode_text(data: bytes, html: bool = False) -> str:
    """Text from bytes: a byte-order mark (UTF-8, UTF-16) wins, then UTF-8, then for HTML the
    charset the page declares, then Windows-1252 (old newsroom exports). Bytes that decode to
    something no article contains (NULs, many control characters) are refused, never stored
    as mojibake that search cannot find."""
    text = _decode(data, html)
    if not looks_like_text(text):
        raise UnsupportedDocument(NOT_TEXT)
    return text


def _decode(data: bytes, html: bool) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                raise UnsupportedDocument(NOT_TEXT) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _CHARSET_RE.search(data[:4096]) if html else None
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    if b"\0" in data:
        raise UnsupportedDocument(NOT_TEXT)
    return data.decode("cp1252", errors="replace")


def looks_like_text(text: str) -> bool:
    """No NUL, and at most 1 in 100 characters a control or undecodable one."""
    if "\0" in text:
        return False
    odd = sum(1 for ch in text if (ch < " " and ch not in "\t\n\r\f\v") or ch in "\x7f\ufffd")
    return odd <= max(2, len(text) // 100)


def load_article(path: Path) -> Article:
    text = read_text_file(path)
    if path.suffix.lower() in HTML_SUFFIXES:
        article = _from_html(text, doc_id=path.stem, source_file=path.name)
    else:
        article = parse_article(text, doc_id=path.stem, source_file=path.name)
    article.derived_from = path.name
    return article


def _from_html(markup: str, doc_id: str, source_file: str) -> Article:
    page = html_to_article(markup)
    article = parse_article(page.text, doc_id=doc_id, source_file=source_file)
    if page.title and article.headline is None:
        article.title = bounded(page.title, TITLE_MAX)
    article.outlet = article.outlet or (bounded(page.outlet, OUTLET_MAX) if page.outlet else None)
    return article


def check_doc_id(doc_id: str) -> str:
    if len(doc_id) > DOC_ID_MAX or not DOC_ID_RE.fullmatch(doc_id):
        raise BadDocument(
            f"invalid document id {doc_id!r}: use 1-128 letters, digits, '.', '-' or '_', "
            "starting with a letter or digit, with no '..'"
        )
    return doc_id


def safe_file_name(name: str) -> str:
    """A bare file name; anything that names a directory is refused, not silently trimmed."""
    if (
        not name
        or "/" in name
        or "\\" in name
        or "\0" in name
        or name in {".", ".."}
        or name.startswith(".")
        or len(name) > 255
    ):
        raise BadDocument(f"invalid file name {name!r}: give a plain name such as story.txt")
    return name


def doc_id_for(name: str) -> str:
    """An id from a file name or title: accents dropped ("Café" -> "Cafe"), other unsafe
    characters become '-'. A name in another script keeps a short hash of itself, so
    "Музей открылся" and "Клуб выиграл кубок" never share an id, and the same name always
    gets the same one."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", plain).strip("-._")
    stem = re.sub(r"\.{2,}", ".", stem)
    if not stem or _has_untransliterated(name):
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        stem = f"{stem[:100]}-{digest}" if stem else f"doc-{digest}"
    return stem[:128]


def _has_untransliterated(name: str) -> bool:
    """A letter or digit with no ASCII form (Cyrillic, CJK...): the slug lost part of it."""
    return any(
        ch.isalnum() and not unicodedata.normalize("NFKD", ch).encode("ascii", "ignore")
        for ch in name
    )


def article_from_upload(
    data: bytes,
    file_name: str | None = None,
    doc_id: str | None = None,
    title: str | None = None,
    outlet: str | None = None,
) -> Article:
    """An uploaded file or pasted text as an article; the id defaults to the file's stem, so
    uploading a changed version of the same file replaces it."""
    suffix = ".txt"
    if file_name is not None:
        file_name = safe_file_name(file_name)
        suffix = Path(file_name).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise UnsupportedDocument(
                f"unsupported file type {suffix or '(none)'}: upload "
                f"{', '.join(SUPPORTED_SUFFIXES)}"
            )
    text = decode_text(data, html=suffix in HTML_SUFFIXES)
    if not text.strip():
        raise BadDocument("the document is empty")
    derived_from = None
    if doc_id is None:
        base = Path(file_name).stem if file_name else (title or hashlib.sha256(data).hexdigest())
        doc_id = doc_id_for(base) if file_name or title else f"doc-{base[:16]}"
        derived_from = file_name or (" ".join(title.split()) if title else None)
    doc_id = check_doc_id(doc_id)
    source_file = file_name or f"{doc_id}.txt"
    if suffix in HTML_SUFFIXES:
        article = _from_html(text, doc_id, source_file)
    else:
        article = parse_article(text, doc_id=doc_id, source_file=source_file)
    if not article.body:
        raise BadDocument("the document has no article text after cleaning")
    for label, value, limit in (("title", title, TITLE_MAX), ("outlet", outlet, OUTLET_MAX)):
        if value and len(" ".join(value.split())) > limit:
            raise BadDocument(f"the {label} is longer than {limit} characters")
    if title and title.strip():
        article.title = " ".join(title.split())
    if outlet and outlet.strip():
        article.outlet = " ".join(outlet.split())
    article.derived_from = derived_from
    return article


def bounded(label: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a word with an ellipsis."""
    flat = " ".join(label.split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1].rsplit(" ", 1)[0] + "…"


def find_article_files(paths: list[Path]) -> list[Path]:
    """Expand directories into their supported files, sorted for a stable ingest order."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise NewsdeskError(f"no such file or directory: {path}")
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and p.suffix.lower() in SUPPORTED_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            found.append(path)
        else:
            raise NewsdeskError(
                f"unsupported file type {path.suffix or '(none)'} for {path}: "
                f"use {', '.join(SUPPORTED_SUFFIXES)}"
            )
    return found
