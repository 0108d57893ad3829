# Two commands set everything up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml integrations/langchain-metaembed/pyproject.toml \
          integrations/llama-index-retrievers-metaembed/pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,app]'
	$(PY) -m pip install -q -e 'integrations/langchain-metaembed[test]'
	$(PY) -m pip install -q -e integrations/llama-index-retrievers-metaembed
	# the numba MaxSim kernel, compiled once into its on-disk cache: no first search pays for it
	$(PY) -c 'from metaembed_rag.scoring_cpu import precompile; precompile()'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/metaembed-rag demo

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup -q

lint: $(STAMP)
	$(VENV)/bin/ruff check metaembed_rag tests benchmarks scripts integrations

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m pip install -q --no-deps colpali-engine==0.3.18  # see the bench extra in pyproject.toml
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache
