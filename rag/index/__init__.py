"""Index: the store, which every other stage reads and only ingest writes.

A stage of its own because it owns consistency: SQLite (or PostgreSQL, when configured) keeps
each article's text, offsets and full-text index (the record); Chroma keeps vectors derived
from it; a log of not-yet-live vectors, a read/write lock and the data dir's owner make a
replacement atomic for readers and safe against a crash or a second process. The embedder is
here because vectors are only meaningful with the model that made them.
"""
