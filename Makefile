# cantor: `make run` opens the composer, `make test` runs the tests. Both set up what they need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SYSSTAMP := $(VENV)/.system-packages
APT_PACKAGES := libfluidsynth3 libportaudio2 libpulse0 timgm6mb-soundfont tmux openssh-server openssh-client chromium chromium-driver
# Only for `make test`: the listener in the remote-sound tests (a desktop running PipeWire keeps it)
# and a JACK server whose user-space MIDI ports stand in for a USB keyboard and a sound module.
TEST_APT_PACKAGES := pulseaudio pulseaudio-utils pipewire pipewire-pulse wireplumber dbus jackd2
TESTSTAMP := $(VENV)/.test-packages

.PHONY: run test setup system-packages lint bench clean

run: setup
	$(VENV)/bin/cantor

test: setup $(TESTSTAMP)
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(VENV)/bin/cantor bench --json

setup: $(SYSSTAMP) $(STAMP)

# System libraries: installed through apt when we are root or have sudo, else the command is printed.
$(SYSSTAMP): Makefile
	@bash scripts/system-packages.sh $(APT_PACKAGES)
	@mkdir -p $(VENV) && touch $@

$(TESTSTAMP): Makefile
	@bash scripts/system-packages.sh $(TEST_APT_PACKAGES)
	@mkdir -p $(VENV) && touch $@

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# CPU torch first (a pinned wheel; an unpinned torch would pull a multi-GB CUDA build), then the project.
$(STAMP): $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
