"""The real `newsdesk` program, run as a user would."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT

SEEDS = PROJECT_ROOT / "seeds"


def newsdesk(*args: str, data_dir: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEWSDESK_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "rag.frontend.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=PROJECT_ROOT,
    )


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001])
def test_bad_question_is_one_line_and_nonzero(tmp_path, question):
    r = newsdesk("ask", question, data_dir=tmp_path)
    assert r.returncode == 2
    assert "question" in one_line(r.stderr)


def test_missing_corpus_dir_is_one_line(tmp_path):
    r = newsdesk("ingest", str(tmp_path / "nowhere"), data_dir=tmp_path / "d")
    assert r.returncode == 1
    assert "no such file or directory" in one_line(r.stderr)


def test_empty_store_says_how_to_ingest(tmp_path):
    r = newsdesk("ask", "Who is John Healey?", data_dir=tmp_path / "d")
    assert r.returncode == 1
    assert "newsdesk ingest" in one_line(r.stderr)


def test_bad_model_is_one_line(tmp_path):
    r = newsdesk("ingest", "-q", str(SEEDS / "000_0ab7ffefb9095089.txt"), data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    r = newsdesk("ask", "Who is John Healey?", "--model", "/no/such.gguf", data_dir=tmp_path)
    assert r.returncode == 1
    assert "does not exist" in one_line(r.stderr)


@pytest.mark.slow
def test_ingest_then_ask_json(tmp_path):
    r = newsdesk("ingest", "-q", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "5 added" in r.stderr
    r = newsdesk(
        "ask", "Which countries refused to send troops to Ukraine?", "--json", data_dir=tmp_path
    )
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["answerable"] is True
    assert "italy" in body["answer"].lower()
    for c in body["citations"]:
        raw = (SEEDS / c["source_file"]).read_text(encoding="utf-8")
        assert raw[c["start"] : c["end"]] == c["quote"]


# ---- where the store is ------------------------------------------------------------------------


def run_from(cwd: Path, *args: str, env: dict[str, str], timeout: int = 600):
    """`newsdesk ARGS` from `cwd` with exactly these NEWSDESK_*/XDG variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSDESK_DATA", "XDG_"))}
    return subprocess.run(
        [sys.executable, "-m", "rag.frontend.cli", *args],
        capture_output=True,
        text=True,
        env={**base, "PYTHONPATH": str(PROJECT_ROOT), **env},
        timeout=timeout,
        cwd=cwd,
    )


def test_the_default_store_is_found_from_any_directory(tmp_path):
    xdg, here, there = tmp_path / "xdg", tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    env = {"XDG_DATA_HOME": str(xdg)}

    r = run_from(here, "info", "--json", env=env)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["data_dir"] == str(xdg / "newsdesk") and info["data_dir_source"] == "default"
    assert info["store"] is None

    r = run_from(here, "ask", "Who is John Healey?", env=env)
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert f"no store at {xdg / 'newsdesk'}" in line and "--data-dir" not in line
    assert not xdg.exists() and not (here / "data").exists(), "reading created a directory"

    # The command the hint names, run from elsewhere, fills the store every directory reads.
    command = line.split("`")[3].split()
    assert command[:2] == ["newsdesk", "ingest"] and Path(command[2]) == SEEDS
    r = run_from(there, "ingest", "-q", *command[2:], env=env)
    assert r.returncode == 0, r.stderr
    r = run_from(here, "search", "John Healey", "--json", "-n", "1", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["results"]
    r = run_from(here, "info", "--json", env=env)
    assert json.loads(r.stdout)["store"]["documents"] == 5


def test_a_store_elsewhere_gets_a_hint_naming_it(tmp_path):
    store = tmp_path / "my store"
    r = run_from(tmp_path, "search", "Healey", env={"NEWSDESK_DATA_DIR": str(store)})
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert f"--data-dir '{store}'" in line and f"newsdesk ingest {SEEDS} --data-dir" in line
    assert not store.exists()


@pytest.mark.parametrize("model", ["/no/such.gguf", "no-such-preset"])
def test_a_bad_model_fails_before_anything_heavy_loads(tmp_path, model):
    r = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "rag.frontend.cli",
            "ask",
            "Who?",
            "--model",
            model,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "NEWSDESK_DATA_DIR": str(tmp_path)},
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert r.returncode == 1
    imported = {ln.split("|")[-1].strip() for ln in r.stderr.splitlines() if "import time:" in ln}
    assert not {"torch", "llama_cpp", "chromadb", "sentence_transformers"} & imported
    messages = "\n".join(ln for ln in r.stderr.splitlines() if "import time:" not in ln)
    assert model in one_line(messages)


# ---- terminal output ---------------------------------------------------------------------------


