"""LLM: the one place a language model is prompted, loaded or called.

A stage of its own because it is the slow and costly part: the prompt templates and their
budget, llama.cpp behind one lock or a remote model server with the same interface, the
verified model files, and the prompt cache kept in memory and on disk. Importing this package
loads no model; `llama_cpp` is imported only when a generator is built.
"""
