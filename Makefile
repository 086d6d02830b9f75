PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test stress bench lint format clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

# torch is pinned to the CPU build first so that the generic requirement never pulls CUDA wheels.
$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install "torch==2.13.0"
	$(PY) -m pip install -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/convexnn demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -m "not slow"

stress: $(STAMP)
	CONVEXNN_STRESS=1 $(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
