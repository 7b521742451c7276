# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test check lint typecheck unit browser slow bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	# PyPinkSign: the benchmark's baseline and a second reader in the tests.
	# It pins pyasn1==0.6.1; --no-deps keeps the newer pyasn1 we test against.
	$(BIN)/pip install --quiet --no-deps 'pypinksign>=0.5.4'
	touch $@

run: $(VENV)/.installed
	$(BIN)/certmate run

test: $(VENV)/.installed-dev check

check: lint typecheck unit

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

unit: $(VENV)/.installed-dev browser
	$(BIN)/pytest -q

# The browser tests drive Debian's Chromium: install it when missing (root, or passwordless
# sudo); a no-op once it is there. The tests fail, never skip, without it.
browser:
	@if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } \
	    && command -v apt-get >/dev/null 2>&1; then \
	    sudo=""; \
	    if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; fi; \
	    echo "installing chromium and chromium-driver for the browser tests (apt-get)"; \
	    $$sudo apt-get update -qq \
	    && $$sudo env DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

# The long soak, crash-loop and scale runs (50 kills, 10,000 reminders); short forms run in `test`.
slow: $(VENV)/.installed-dev
	$(BIN)/pytest -q -m slow

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/open_cert.py
	$(BIN)/python bench/storage.py
	$(BIN)/python bench/reminders.py
	$(BIN)/python bench/reminder_dispatch.py
	$(BIN)/python bench/telegram_updates.py
	$(BIN)/python bench/kakao_skill.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
