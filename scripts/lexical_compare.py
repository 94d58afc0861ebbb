"""Retrieval with the record in SQLite (FTS5, BM25) and in PostgreSQL (ts_rank_cd), side by side.

Scores retrieval and context assembly alone (eval/retrieval_eval.py) on each development
corpus, lexical-only and hybrid, for both backends. Nothing is generated and no model is loaded:
passage budgets are counted with the words-based estimate used when no tokenizer is at hand, so
the context measures are comparable between the two backends, not with docs/quality.md.

    python scripts/lexical_compare.py --database-url postgresql://user@host/postgres

The role needs CREATEDB: each corpus gets a new database, dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from eval.corpora import CORPORA
from eval.retrieval_eval import evaluate_retrieval
from eval.servers import scratch_database
from rag.config import Settings
from rag.engine import Engine
from rag.index.embedding import Embedder
from rag.llm.remote_llm import estimate_tokens


class _EstimatedTokens:
    """What the engine asks of a generator during retrieval: counting tokens, estimated."""

    name = "estimate"

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)


def compare(admin_url: str) -> dict[str, dict[str, float]]:
    embedder = Embedder()
    out: dict[str, dict[str, float]] = {}
    for corpus_name, corpus in CORPORA.items():
        questions = corpus.load()
        with scratch_database(admin_url) as scratch:
            for backend, url in (("sqlite", None), ("postgres", scratch)):
                with tempfile.TemporaryDirectory() as tmp:
                    base = Settings(data_dir=Path(tmp) / "data", database_url=url, answer_cache=0)
                    ingesting = Engine(base)
                    ingesting.__dict__.update(embedder=embedder, _generator=_EstimatedTokens())
                    ingesting.ingest([corpus.articles])
                    for mode in ("lexical", "hybrid"):
                        engine = Engine(base.model_copy(update={"retrieval_mode": mode}))
                        for part in ("store", "embedder", "_generator"):
                            engine.__dict__[part] = ingesting.__dict__[part]
                        report = evaluate_retrieval(engine, questions)
                        key = f"{corpus_name} {backend} {mode}"
                        out[key] = {k: round(v["mean"], 3) for k, v in report["metrics"].items()}
                        out[key]["questions"] = report["questions"]
                        print(key, json.dumps(out[key]), flush=True)
                    ingesting.store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a role that may create databases")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = compare(args.database_url)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
