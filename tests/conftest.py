"""Shared fixtures: where the public data lives, small configs written to tmp folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def data_dir() -> Path:
    """The public datasets folder: $MQLML_DATA_DIR, else ../shared/data beside the repo."""
    return Path(os.environ.get("MQLML_DATA_DIR") or ROOT.parent / "shared" / "data")


@pytest.fixture
def real_data() -> Path:
    folder = data_dir()
    if not (folder / "xeducation" / "Leads.csv").is_file():
        pytest.skip(f"public datasets not found in {folder} (set MQLML_DATA_DIR)")
    return folder


@pytest.fixture
def write_config(tmp_path):
    """Write a YAML config text into tmp_path and return its path."""

    def write(text: str, name: str = "mqlml.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


SAMPLE_CONFIG = DATA / "mqlml.yaml"

# The keys `mqlml train --json` and TrainResult.summary() document.
SUMMARY_KEYS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "ece",
    "threshold",
    "target_rate",
    "expected_rate",
    "realized_rate",
    "mql_share",
    "bundle",
)


@pytest.fixture(scope="session")
def sample_config():
    from mqlml.config._config import load_config

    return load_config(SAMPLE_CONFIG)


@pytest.fixture(scope="session")
def leads_20k():
    from mqlml.leads._synthetic import make_leads

    return make_leads(20_000, seed=11, truth=True)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, sample_config, leads_20k):
    """A LightGBM bundle trained on 20,000 synthetic leads, saved to a folder."""
    from mqlml.model._train import train

    out = tmp_path_factory.mktemp("bundle") / "model"
    return train(sample_config, frame=leads_20k.drop(columns="true_probability"), out=out)


# -- synthetic leads to train on ------------------------------------------------------
#: The id, label and time columns of a make_leads() frame.
LEAD_COLUMNS = {"id": "lead_id", "label": "converted", "time": "created_at"}


def leads_config(columns: dict | None = None, **sections):
    """A config that trains on a make_leads() frame given to train() (data path "-").

    ``columns`` adds to the id, label and time columns (an account or conversion-time
    column) or overrides them; ``sections`` are the other sections as ProjectConfig
    takes them.
    """
    from mqlml.config._config import ProjectConfig

    return ProjectConfig(
        data={"path": "-"}, columns={**LEAD_COLUMNS, **(columns or {})}, **sections
    )


@pytest.fixture(scope="session")
def leads_4k():
    """4,000 synthetic leads (seed 2; no regions, accounts or truth). Copy before changing."""
    from mqlml.leads._synthetic import make_leads

    return make_leads(4_000, seed=2)


@pytest.fixture(scope="session")
def logistic_trained(tmp_path_factory, leads_4k):
    """A logistic bundle on leads_4k (target rate 30 %; no segments, no accounts), saved."""
    from mqlml.model._train import train

    config = leads_config(model={"kind": "logistic"}, threshold={"target_rate": 0.3})
    return train(config, frame=leads_4k, out=tmp_path_factory.mktemp("logistic") / "model")


# -- models ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def rare_model():
    """A LeadScorer whose training data has a level too rare to keep and missing values.

    'Rare Industry' is on 15 leads, fewer than min_category_count=20; job_title and
    pricing_page_visits are missing on some. One thread: on a busy machine LightGBM's
    threads slowed this small fit many times over. Fitted once: use it, never refit it.
    """
    import numpy as np

    from mqlml.leads._synthetic import make_leads
    from mqlml.model._estimator import LeadScorer

    frame = make_leads(6000, seed=3)
    y = frame.pop("converted")
    frame = frame.drop(columns=["lead_id", "created_at"])
    frame.loc[frame.index[:15], "industry"] = "Rare Industry"  # < min_category_count
    frame.loc[frame.index[15:30], "job_title"] = None
    frame.loc[frame.index[30:200], "pricing_page_visits"] = np.nan
    model = LeadScorer(n_estimators=60, min_category_count=20, random_state=0, n_jobs=1)
    return model.fit(frame, y)


@pytest.fixture(scope="session")
def compiled_cache(tmp_path_factory):
    """One folder of compiled trees for the session, so each model is compiled once."""
    return tmp_path_factory.mktemp("compiled")


@pytest.fixture(scope="session", autouse=True)
def _private_cache_home(tmp_path_factory):
    """Compiled trees that fall back to the default cache (a bundle folder that is not
    writable) go to a folder of the session, never to the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


# -- MLflow ---------------------------------------------------------------------------
#: The marks of a test module that uses MLflow: its own store (:func:`mlflow_store`), and
#: the SQLAlchemy deprecation that opening MLflow's SQLite store from a test (not through
#: mqlml.integrations._tracking, which silences MLflow's own noise) triggers inside MLflow.
MLFLOW_MODULE = [
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
    ),
    pytest.mark.usefixtures("mlflow_store"),
]


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory):
    """A SQLite MLflow store in a temporary folder, one per test module.

    MLFLOW_TRACKING_URI names it while the module's tests and fixtures run (a module
    asks for it with ``pytestmark = MLFLOW_MODULE``); a test may change the variable
    with monkeypatch, which puts it back afterwards.
    """
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{(folder / 'mlflow.db').as_posix()}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        yield uri
