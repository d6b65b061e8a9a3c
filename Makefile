# The two commands of the README: `make run` (set up + main job) and `make test` (set up + tests).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

SHARED := ../shared/data
SAMPLES := $(SHARED)/london/neutral/001.jpg $(SHARED)/london/smiling/001.jpg \
           $(SHARED)/london/neutral/002.jpg $(SHARED)/london/smiling/002.jpg \
           $(SHARED)/helen/testset/296814969_3.jpg $(SHARED)/helen/testset/2968560214_1.jpg \
           $(SHARED)/video/WolfgangLanger_Pexels.mp4

run: setup
	$(VENV)/bin/emoca reconstruct $(SAMPLES) --out out/reconstruct
	$(VENV)/bin/emoca demo --out out/demo

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

bench: setup
	$(PY) -m pip install --quiet --no-deps -r requirements-bench.txt
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) out
