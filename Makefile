# Quick start: `make demo` and `make test`. Both create .venv on first use and reinstall
# only when pyproject.toml or constraints.txt changes; every version comes from
# constraints.txt (the set CI tested; `make lock` refreshes it).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint format bench clean java chromium docs lock notebook

LOCK_VENV := build/lock-venv

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark,fast]'
	touch $(STAMP)

# Resolve every dependency (and extra) afresh in a throwaway venv and pin what it got.
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet '.[dev,spark,fast,notebook]'
	{ sed -n '/^#/p' constraints.txt; $(LOCK_VENV)/bin/python -m pip freeze --exclude mqlml; } \
	  > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf $(LOCK_VENV)

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

# The retraining notebook in JupyterLab (the notebook extra).
notebook: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[notebook]'
	$(BIN)/jupyter lab notebooks/retrain.ipynb

# The config reference (docs/config.md) and its JSON Schema, from the config models.
docs: $(STAMP)
	$(BIN)/python -m mqlml.config_reference docs

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
