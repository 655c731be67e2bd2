# Quick start: `make demo` and `make test`. Both create .venv on first use and reinstall
# only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint format bench clean java chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark,fast]'
	touch $(STAMP)

# Spark needs a Java runtime; install Debian's when the machine has none.
java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "installing openjdk-17-jre-headless for the Spark tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless; }

# The report's browser test renders report.html in headless Chromium; install Debian's
# when the machine has none (the test skips, saying why, where it cannot run).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing chromium for the report's browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || echo "chromium could not be installed: the browser test will be skipped"

demo: $(STAMP)
	$(BIN)/mqlml demo

test: $(STAMP) java chromium
	$(BIN)/ruff check mqlml tests bench
	$(BIN)/ruff format --check mqlml tests bench
	$(BIN)/python -m pytest -q

# The inner loop: everything but the slow trainings and Spark (no Java needed).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not spark"

lint: $(STAMP)
	$(BIN)/ruff check mqlml tests bench
	$(BIN)/ruff format --check mqlml tests bench

format: $(STAMP)
	$(BIN)/ruff format mqlml tests bench
	$(BIN)/ruff check --fix mqlml tests bench

bench: $(STAMP) java
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
