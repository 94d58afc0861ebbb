"""The query fast path must give the same vector as sentence-transformers' own encode()."""

import numpy as np


def test_encode_one_matches_encode(embedder):
    texts = ["Which countries refused to send troops to Ukraine?", "x", "Healey’s £30m deal " * 40]
    assert embedder._fast_path is not None  # MiniLM is mean-pooled: the fast path is in use
    for text in texts:
        fast = embedder.encode_one(text)
        slow = embedder.encode([text])[0]
        assert fast.shape == slow.shape
        assert np.allclose(fast, slow, atol=1e-5)
