"""The ONNX encoder must give sentence-transformers' vectors, and any folder it cannot run must
still embed, through sentence-transformers."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.config import PROJECT_ROOT
from rag.index import onnx_encoder
from rag.index.embedding import Embedder, default_model_dir

TEXTS = [
    "Which countries refused to send troops to Ukraine?",
    "x",
    "Healey’s £30m deal " * 60,  # past MiniLM's 256 tokens: truncated the same way
    "UPPER case and ünïcödé, with (brackets) and 3.5% figures.",
]


def test_default_model_runs_on_onnxruntime_with_sentence_transformers_vectors(embedder):
    from sentence_transformers import SentenceTransformer

    assert embedder.backend == "onnxruntime"
    reference = SentenceTransformer(str(embedder.model_dir), device="cpu").encode(
        TEXTS, normalize_embeddings=True, convert_to_numpy=True
    )
    batch = embedder.encode(TEXTS)  # one batch of very different lengths: padding is masked
    assert batch.shape == (len(TEXTS), 384)
    assert np.abs(batch - reference).max() < 1e-5
    for text, expected in zip(TEXTS, reference, strict=True):
        assert np.abs(embedder.encode_one(text) - expected).max() < 1e-5
    background = embedder.encode_background(TEXTS)
    assert np.abs(background - batch).max() < 1e-6


def test_a_new_process_embeds_without_importing_torch(embedder, tmp_path: Path):
    """What makes a cold start short: torch and transformers stay out of the process."""
    code = (
        "import sys\n"
        "from rag.index.embedding import Embedder\n"
        "e = Embedder()\n"
        "e.encode_one('hello')\n"
        "print(e.backend, 'torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert run.stdout.split() == ["onnxruntime", "False", "False"]


def _copy_model(tmp_path: Path) -> Path:
    """The default folder with its weights linked, not copied."""
    source, copy = default_model_dir(), tmp_path / "model-copy"
    shutil.copytree(source, copy, copy_function=lambda s, d: Path(d).symlink_to(s))
    for config in copy.rglob("*.json"):
        config.unlink()
        shutil.copy(source / config.relative_to(copy), config)
    return copy


def test_a_folder_that_is_not_mean_pooled_uses_sentence_transformers(tmp_path: Path):
    folder = _copy_model(tmp_path)
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    assert not onnx_encoder.mean_pooled(folder)
    embedder = Embedder(folder, cache_dir=tmp_path / "cache")
    assert embedder.backend == "sentence-transformers"
    assert not (tmp_path / "cache" / "embedder").exists()
    vector = embedder.encode_one("Which countries refused to send troops?")
    assert vector.shape == (384,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-5


def test_a_failed_export_falls_back_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def broken_export(model_dir: Path, target: Path) -> None:
        raise ImportError("No module named 'onnx'")

    monkeypatch.setattr(onnx_encoder, "export", broken_export)
    embedder = Embedder(default_model_dir(), cache_dir=tmp_path)
    assert embedder.backend == "sentence-transformers"
    assert list(tmp_path.rglob("*.onnx*")) == []
    assert embedder.encode_one("x").shape == (384,)


def test_the_export_is_named_by_the_model_files(tmp_path: Path):
    folder = _copy_model(tmp_path)
    first = onnx_encoder.export_path(folder, tmp_path / "cache")
    assert first == onnx_encoder.export_path(folder, tmp_path / "cache")
    (folder / "config.json").write_text((folder / "config.json").read_text() + " ")
    assert onnx_encoder.export_path(folder, tmp_path / "cache") != first
