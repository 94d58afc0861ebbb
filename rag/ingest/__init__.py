"""Ingest: files in, exact-offset chunks and sentences out, written to the index.

A stage of its own because everything downstream quotes these offsets: the loader decides
what text an article is, the chunker where its passages start and end, and the pipeline
makes an ingest idempotent by content hash. `reindex` lives here because it is the same
pipeline run again over the texts the index already holds.
"""
