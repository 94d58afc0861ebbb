"""How retrieval cost grows with the corpus: ingest rate and retrieval p50/p95 at several sizes.

Synthetic articles are built by reshuffling the seed sentences (so word and name statistics look
like news), chunked by the real pipeline and written to a real store (Chroma + SQLite FTS5). At
100k chunks, embedding every text with MiniLM on two cores would take over an hour, so the bulk
vectors are seed sentence embeddings plus noise, and the embedder's own throughput is measured
on a sample and reported beside the store's; queries always go through the real embedder and
the full hybrid retrieval path.

    python scripts/scale_bench.py --sizes 1000,10000,100000 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.index.embedding import Embedder  # noqa: E402
from rag.index.store import Store  # noqa: E402
from rag.ingest.chunking import article_sentences  # noqa: E402
from rag.ingest.loading import Article, Span, load_article  # noqa: E402
from rag.ingest.pipeline import article_units  # noqa: E402
from rag.retrieve.retrieval import retrieve  # noqa: E402

QUERIES = [
    "Which countries refused to send troops to Ukraine?",
    "How many people were killed in the Russian attack on Kyiv?",
    "Who is the UK prime minister?",
    "What did Donald Trump say about a peace deal?",
    "Where did the coalition of the willing meet?",
    "How many troops will France send?",
    "What happened to energy infrastructure?",
    "Who leads NATO?",
]


def seed_sentences(settings: Settings) -> list[str]:
    sentences: list[str] = []
    for path in sorted(settings.seeds_dir.glob("*.txt")):
        article = load_article(path)
        sentences.extend(article.text[s.start : s.end] for s in article_sentences(article))
    return sentences


def synthetic_article(i: int, pool: list[str], rng: random.Random) -> Article:
    body = " ".join(rng.sample(pool, k=min(len(pool), rng.randint(12, 24))))
    title = f"Synthetic report {i}"
    text = f"{title}\n\n{body}\n"
    return Article(
        doc_id=f"syn{i:06d}",
        source_file=f"syn{i:06d}.txt",
        text=text,
        title=title,
        outlet=rng.choice(["BBC", "Reuters", "AP", "Guardian", "CNN"]),
        body=[Span(len(title) + 2, len(text) - 1)],
        headline=Span(0, len(title)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="chunk counts, ascending")
    parser.add_argument("--queries", type=int, default=40, help="timed queries per size")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    settings = Settings()
    embedder = Embedder.from_settings(settings)
    pool = seed_sentences(settings)
    pool_vecs = embedder.encode(pool)
    by_text = dict(zip(pool, pool_vecs, strict=True))

    sample = (pool * 10)[:1000]
    t0 = time.perf_counter()
    embedder.encode(sample)
    embed_rate = len(sample) / (time.perf_counter() - t0)

    rng = random.Random(7)
    nrng = np.random.default_rng(7)

    def vectors_for(texts: list[str]) -> np.ndarray:
        out = []
        for text in texts:
            parts = [by_text[s] for s in pool if s in text][:6] or [pool_vecs[0]]
            v = np.mean(parts, axis=0) + nrng.normal(0, 0.02, pool_vecs.shape[1])
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, dtype=np.float32)

    rows = []
    with tempfile.TemporaryDirectory(prefix="newsdesk-scale-") as tmp:
        store = Store(Path(tmp) / "data")
        chunks = sentences = 0
        ingest_s = 0.0
        i = 0
        for size in sizes:
            while chunks < size:
                article = synthetic_article(i, pool, rng)
                i += 1
                units = article_units(article, settings)
                vecs = {k: vectors_for([u.text for u in v]) for k, v in units.items()}
                t0 = time.perf_counter()
                store.replace_document(article, units, vecs, f"h{i}", None)
                ingest_s += time.perf_counter() - t0
                chunks += len(units["chunks"])
                sentences += len(units["sentences"])
                if i % 200 == 0:
                    print(f"  … {chunks} chunks", file=sys.stderr, end="\r")
            latencies = []
            for n in range(args.queries):
                q = QUERIES[n % len(QUERIES)]
                t0 = time.perf_counter()
                retrieve(q, store, embedder, mode="hybrid", feedback=settings.feedback)
                latencies.append((time.perf_counter() - t0) * 1000)
            latencies.sort()
            row = {
                "chunks": chunks,
                "sentences": sentences,
                "articles": i,
                "store_units_per_s": round((chunks + sentences) / ingest_s, 1),
                "embed_texts_per_s": round(embed_rate, 1),
                "ingest_chunks_per_s_with_embedding": round(
                    chunks / (ingest_s + (chunks + sentences) / embed_rate), 1
                ),
                "retrieve_p50_ms": round(statistics.median(latencies), 1),
                "retrieve_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
        store.close()

    header = (
        "| chunks | sentences | store writes units/s | embed texts/s | ingest chunks/s (embedded)"
        " | retrieve p50 ms | p95 ms |"
    )
    print(header)
    print("|" + "---|" * 7)
    for r in rows:
        print(
            f"| {r['chunks']} | {r['sentences']} | {r['store_units_per_s']} | "
            f"{r['embed_texts_per_s']} | {r['ingest_chunks_per_s_with_embedding']} | "
            f"{r['retrieve_p50_ms']} | {r['retrieve_p95_ms']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
