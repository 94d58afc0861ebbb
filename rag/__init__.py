"""newsdesk's engine, importable without a server; the folders follow the data.

An article travels down the tree in this order, so a reader looking for a step finds it by
asking where the data is at that moment:

    ingest/     a file becomes an article, then sentence-aligned chunks with exact offsets
    index/      the store: the text and its full-text index in SQLite, the vectors in Chroma,
                the locks and the ownership that keep several processes consistent
    retrieve/   a question's shape, ranked passages, the numbered context the model reads
    llm/        prompts, the local or remote model, its files and its prompt cache
    answer/     the draft checked against the passages, cited to exact spans, conflicts named
    frontend/   the `newsdesk` command and the chat that turns follow-ups into questions

Beside them: `engine.py` runs the stages in order for every front end (CLI, HTTP, evaluation);
`config.py`, `schemas.py` and `errors.py` are shared by all stages. Packages import nothing
heavy when they load, so `newsdesk --help` and a bad `--model` fail fast without torch,
Chroma or llama.cpp.
"""
