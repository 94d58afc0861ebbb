"""Front end: the `newsdesk` command and the chat around the engine.

A stage of its own because it only presents: it parses options, prints answers and sources
for a terminal or a pipe, and rewrites a follow-up into a standalone question before the
engine sees it. The HTTP front end (`api/`) uses the same conversation code.
"""