def commands() -> list[str]:
    r = subprocess.run(
        [sys.executable, "-m", "rag.frontend.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    listing = r.stdout.split("Commands:")[1]
    return [ln.split()[0] for ln in listing.splitlines() if ln.startswith("  ")]


def option_entries(help_text: str) -> list[str]:
    """Each option of a rendered --help, its wrapped lines joined."""
    entries: list[str] = []
    for line in help_text.split("Options:")[1].splitlines():
        if line.startswith("  -"):
            entries.append(line.strip())
        elif line.startswith("   ") and entries:
            entries[-1] += "  " + line.strip()
    return [e for e in entries if not e.startswith("--help")]


SETTING_FLAGS = {"--data-dir", "--model", "--host", "--port", "--chroma-url", "--llm-url"}


def test_help_shows_meaning_default_and_env_for_every_option():
    names = commands()
    assert {"ingest", "ask", "chat", "search", "serve", "info", "models"} <= set(names)
    for name in names:
        r = subprocess.run(
            [sys.executable, "-m", "rag.frontend.cli", name, "--help"],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "80"},
        )
        assert r.returncode == 0, r.stderr
        entries = option_entries(r.stdout)
        assert entries, name
        for entry in entries:
            flags, _, rest = entry.partition("  ")
            meaning = rest.split("[")[0].strip()
            assert len(meaning.split()) >= 2 and meaning.endswith("."), f"{name}: {entry}"
            flat = " ".join(entry.split())
            if "<" in flags or " / " in flags:  # takes a value, or is an on/off pair
                assert "default:" in flat, f"{name}: {entry}"
            for flag in SETTING_FLAGS & set(flags.replace(",", " ").split()):
                env = "NEWSDESK_" + flag[2:].replace("-", "_").upper()
                assert f"env var: {env}" in flat, f"{name}: {entry}"
            assert "…" not in entry
    r = subprocess.run(
        [sys.executable, "-m", "rag.frontend.cli", "ingest", "--help"], capture_output=True
    )
    assert b".html" in r.stdout


NO_OUTLET = (
    "Harbour town opens new lighthouse museum\n\n"
    "The town of Port Ellery opened a lighthouse museum on Saturday after a long restoration "
    "that the harbour trust paid for with three million pounds raised over a decade. Mayor "
    "Ada Quint said four thousand visitors came on the first day, far more than expected.\n"
)


@pytest.fixture(scope="module")
def museum(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding one article that names no outlet."""
    folder = tmp_path_factory.mktemp("museum")
    (folder / "museum.txt").write_text(NO_OUTLET, encoding="utf-8")
    r = newsdesk("ingest", "-q", str(folder / "museum.txt"), data_dir=folder / "d")
    assert r.returncode == 0, r.stderr
    return folder / "d"


def test_search_piped_is_not_wrapped_and_shows_no_missing_outlet(museum):
    r = newsdesk("search", "lighthouse museum visitors", "-n", "1", data_dir=museum)
    assert r.returncode == 0, r.stderr
    head, text = r.stdout.rstrip("\n").split("\n")
    assert head.startswith("1. Harbour town opens new lighthouse museum (museum, chars ")
    assert "outlet" not in head and "—" not in head
    assert len(text) > 80 and "Mayor" in text  # one line, not cut at 80 columns


@pytest.mark.slow
@pytest.mark.long
def test_ask_piped_to_a_file_is_not_wrapped(museum):
    r = newsdesk("ask", "Who paid for the Port Ellery lighthouse museum?", data_dir=museum)
    assert r.returncode == 0, r.stderr
    answer, _, sources = r.stdout.partition("\n\nSources\n")
    assert "\n" not in answer.strip() and "harbour trust" in answer.lower()
    lines = sources.rstrip("\n").split("\n")
    assert len(lines) % 2 == 0, lines
    for ref, quote in zip(lines[::2], lines[1::2], strict=True):
        assert re.fullmatch(
            r"\[\d+\] Harbour town opens new lighthouse museum \(museum\.txt, "
            r"chars \d+–\d+\)",
            ref,
        ), ref
        assert quote.startswith("    “") and quote.endswith("”")


def test_on_a_terminal_lines_wrap_between_words_at_its_width(museum):
    import pexpect

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "rag.frontend.cli", "search", "lighthouse museum visitors", "-n", "1"],
        env={**env, "NEWSDESK_DATA_DIR": str(museum), "TERM": "xterm"},
        cwd=str(PROJECT_ROOT),
        encoding="utf-8",
        dimensions=(40, 60),
        timeout=300,
    )
    child.expect(pexpect.EOF)
    lines = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before).replace("\r", "").splitlines()
    assert max(len(line) for line in lines) <= 60
    passage = "Mayor Ada Quint said four thousand visitors came on the first day, far more"
    words = " ".join(lines).split()
    assert len(lines) >= 4 and all(word in words for word in passage.split()), lines


def test_eval_of_another_question_file_needs_the_corpus_it_asks_about(tmp_path):
    fresh = PROJECT_ROOT / "eval" / "corpora" / "bbc-dev" / "fresh-questions.jsonl"
    r = newsdesk("eval", "--questions", str(fresh), data_dir=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--corpus" in r.stderr
    r = newsdesk("eval", "--corpus", "bbc-dev", "--questions", "/no/such.jsonl", data_dir=tmp_path)
    assert r.returncode == 2 and "does not exist" in r.stderr
