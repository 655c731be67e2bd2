# Quick start: `make demo` and `make test`. Both create .venv on first use and reinstall
# only when pyproject.toml or constraints.txt changes; every version comes from
# constraints.txt (the set CI tested; `make lock` refreshes it).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint format bench validate validate-data clean java chromium docs lock notebook \
	notebook-run

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
	$(BIN)/python -m pytest -q --durations=20

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

# The quality benchmark on real tables (not part of make test): mqlml against plain
# LightGBM and logistic regression on held-back later leads; writes bench/QUALITY.md.
# The shared tables come from MQLML_DATA_DIR, the public ones of bench/validate/*.yaml
# from MQLML_VALIDATE_DATA (default ../validate-data; make validate-data fetches them);
# CONFIGS="a.yaml b.yaml" adds your own tables.
validate: $(STAMP)
	$(BIN)/python bench/validate.py $(CONFIGS)

VALIDATE_DATA ?= $(or $(MQLML_VALIDATE_DATA),../validate-data)
validate-data:
	mkdir -p $(VALIDATE_DATA)
	curl -fsSL -o $(VALIDATE_DATA)/online_shoppers_intention.csv \
	  https://raw.githubusercontent.com/remijul/dataset/2932bc420070530ea009719fad7dd688d3a3bb61/online_shoppers_intention.csv
	curl -fsSL -o $(VALIDATE_DATA)/marketing_campaign.csv \
	  https://raw.githubusercontent.com/2001aya2001alaa/Marketing-Campaign-Analytics/19b486856b11c19c6edbeb75d09a3391e55d9751/marketing_campaign.csv
	curl -fsSL -o $(VALIDATE_DATA)/olist_marketing_qualified_leads_dataset.csv \
	  https://raw.githubusercontent.com/vinuthnamahankali114/FUTURE_DS_03./415f806a9360e483cbe42991ded8f52f991fb084/olist_marketing_qualified_leads_dataset.csv
	curl -fsSL -o $(VALIDATE_DATA)/olist_closed_deals_dataset.csv \
	  https://raw.githubusercontent.com/lasyasunkavilli408/FUTURE_DS_03/cef4aaa86868d83fcbdd809ee77e12178d09dc8b/olist_closed_deals_dataset.csv
	cd $(VALIDATE_DATA) && printf '%s  %s\n' \
	  9895055fb6c7b5376c93a850c2707522646a1cadf234cdc687fcc38a2cde180b online_shoppers_intention.csv \
	  366b9e8f5526db19deda650dc3c06d92b606ce51a24d7c0a94bf8d9bc9878e80 marketing_campaign.csv \
	  c749e1329e65c8a26a9c8710cd4c598d337a79b582e91fcfafbb4f11f6413679 olist_marketing_qualified_leads_dataset.csv \
	  063b2e02a263c236a171b7ba19534636cc8587fd10668eabeb9a66c35182a563 olist_closed_deals_dataset.csv \
	  | sha256sum -c -
	$(BIN)/python bench/validate/olist_funnel.py $(VALIDATE_DATA)

# The retraining notebook in JupyterLab (the notebook extra).
notebook: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[notebook]'
	$(BIN)/jupyter lab notebooks/retrain.ipynb

# The retraining notebook run headless: no browser and no Jupyter server, so it runs as
# root too (JupyterLab refuses root). Every cell runs in a kernel from the repository's
# root, what it prints is shown as it finishes, and the executed copy (plots included) is
# written to build/retrain.ipynb; the committed notebook stays without outputs. Its
# settings come from the environment (MQLML_REGISTER=1 logs, registers and promotes).
notebook-run: $(STAMP)
	$(BIN)/python notebooks/run.py --out build/retrain.ipynb

# The config reference (docs/config.md) and its JSON Schema, from the config models.
docs: $(STAMP)
	$(BIN)/python -m mqlml.config docs

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
