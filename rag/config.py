"""One settings object for the whole service.

Values come from `NEWSDESK_*` environment variables (or a `.env` file); CLI flags override them by
building a copy with `settings.model_copy(update=...)`. Nothing here loads a model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsdesk"


def default_data_dir() -> Path:
    """The user's data directory (XDG), so every working directory finds the same store."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "newsdesk"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSDESK_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Chroma store and document database (default: $XDG_DATA_HOME/newsdesk, "
        "else ~/.local/share/newsdesk).",
    )
    seeds_dir: Path = Field(PROJECT_ROOT / "seeds", description="The built-in corpus.")
    prompts_dir: Path = Field(PROJECT_ROOT / "prompts", description="Prompt templates.")
    second_draft: bool = Field(
        True,
        description="When the model declines to answer, draft once more under the plain"
        " system turn of prompts/second_system.txt, with the same checks.",
    )
    second_draft_threshold: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        description="Least P(yes) in the support check that keeps a sentence of a second draft.",
    )
    cache_dir: Path = Field(
        default_factory=default_cache_dir,
        description="Assembled GGUF files, the system prompt's evaluated KV cache (kv/) "
        "and the embedder's ONNX export (embedder/).",
    )

    model: str = Field("qwen2.5-coder-1.5b", description="Preset name or path to a .gguf file.")
    n_ctx: int = 4096
    n_threads: int = Field(0, description="0 = one per physical core.")
    max_tokens: int = 256

    embed_model_dir: Path | None = Field(None, description="sentence-transformers folder.")
    embed_batch_size: int = 32

    chunk_min_words: int = 60
    chunk_max_words: int = 120
    chunk_overlap_sentences: int = 1
    sentence_window: int = Field(1, description="Preceding sentences embedded with each one.")

    retrieval_mode: Literal["dense", "lexical", "hybrid"] = "hybrid"
    dense_weight: float = Field(1.0, description="RRF weight of dense sentence search.")
    lexical_weight: float = Field(1.0, description="RRF weight of BM25 sentence search.")
    chunk_weight: float = Field(0.25, description="RRF weight of dense chunk search.")
    feedback: float = Field(1.0, description="Weight of entity feedback search (0 = off).")
    feedback_docs: int = 1
    dedup: bool = Field(True, description="One context slot per near-duplicate passage.")
    context_tokens: int = Field(500, description="Token budget for passages in the prompt.")
    max_context_sentences: int = Field(12, description="Most sentences (with neighbours) shown.")
    question_shape: bool = Field(
        True, description="Retrieve per part of a question; more context for parts and lists."
    )
    list_forward: bool = Field(
        True, description="For a question asking for several items, hits bring the next sentence."
    )
    fill_gaps: bool = Field(
        False, description="Show the one sentence between two shown sentences of an article."
    )
    figure_check: bool = Field(
        True,
        description="Decline a one-part how-many, what-share or what-date question whose "
        "answer gives no number, share or date beyond the question's own.",
    )
    name_check: bool = Field(
        True,
        description="Decline a one-part what-is-the-name question whose answer names nothing "
        "the question does not.",
    )
    role_check: bool = Field(
        True,
        description="Read a sentence naming two of its passage's names again with them "
        "swapped, and drop it when the judge believes the swap more (who did what to whom).",
    )
    hedge_check: bool = Field(
        True,
        description="Read a sentence whose quote hedges again as a possibility, and drop it "
        "when the judge believes that more (a hedge stated as fact).",
    )
    max_context_scale: float = Field(
        2.0, description="Most the budget grows for a question with parts or asking a list."
    )
    min_relevance: float = Field(
        0.25, description="Below this best dense similarity the service abstains."
    )

    verify: bool = Field(True, description="Check each answer sentence against its citations.")
    answer_threshold: float = Field(
        0.35,
        ge=0,
        le=1,
        description="Least P(yes) that a checked answer answers the question at all.",
    )
    support_threshold: float = Field(
        0.4, ge=0, le=1, description="Least P(yes) from the support judge that keeps a sentence."
    )

    answer_cache: int = Field(
        256,
        ge=0,
        description="Answers kept in memory for a repeated question against unchanged "
        "articles (0 = off).",
    )

    chroma_url: str | None = Field(
        None,
        description="A Chroma server (http://host:port) for the vectors instead of the local "
        "store in data_dir/chroma.",
    )
    database_url: str | None = Field(
        None,
        description="A PostgreSQL database (postgresql://user:password@host:port/dbname) for "
        "the documents, their passages and sentences, the lexical index and the pending-vector "
        "log instead of data_dir/documents.sqlite3, so replicas on several hosts share them.",
    )
    llm_url: str | None = Field(
        None,
        description="An OpenAI-compatible server (http://host:port/v1) to generate with instead "
        "of loading the GGUF model in this process.",
    )
    llm_api_key: SecretStr | None = Field(None, description="Bearer key for NEWSDESK_LLM_URL.")
    llm_model: str | None = Field(
        None, description="Model name sent to NEWSDESK_LLM_URL (default: the server's first)."
    )
    llm_timeout: float = Field(
        300.0, gt=0, description="Seconds to wait for the model server before giving up."
    )

    max_question_chars: int = 2000
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: SecretStr | None = Field(
        None, description="When set, every endpoint but the health checks needs this Bearer token."
    )
    max_upload_bytes: int = Field(2_000_000, description="Largest document upload (HTTP 413).")
    max_body_bytes: int = Field(64_000, description="Largest JSON request body (HTTP 413).")
    upload_job_bytes: int = Field(
        32_000,
        ge=0,
        description="Uploads whose text is longer are queued as a job (HTTP 202) instead of "
        "embedded while the client waits.",
    )
    queue_size: int = Field(
        4, ge=0, description="Requests that may wait for the model; past it HTTP 503."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; empty = CORS off."
    )

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "documents.sqlite3"


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment with explicit (non-None) overrides applied."""
    settings = Settings()
    clean = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=clean) if clean else settings
