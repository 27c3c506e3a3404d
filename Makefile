# symlie: `make demo` and `make test` set everything up from a fresh clone.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# The CPU wheel of torch: an uncapped torch would pull several GB of CUDA packages.
TORCH_SPEC ?= torch==2.13.0

.PHONY: venv demo test bench clean

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH_SPEC)" || $(PIP) install --quiet "torch>=2.2,<2.14"
	$(PIP) install --quiet -e ".[dev]"
	@touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/symlie demo

test: venv
	$(PY) -m pytest -q -n 2 tests

bench: venv
	@set -e; for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f; done

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
