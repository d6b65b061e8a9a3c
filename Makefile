# The two commands of the README: `make run` (set up + main job) and `make test` (set up + tests).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
GLTF_VALIDATOR := 2.0.0-dev.3.10
THREE := 0.187.0
VENDOR := src/emoca/serve/static/vendor/three
THREE_FILES := LICENSE build/three.module.js build/three.core.js examples/jsm/loaders/GLTFLoader.js \
	examples/jsm/controls/OrbitControls.js examples/jsm/utils/BufferGeometryUtils.js examples/jsm/utils/SkeletonUtils.js

.PHONY: setup run test lint bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt requirements-dev.txt requirements-ray.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt -r requirements-ray.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	# npm: the Khronos glTF Validator (the tests validate every GLB we write; skipped without Node) and
	# three.js, whose few files `emoca serve`'s page needs are copied into the package (no CDN).
	if command -v npm >/dev/null; then npm install --silent --no-audit --no-fund --prefix $(VENV)/node \
		gltf-validator@$(GLTF_VALIDATOR) three@$(THREE); \
		for f in $(THREE_FILES); do mkdir -p $(VENDOR)/$$(dirname $$f); \
			cp $(VENV)/node/node_modules/three/$$f $(VENDOR)/$$f; done; fi
	touch $(STAMP)

SHARED := ../shared/data
SAMPLES := $(SHARED)/london/neutral/001.jpg $(SHARED)/london/smiling/001.jpg \
           $(SHARED)/london/neutral/002.jpg $(SHARED)/london/smiling/002.jpg \
           $(SHARED)/helen/testset/296814969_3.jpg $(SHARED)/helen/testset/2968560214_1.jpg \
           $(SHARED)/video/WolfgangLanger_Pexels.mp4

run: setup
	$(VENV)/bin/emoca reconstruct $(SAMPLES) --out out/reconstruct
	$(VENV)/bin/emoca animate out/reconstruct/WolfgangLanger_Pexels/params.jsonl \
		--target out/reconstruct/001/params.json --out out/animate
	$(VENV)/bin/emoca export out/reconstruct/WolfgangLanger_Pexels/params.jsonl --format arkit-csv \
		--out out/animate/take.csv
	$(VENV)/bin/emoca demo --out out/demo

test: setup
	$(PY) -m pytest -q -rs  # -rs: a skipped test says why (e.g. the browser tests without Chromium)

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

bench: setup
	$(PY) -m pip install --quiet --no-deps -r requirements-bench.txt
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) out
