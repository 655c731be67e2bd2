"""The quality benchmark (``make validate``): mqlml against plain anchors on real lead tables.

For each table config it knows (the bundled sample, the two tables in ``MQLML_DATA_DIR``,
the public tables described in ``bench/validate/`` and read from ``MQLML_VALIDATE_DATA``,
and any config passed on the command line), it holds back the later leads (the newest
fifth by ``columns.time``, the last fifth of the rows with ``split.method: order``, else a
seeded random fifth), trains mqlml from the config alone on the rest, and judges on the
held-back leads, which nothing saw:

- ROC AUC of mqlml against plain LightGBM (300 trees) and plain logistic regression
  (one-hot, median-imputed, scaled) fit on the same history and features;
- the expected calibration error of mqlml's probabilities;
- the target against the realized MQL-to-SQL rate of the deployed line, with its exact
  90 % interval, and the MQL count (a table passes when the target is inside the
  interval, or every lead is an MQL and the rate is at or above the target);
- the guarantee mode (``threshold.confidence: 0.9``): what training said and the rate;
- the points' MQL-to-SQL rate at the same number of MQLs, where the config has rules.

It prints the table and writes ``bench/QUALITY.md`` (``--out`` to change) and
``bench/out/quality.json``. A table whose data is missing is listed as skipped.

Usage::

    python bench/validate.py [--seed 0] [--tables sample,xeducation,...] [CONFIG ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from common import OUT, machine  # noqa: E402

from mqlml.config import load_config  # noqa: E402
from mqlml.errors import MqlmlError  # noqa: E402
from mqlml.leads import LeadSchema, converted_times, read_leads  # noqa: E402
from mqlml.metrics import expected_calibration_error, rate_interval  # noqa: E402
from mqlml.model import train  # noqa: E402
from mqlml.scoring import score_frame  # noqa: E402

TABLES = {
    "sample": ROOT / "mqlml" / "data" / "mqlml.yaml",
    "xeducation": ROOT / "data" / "xeducation.yaml",
    "bank": ROOT / "data" / "bank.yaml",
    "online_shoppers": HERE / "validate" / "online_shoppers.yaml",
    "marketing_campaign": HERE / "validate" / "marketing_campaign.yaml",
    "olist_funnel": HERE / "validate" / "olist_funnel.yaml",
}
HOLD_BACK = 0.2


def _later(config, frame: pd.DataFrame, y: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    """Rows held back (the later leads) and how they were chosen."""
    n = len(frame)
    k = round(n * HOLD_BACK)
    if config.columns.time is not None:
        times = pd.to_datetime(frame[config.columns.time], errors="coerce")
        order = np.argsort(times.to_numpy(), kind="stable")
        return np.sort(order[n - k :]), "newest fifth by time"
    if config.split.method == "order":
        return np.arange(n - k, n), "last fifth of the rows"
    from sklearn.model_selection import train_test_split

    _, held = train_test_split(np.arange(n), test_size=k, stratify=y, random_state=seed)
    return np.sort(held), f"random fifth (seed {seed})"


def _anchors(bundle, X_hist, y_hist, X_later) -> dict[str, np.ndarray]:
    """Plain LightGBM and logistic regression on the same history and features."""
    import lightgbm
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cats = list(bundle.model.categorical_features_)
    nums = list(bundle.model.numeric_features_)

    def frame(X: pd.DataFrame) -> pd.DataFrame:
        out = X[cats + nums].copy()
        for c in cats:
            out[c] = out[c].astype("string").astype(object).where(out[c].notna(), "(missing)")
        for c in nums:
            out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
        return out

    hist, later = frame(X_hist), frame(X_later)
    levels = {c: pd.CategoricalDtype(sorted(hist[c].unique())) for c in cats}
    gbm = lightgbm.LGBMClassifier(n_estimators=300, verbose=-1, random_state=0, n_jobs=2)
    gbm.fit(hist.astype(levels), y_hist)
    linear = make_pipeline(
        ColumnTransformer(
            [
                (
                    "cat",
                    OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10),
                    cats,
                ),
                (
                    "num",
                    make_pipeline(
                        SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                    ),
                    nums,
                ),
            ]
        ),
        LogisticRegression(max_iter=5000),
    )
    linear.fit(hist, y_hist)
    return {
        "lightgbm": gbm.predict_proba(later.astype(levels))[:, 1],
        "logistic": linear.predict_proba(later)[:, 1],
    }


def _rate(y: np.ndarray, mql: np.ndarray) -> dict:
    n, k = int(mql.sum()), int(y[mql].sum())
    interval = rate_interval(k, n)
    return {"n_mql": n, "conversions": k, "rate": k / n if n else None, "interval": interval}


def _holds(target: float, rate: dict, n: int) -> bool:
    if rate["interval"] is None:
        return False
    low, high = rate["interval"]
    if rate["n_mql"] == n:  # every lead an MQL: no stricter line could be judged
        return rate["rate"] >= target
    return low <= target <= high


def validate(name: str, path: Path, seed: int) -> dict:
    """Train on the history of one table and judge on its held-back leads."""
    from sklearn.metrics import roc_auc_score

    config = load_config(path)
    frame = read_leads(config)
    schema = LeadSchema.resolve(config, frame)
    y_all = _within_window(config, schema, frame, schema.labels(frame))
    held, how = _later(config, frame, y_all, seed)
    keep = np.ones(len(frame), dtype=bool)
    keep[held] = False
    history = frame.loc[keep].reset_index(drop=True)
    later = frame.loc[~keep].reset_index(drop=True)
    y = y_all[~keep]
    start = time.perf_counter()
    result = train(config, frame=history)
    seconds = time.perf_counter() - start
    bundle = result.bundle
    scores = score_frame(bundle, later, reasons="none")
    p = scores["probability"].to_numpy()
    mql = scores["is_mql"].to_numpy(dtype=bool)
    anchors = _anchors(bundle, schema.features_frame(history), y_all[keep],
                       schema.features_frame(later))  # fmt: skip
    target = bundle.threshold.target_rate
    rate = _rate(y, mql)
    out = {
        "table": name,
        "rows": len(frame),
        "held_back": how,
        "later_rows": len(later),
        "later_base_rate": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, p)),
        "roc_auc_lightgbm": float(roc_auc_score(y, anchors["lightgbm"])),
        "roc_auc_logistic": float(roc_auc_score(y, anchors["logistic"])),
        "ece": float(expected_calibration_error(y, p)),
        "target_rate": target,
        "realized": rate,
        "holds": bool(target is not None and _holds(target, rate, len(y))),
        "threshold": bundle.threshold.threshold,
        "model": bundle.metadata.get("model"),
        "train_seconds": seconds,
        "warnings": list(result.warnings),
    }
    out["auc_ok"] = out["roc_auc"] >= max(out["roc_auc_lightgbm"], out["roc_auc_logistic"]) - 0.005
    out["guarantee"] = _guarantee(config, history, later, y)
    out["points"] = _points(config, later, y, rate["n_mql"])
    return out


def _within_window(config, schema, frame: pd.DataFrame, y: np.ndarray) -> np.ndarray:
    """With ``outcome.window_days``, the later leads are judged as training counts them:
    converted within the window."""
    window, column = config.outcome.window_days, config.columns.converted_at
    if window is None or column is None:
        return y
    conv = converted_times(frame, column, schema.date_formats.get(column))
    days = ((conv - schema.times(frame)) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    return (y.astype(bool) & ~(days > window)).astype(int)


def _guarantee(config, history, later, y) -> dict:
    try:
        result = train(config, frame=history, confidence=0.9)
    except MqlmlError as exc:
        return {"error": str(exc).splitlines()[0][:160]}
    bundle = result.bundle
    mql = score_frame(bundle, later, reasons="none")["is_mql"].to_numpy(dtype=bool)
    return {
        "lower_bound": bundle.threshold.lower_bound,
        "met": bundle.metadata.get("guarantee"),
        "realized": _rate(y, mql),
    }


def _points(config, later: pd.DataFrame, y: np.ndarray, n_mql: int) -> dict | None:
    from mqlml.metrics import rate_at_volume
    from mqlml.rules import PointsBaseline

    if config.baseline.rules is None or not 1 <= n_mql <= len(y):
        return None
    points = PointsBaseline.from_yaml(config.baseline.rules).fit(later).decision_function(later)
    return rate_at_volume(y, points, n_mql)


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _row(r: dict) -> str:
    for outcome in ("skipped", "failed"):
        if outcome in r:
            return f"| {r['table']} | {outcome}: {r[outcome]} |" + " |" * 9
    real = r["realized"]
    low, high = real["interval"] or (None, None)
    g = r["guarantee"]
    if "error" in g:
        guarantee = f"error: {g['error'][:60]}"
    else:
        gr = g["realized"]
        guarantee = f"{g.get('met') or '?'}; {_pct(gr['rate'])} % of {gr['n_mql']:,}"
    pts = r["points"]
    points = "-" if pts is None else f"{_pct(pts['rate'])} %"
    return (
        f"| {r['table']} | {r['rows']:,} ({r['held_back']}) | {r['roc_auc']:.3f} | "
        f"{r['roc_auc_lightgbm']:.3f} / {r['roc_auc_logistic']:.3f} | {r['ece']:.3f} | "
        f"{_pct(r['target_rate'])} % | {_pct(real['rate'])} % ({_pct(low)}-{_pct(high)}) | "
        f"{real['n_mql']:,} of {r['later_rows']:,} | {'yes' if r['holds'] else 'NO'} | "
        f"{guarantee} | {points} |"
    )


HEADER = (
    "| table | rows (held back) | ROC AUC | plain LightGBM / logistic | ECE | target | "
    "realized MQL-to-SQL (90 % exact) | MQLs | target held | guarantee (0.9) | points at "
    "equal volume |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="*", type=Path, help="more table configs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random fifth")
    parser.add_argument("--tables", default=",".join(TABLES), help="built-in tables to run")
    parser.add_argument("--out", type=Path, default=HERE / "QUALITY.md")
    args = parser.parse_args(argv)
    chosen = {name: TABLES[name] for name in args.tables.split(",") if name}
    chosen.update({path.stem: path for path in args.configs})
    rows = []
    for name, path in chosen.items():
        print(f"{name}: {path}", file=sys.stderr, flush=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows.append(validate(name, path, args.seed))
        except FileNotFoundError as exc:
            rows.append({"table": name, "skipped": f"data not found ({exc.filename})"})
        except MqlmlError as exc:
            first = str(exc).splitlines()[0]
            missing = "must be an existing file" in first or "not found" in first
            rows.append({"table": name, "skipped" if missing else "failed": first[:160]})
        print(_row(rows[-1]), file=sys.stderr, flush=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    body = "\n".join([HEADER, *map(_row, rows)])
    text = (
        "# Quality on real lead tables\n\n"
        f"`make validate` on {stamp}, {machine()}, seed {args.seed}. Each table's later "
        "leads (newest fifth by time, last fifth in row order, or a seeded random fifth) "
        "are held back; mqlml trains from the config alone on the rest; the anchors are "
        "plain LightGBM (300 trees) and logistic regression fit on the same history. "
        '"Target held": the target is inside the exact 90 % interval of the realized '
        "MQL-to-SQL rate of the deployed line (or every lead is an MQL and the rate is at "
        "or above the target).\n\n" + body + "\n"
    )
    args.out.write_text(text)
    OUT.mkdir(exist_ok=True)
    (OUT / "quality.json").write_text(json.dumps(rows, indent=1, default=str))
    print(body)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MQLML_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    raise SystemExit(main())
