from pathlib import Path

import pytest

from rag.ingest.chunking import article_sentences, chunk_article, count_words, split_sentences
from rag.ingest.loading import Span, load_article

SEEDS = sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.txt"))


def sentences_of(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text, Span(0, len(text)))]


def test_sentence_splitter_respects_abbreviations_and_quotes():
    text = 'Mr. Healey met Dr. Smith in the U.S. on Monday. He said: "We are ready." Then he left.'
    assert sentences_of(text) == [
        "Mr. Healey met Dr. Smith in the U.S. on Monday.",
        'He said: "We are ready."',
        "Then he left.",
    ]


def test_a_sentence_ending_in_a_digit_or_bracket_ends_there():
    text = 'It will stay on Radio 1. "It is new," he said. It cost $2bn (£1bn ). Shares fell.'
    assert sentences_of(text) == [
        "It will stay on Radio 1.",
        '"It is new," he said.',
        "It cost $2bn (£1bn ).",
        "Shares fell.",
    ]


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_chunks_have_offsets_into_original_and_sizes(path):
    article = load_article(path)
    raw = path.read_text(encoding="utf-8")
    chunks = chunk_article(article, min_words=60, max_words=200, overlap_sentences=1)
    assert chunks
    for c in chunks:
        quote = raw[c.start : c.end]
        # Every sentence of the chunk is in the quote, verbatim, in order.
        pos = 0
        for s in c.sentences:
            piece = raw[s.start : s.end]
            found = quote.find(piece, pos)
            assert found >= 0
            pos = found + len(piece)
        assert quote == quote.strip()
        assert count_words(c.text) <= 200 * 1.3
        assert c.chunk_id.startswith(article.doc_id + "#")
    if len(chunks) > 1:
        assert all(count_words(c.text) >= 60 for c in chunks)


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_every_body_sentence_is_in_some_chunk_and_chunks_overlap(path):
    article = load_article(path)
    chunks = chunk_article(article, min_words=60, max_words=200, overlap_sentences=1)
    covered = {s for c in chunks for s in c.sentences}
    assert covered == set(article_sentences(article))
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start < a.end, "consecutive chunks should share a sentence"


def test_chunk_ids_are_stable():
    article = load_article(SEEDS[0])
    assert [c.chunk_id for c in chunk_article(article)] == [
        c.chunk_id for c in chunk_article(article)
    ]
