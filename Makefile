# The two commands of the quick start. Both create .venv and install the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint format bench soak clean chromium

# pip's output goes to a log that is shown only when the install fails.
$(STAMP): pyproject.toml
	@echo "Installing into $(VENV) (log: $(VENV)/install.log)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --upgrade pip > $(VENV)/install.log 2>&1 \
		&& $(BIN)/pip install -e '.[dev]' >> $(VENV)/install.log 2>&1 \
		|| (cat $(VENV)/install.log; exit 1)
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/hitlbot dev --db hitlbot.db

# The browser tests drive Debian's chromium (never a downloaded browser); install it when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -q > $(VENV)/apt.log 2>&1 && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium >> $(VENV)/apt.log 2>&1 \
		|| { cat $(VENV)/apt.log; exit 1; }; }

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/runtime_bench.py
	$(BIN)/python bench/abuse_bench.py
	$(BIN)/python bench/click_cost.py
	$(BIN)/python bench/bot_bench.py

# Crashes the bot while people start runs and click, with Slack's rate limits on
# (`make soak SOAK_ARGS=--quick` for a short one); exits 1 when a goal is missed.
soak: $(STAMP)
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
