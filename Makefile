# symlie: `make demo` and `make test` set everything up from a fresh clone.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# The CPU wheel of torch: an uncapped torch would pull several GB of CUDA packages.
TORCH_SPEC ?= torch==2.13.0

.PHONY: venv demo test test-fast lint bench peers clean

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

# everything but the tests marked slow (tutorials, README, multi-process, single tests > 10 s)
test-fast: venv
	$(PY) -m pytest -q -n 2 -m "not slow" tests

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

# Peers measured side by side in the benchmarks, each in its own environment (never imported by symlie).
.venv-emlp/.installed:
	@test -x .venv-emlp/bin/python || $(PYTHON) -m venv .venv-emlp || python3 -m venv .venv-emlp
	.venv-emlp/bin/python -m pip install --quiet "emlp==1.0.3" "jax[cpu]==0.10.2" six
	@touch $@

peers: .venv-emlp/.installed

bench: venv peers
	$(PIP) install --quiet -e ".[dev,convex,sindy]"
	@set -e; for f in benchmarks/bench_*.py; do echo "== $$f"; OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) $$f; done

clean:
	rm -rf $(VENV) .venv-emlp build dist src/*.egg-info .pytest_cache
