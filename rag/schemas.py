"""The answer contract shared by the CLI (`ask --json`), the HTTP API and the evaluator.

Later versions may add fields; existing ones are never renamed.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo

AbstainReason = Literal[
    "no_relevant_passages", "unsupported_answer", "model_declined", "not_an_answer"
]


class SourceSpan(BaseModel):
    """Another article that carries the same passage (a near-duplicate report)."""

    doc_id: str
    source_file: str
    title: str
    outlet: str | None
    start: int
    end: int
    quote: str


class Citation(BaseModel):
    n: int = Field(
        description="The marker number used in the answer text, e.g. 1 for [1]: 1, 2, … in "
        "order of first appearance in the answer."
    )
    passage: int = Field(
        0,
        description="The number of the cited passage in the prompt: the `n` of the stream's "
        "`sources` event and of the unchecked draft's markers (`token` events).",
    )
    doc_id: str
    source_file: str
    title: str
    outlet: str | None
    chunk_id: str
    start: int = Field(description="Character offset into the original article text.")
    end: int
    quote: str = Field(description="Exactly original_text[start:end].")
    score: float = Field(description="Retrieval score of the cited passage.")
    also_in: list[SourceSpan] = Field(
        default_factory=list, description="Other articles reporting the same passage."
    )
    supported: bool | None = Field(
        None,
        description="The support check found this passage backs the sentence(s) citing it "
        "(None when the check is switched off).",
    )


class ConflictClaim(BaseModel):
    """One side of a disagreement: what one report says, and exactly where."""

    value: str = Field(description='What this report says, e.g. "Jane Doe" or "500".')
    n: int = Field(description="The [n] marker citing it in the answer.")
    doc_id: str
    outlet: str | None
    start: int
    end: int
    quote: str = Field(description="The sentence that says it: original_text[start:end].")


class Conflict(BaseModel):
    kind: Literal["title", "quantity", "actor"]
    topic: str = Field(description='What the reports disagree on, e.g. "UK Prime Minister".')
    claims: list[ConflictClaim]


class SourcePassage(BaseModel):
    """A passage the model is shown, sent before generation so a client can display sources."""

    n: int = Field(description="The [n] the answer will use for this passage.")
    doc_id: str
    source_file: str
    title: str
    outlet: str | None
    start: int
    end: int
    quote: str = Field(description="Exactly original_text[start:end].")
    score: float


class Timings(BaseModel):
    retrieve_ms: float
    generate_ms: float
    total_ms: float
    # Where the time after retrieval went, stage by stage; null when not measured.
    prompt_ms: float | None = Field(
        default=None,
        description="Prompt evaluation before the first draft token (not the wait for the "
        "model); null with a model server or when the model was not called.",
    )
    draft_ms: float | None = Field(
        default=None,
        description="Decoding the draft after the prompt; null with a model server or when "
        "the model was not called.",
    )
    check_ms: float | None = Field(
        default=None,
        description="The support check (its judge readings included) and turning the draft "
        "into the cited answer, mid-stream and after; null when the model was not called.",
    )


class AnswerSentence(BaseModel):
    """One sentence of the answer and where its words come from, so a reader can tell the
    model's own words from a note the system wrote."""

    text: str = Field(description="The sentence with its [n] markers, as in `answer`.")
    origin: Literal["model", "conflict"] = Field(
        description="`model`: the model's sentence, kept by the support check; `conflict`: "
        "written by newsdesk when nothing the model said held but the reports disagree "
        "(the sides are in `conflicts`)."
    )
    citations: list[int] = Field(description="The citation numbers (`n`) the sentence gives.")
    supported: bool | None = Field(
        description="True once the support check passed it; null when verification is off "
        "or the sentence is not the model's."
    )


class Answer(BaseModel):
    question: str
    answer: str = Field(description="Answer text with inline [n] citation markers.")
    answerable: bool
    citations: list[Citation]
    timings: Timings
    model: str
    abstain_reason: AbstainReason | None = None
    best_score: float | None = Field(None, description="Best retrieval score for the question.")
    dropped: list[str] = Field(
        default_factory=list,
        description="Draft sentences removed because no cited passage supported them.",
    )
    conflicts: list[Conflict] = Field(
        default_factory=list,
        description="Where the cited reports disagree on the asked fact; each side is cited.",
    )
    sentences: list[AnswerSentence] = Field(
        default_factory=list,
        description="The answer's sentences in order, each with its origin and citations; "
        "joined with spaces they are `answer` (empty when it abstains).",
    )
    cached: bool = Field(
        False,
        description="Given again from the answer cache: the same question was answered before "
        "against the same articles, model and settings (`timings` are this lookup's).",
    )


# C0 controls and DEL, but tab, newline and carriage return, which ordinary text uses.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text_problem(value: str) -> str | None:
    """Why a text cannot come in, or None: the one test every way in applies (questions,
    chat messages, search queries, document text, titles, outlets), so a lone surrogate is a
    clear 422 everywhere instead of a crash in whichever tokenizer meets it first."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "holds a lone surrogate (U+D800-U+DFFF), which is not valid Unicode text"
    found = _CONTROL_RE.search(value)
    if found:
        return f"holds the control character U+{ord(found.group()):04X}"
    return None


def _valid_text(value: str, info: ValidationInfo) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(f"{info.field_name or 'text'} {problem}")
    return value


Text = Annotated[str, AfterValidator(_valid_text)]


def _not_blank(value: str, info: ValidationInfo) -> str:
    if not value.strip():
        raise ValueError(f"{info.field_name} must not be empty")
    return value


NonBlank = Annotated[Text, AfterValidator(_not_blank)]
# A name in a filter: something visible, not an empty prefix that matches every document.
FilterName = Annotated[Text, Field(min_length=1, max_length=200, pattern=r"\S")]


class Filters(BaseModel):
    doc_ids: list[FilterName] | None = Field(
        None, max_length=100, description="Only search these documents (ids or unique prefixes)."
    )
    outlets: list[FilterName] | None = Field(
        None,
        max_length=100,
        description="Only search articles from these outlets (case-insensitive).",
    )


class AskRequest(Filters):
    question: NonBlank = Field(
        min_length=1, max_length=2000, examples=["Which countries refused troops?"]
    )


class SearchRequest(Filters):
    query: NonBlank = Field(min_length=1, max_length=2000, examples=["harbour museum reopening"])
    limit: int = Field(8, ge=1, le=50, description="At most this many passages.")


class SearchResult(BaseModel):
    """One ranked passage: whole sentences of one article, with exact offsets."""

    rank: int
    doc_id: str
    source_file: str
    title: str
    outlet: str | None
    start: int
    end: int
    text: str = Field(description="Exactly original_text[start:end].")
    score: float = Field(description="Fused rank score (reciprocal rank fusion).")
    similarity: float = Field(description="Cosine similarity of the best sentence to the query.")
    also_in: list[SourceSpan] = Field(default_factory=list)


class SearchResponse(BaseModel):
    query: str
    results: list[SearchResult]
    retrieve_ms: float
