"""Request and response bodies that exist only over HTTP: documents and the OpenAI-compatible API.

The answer contract itself (`Answer`, `AskRequest`, ...) lives in `rag.schemas`, shared with the
CLI and the evaluator.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.ingest.loading import DOC_ID_PATTERN
from rag.schemas import Answer, Filters, NonBlank, SourcePassage, Text

# ---- documents ---------------------------------------------------------------------------------


class DocumentIn(BaseModel):
    """Raw article text; the same cleaning as a file (headline, `Source:` lines) applies."""

    text: NonBlank = Field(description="The article, as plain text.")
    title: Text | None = Field(None, max_length=300, description="Overrides the detected headline.")
    outlet: Text | None = Field(None, max_length=200, description="Overrides a `Source:` line.")
    doc_id: str | None = Field(
        None,
        pattern=DOC_ID_PATTERN,
        max_length=128,
        description="Stable id; uploading again with the same id replaces the document. "
        "Default: from the title (a new id if another title has it), else from a hash of the "
        "text.",
    )


class DocumentInfo(BaseModel):
    doc_id: str
    title: str
    outlet: str | None
    source_file: str
    chunks: int
    ingested_at: float = Field(description="Unix time of the last (re-)ingest.")


class DocumentDetail(DocumentInfo):
    text: str = Field(description="The original text every citation offset points into.")


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class IngestResult(BaseModel):
    status: Literal["added", "replaced", "unchanged"] = Field(
        description="`replaced` only when the client named the id of an existing document or "
        "uploaded the same file name (or, as JSON, the same title) again."
    )
    chunks_written: int
    document: DocumentInfo
    sha256: str = Field(description="SHA-256 of this version's text (UTF-8).")
    replaced_hash: str | None = Field(
        None, description="SHA-256 of the text of the version this upload replaced."
    )


class Deleted(BaseModel):
    doc_id: str
    deleted: bool = True


# ---- native streaming --------------------------------------------------------------------------


class SourcesEvent(BaseModel):
    question: str
    passages: list[SourcePassage]


class TokenEvent(BaseModel):
    """A piece of the unchecked draft, as the model writes it. Its [n] markers are the
    `sources` event's passage numbers; the checked text comes in `sentence` events."""

    text: str


class RedraftEvent(BaseModel):
    """The model declined in the draft so far (`reason`: `model_declined`) and writes a second
    one under a plainer prompt: the `token` events after this one are that draft's, from its
    start."""

    reason: str


class SentenceCitation(BaseModel):
    n: int = Field(description="The [n] in the sentence: the answer's numbering (1, 2, …).")
    passage: int = Field(description="The passage's `n` in the `sources` event.")


class SentenceEvent(BaseModel):
    """One answer sentence that passed the check, sent as soon as it has, while the model
    writes the next. The sentences, joined with spaces, are the `answer` event's text, unless
    nothing the model said held: then the answer declines, or says the reports disagree."""

    text: str = Field(description="The sentence with its [n] markers, numbered as the answer.")
    citations: list[SentenceCitation]


# ---- OpenAI-compatible chat completions --------------------------------------------------------


class ContentPart(BaseModel):
    """One part of a message's content; only `text` parts are read."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: Text | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Text | list[ContentPart] | None = None

    def plain_text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return " ".join(part.text or "" for part in self.content if part.type == "text")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = Field(
        False,
        description="Send one more chunk before `[DONE]`, with `usage` and no choices, as "
        "OpenAI does.",
    )


class ChatCompletionRequest(Filters):
    """OpenAI's request body; sampling options are accepted and ignored (decoding is greedy)."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, description="Ignored: the server answers with its model.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=64)
    stream: bool = False
    stream_options: StreamOptions | None = Field(None, description="Only with `stream: true`.")


class Usage(BaseModel):
    """Tokens the model read and wrote for this answer: the follow-up rewrite, if any, and the
    draft. The support check's yes/no readings generate nothing and are not counted."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class NewsdeskExtension(Answer):
    standalone_question: str = Field(description="The question retrieval saw after rewriting.")


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    newsdesk: NewsdeskExtension = Field(
        description="newsdesk extension: citations, abstention, conflicts (OpenAI clients "
        "expose it as an extra field)."
    )
