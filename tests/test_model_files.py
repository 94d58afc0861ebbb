"""Model resolution logic, with tiny fake part packages standing in for the 1 GB ones."""

import hashlib
import sys

import pytest

from rag.errors import ModelError
from rag.llm.model_files import (
    PRESETS,
    Preset,
    assemble_preset,
    check_gguf,
    check_model,
    resolve_model,
)


def make_parts(root, prefix: str, blobs: list[bytes]) -> None:
    for i, blob in enumerate(blobs, start=1):
        pkg = root / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(blob)


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    blobs = [b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 10]
    make_parts(tmp_path / "site", "ndtest_part", blobs)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(blobs)
    yield (
        Preset(
            name="fake",
            filename="fake.gguf",
            package_prefix="ndtest_part",
            parts=3,
            size=len(whole),
            sha256=hashlib.sha256(whole).hexdigest(),
            extra="fake",
        ),
        whole,
    )
    for i in range(1, 4):
        sys.modules.pop(f"ndtest_part{i}", None)


def test_assembles_in_order_and_verifies(fake_parts, tmp_path):
    preset, whole = fake_parts
    path = assemble_preset(preset, tmp_path / "cache", show_progress=False)
    assert path.read_bytes() == whole
    # Second call trusts the stamp and does not rewrite the file.
    mtime = path.stat().st_mtime_ns
    assert assemble_preset(preset, tmp_path / "cache", show_progress=False) == path
    assert path.stat().st_mtime_ns == mtime


def test_wrong_checksum_is_refused_and_leaves_nothing(fake_parts, tmp_path):
    preset, _ = fake_parts
    bad = Preset(**{**preset.__dict__, "sha256": "0" * 64})
    with pytest.raises(ModelError, match="does not match its pinned checksum"):
        assemble_preset(bad, tmp_path / "cache", show_progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


def test_corrupted_cached_file_is_rebuilt(fake_parts, tmp_path):
    preset, whole = fake_parts
    path = assemble_preset(preset, tmp_path / "cache", show_progress=False)
    path.write_bytes(b"GGUF" + b"x" * (len(whole) - 4))  # same size, wrong content
    assert assemble_preset(preset, tmp_path / "cache", show_progress=False).read_bytes() == whole


def test_missing_parts_say_how_to_install(tmp_path):
    preset = Preset("ghost", "ghost.gguf", "ndtest_nothere_part", 2, 10, "0" * 64, "ghost")
    with pytest.raises(ModelError, match=r"pip install -e '\.\[ghost\]'"):
        assemble_preset(preset, tmp_path / "cache", show_progress=False)


def test_user_paths_are_checked(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(str(tmp_path / "nope.gguf"), tmp_path)
    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ModelError, match="not a GGUF model file"):
        check_gguf(not_gguf)
    with pytest.raises(ModelError, match="unknown model"):
        resolve_model("gpt-17", tmp_path)
    good = tmp_path / "ok.gguf"
    good.write_bytes(b"GGUF\x03\x00")
    assert resolve_model(str(good), tmp_path) == good


def test_check_model_reads_nothing_big_and_writes_nothing(fake_parts, tmp_path, monkeypatch):
    preset, _ = fake_parts
    monkeypatch.setitem(PRESETS, preset.name, preset)
    check_model(preset.name, tmp_path / "cache")  # installed parts: fine, assembled later
    ghost = Preset("ghost", "ghost.gguf", "ndtest_nothere_part", 2, 10, "0" * 64, "ghost")
    monkeypatch.setitem(PRESETS, ghost.name, ghost)
    with pytest.raises(ModelError, match=r"pip install -e '\.\[ghost\]'"):
        check_model(ghost.name, tmp_path / "cache")
    with pytest.raises(ModelError, match="unknown model"):
        check_model("gpt-17", tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
