# The front door: `make run` serves the built-in articles, `make test` runs everything CI runs.
# Both create .venv and install what is missing; re-running reinstalls nothing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.newsdesk-installed
EXTRAS ?= dev,qwen-1-5b
# llama.cpp's default native build uses Intel AMX where the CPU reports it, and its AMX kernels
# segfault on the first decode on such machines (seen here on 2 cores of a Sapphire Rapids VM).
# On x86-64 build for AVX2/FMA/F16C instead: every x86 laptop of the last decade, no AMX.
LLAMA_REQ := $(shell grep -o '"llama-cpp-python[^"]*"' pyproject.toml | tr -d '"')
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
endif

.PHONY: setup run check test test-long lint eval bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	# CPU build of torch first: otherwise sentence-transformers pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	# llama.cpp compiles here (about 6 minutes on 2 cores) with the flags above, never from pip's
	# wheel cache, which may hold a build made with other flags.
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet --no-cache-dir "$(LLAMA_REQ)"
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	$(BIN)/newsdesk models --prepare qwen2.5-coder-1.5b
	@touch $(STAMP)

run: setup
	$(BIN)/newsdesk serve

# Tests that never load the GGUF model run on every core (pytest-xdist), one embedder thread per
# worker (with the default of one thread per core, two workers on two cores took 2.7 times
# as long); the model's tests run one at a time, as each already uses every core and several
# time what they watch.
WORKERS ?= auto
PARALLEL := OMP_NUM_THREADS=1 $(BIN)/pytest -q -n $(WORKERS) -m "not slow" --durations=5

# The quick loop: lint and every test that does not load the GGUF model.
check: setup
	$(BIN)/ruff check rag api eval tests
	$(BIN)/ruff format --check rag api eval tests
	$(PARALLEL)
	@echo "model-free tests passed; 'make test' adds the real model's tests, 'make test-long' the long ones"

# CI's command: the model tier without the tests marked `long`, which together would take
# longer than CI's 90 minutes on the slowest 2-core machines it runs on (docs/development.md).
test: setup
	$(BIN)/ruff check rag api eval tests
	$(PARALLEL)
	$(BIN)/pytest -q -m "slow and not long" --durations=15

# The model's long runs: the benchmark's own test, the soak, the seeds' eval gate, parallel
# askers, the multi-process deployments and the cache-determinism runs.
test-long: setup
	$(BIN)/pytest -q -m long --durations=15

lint: setup
	$(BIN)/ruff check rag api eval tests
	$(BIN)/ruff format --check rag api eval tests

eval: setup
	$(BIN)/newsdesk eval --fast

bench: setup
	$(BIN)/newsdesk bench

clean:
	rm -rf $(VENV) .pytest_cache
