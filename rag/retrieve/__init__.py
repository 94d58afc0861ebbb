"""Retrieve: from a question to the numbered passages the model will read.

A stage of its own because it decides what the model may see: the question's shape (parts,
lists), dense and full-text hits fused by rank, and the context assembled within the prompt's
budget. Nothing here generates text, so retrieval can be measured without a model.
"""
