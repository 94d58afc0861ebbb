"""The sentence encoder run by onnxruntime, for the usual mean-pooled model folders.

Importing torch, transformers and sentence-transformers took about 6 of the 8 seconds of a
cold start on two cores, and every query paid sentence-transformers' overhead on top of
MiniLM's few milliseconds. A mean-pooled model (Transformer, mean Pooling, optional Normalize:
`all-MiniLM-L6-v2` and most sentence-transformers models) is exported once to ONNX with torch,
kept in the cache directory, and from then on runs on onnxruntime and the `tokenizers` library,
which load in well under a second. The vectors are the same (largest difference 3e-7 on the
sentences of both development corpora), so a store indexed either way answers the same.
Any other folder keeps the sentence-transformers path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

# embedding.py imports this module only when an Embedder is made, so this is no import cycle.
from rag.index.embedding import embedder_name

log = logging.getLogger(__name__)

# Bump when the exported graph changes (inputs, outputs, opset): older exports are not used.
EXPORT_VERSION = 1
OPSET = 17


def mean_pooled(model_dir: Path) -> bool:
    """Whether the folder is a Transformer, mean Pooling and optional Normalize, read from its
    config files without loading anything."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]):
            return False
        pooling = json.loads(
            (model_dir / modules[1]["path"] / "config.json").read_text(encoding="utf-8")
        )
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return False
    if modules[0].get("path", "") != "" or not (model_dir / "tokenizer.json").exists():
        return False
    mode = pooling.get("pooling_mode")
    if mode is None:
        flags = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True}
        mode = "mean" if flags == {"pooling_mode_mean_tokens"} else None
    return mode == "mean" and pooling.get("include_prompt", True) is True


def max_length(model_dir: Path) -> int:
    try:
        config = json.loads((model_dir / "sentence_bert_config.json").read_text("utf-8"))
        return int(config.get("max_seq_length") or 256)
    except (OSError, ValueError):
        return 256


def export_path(model_dir: Path, cache_dir: Path) -> Path:
    """Where the export of this folder lives: named by the folder's files (names, sizes and
    modification times) and the export version, so a changed model is exported again."""
    digest = hashlib.sha256(str(EXPORT_VERSION).encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(model_dir)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return cache_dir / "embedder" / f"{embedder_name(model_dir)}-{digest.hexdigest()[:16]}.onnx"


def export(model_dir: Path, target: Path) -> None:
    """Export the folder's transformer to `target` with torch (once per model and machine,
    about 12 s on two cores). Written to a temporary name and renamed, so a process that dies
    half-way, or two that export at once, never leave a partial file behind."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    names = ["input_ids", "attention_mask"]
    if getattr(model.config, "type_vocab_size", 0):
        names.append("token_type_ids")

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    example = tuple(torch.ones(2, 8, dtype=torch.long) for _ in names)
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "token_embeddings"]}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.part")
    os.close(fd)
    try:
        with torch.inference_mode():
            torch.onnx.export(
                LastHidden(),
                example,
                tmp,
                input_names=names,
                output_names=["token_embeddings"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


class OnnxEncoder:
    """Tokenise, run the exported transformer, mean-pool over real tokens, L2-normalise."""

    def __init__(self, model_dir: Path, onnx_file: Path, threads: int = 0) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length(model_dir))
        self.tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Batches of similar length, so little of each is padding (as sentence-transformers
        does); the vectors come back in the order of `texts`."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for start in range(0, len(order), max(1, batch_size)):
            idx = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            feed: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feed)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[idx] = pooled / np.clip(norms, 1e-12, None)
        return out


def load_onnx_encoder(model_dir: Path, cache_dir: Path, threads: int = 0) -> OnnxEncoder | None:
    """The ONNX encoder for a mean-pooled folder, exporting it first if this machine has not;
    None (the caller falls back to sentence-transformers) for other folders or when the
    export cannot be made, for instance without the `onnx` package."""
    if not mean_pooled(model_dir):
        return None
    target = export_path(model_dir, cache_dir)
    try:
        if not target.exists():
            log.info("exporting %s to ONNX once, at %s", model_dir, target)
            export(model_dir, target)
        return OnnxEncoder(model_dir, target, threads)
    except Exception as exc:  # noqa: BLE001 - any failure here leaves the slower, working path
        log.warning(
            "using sentence-transformers for %s: ONNX export or load failed: %s", model_dir, exc
        )
        return None
