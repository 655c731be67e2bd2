"""`mqlml train` on N synthetic leads against a bare LGBMClassifier.fit on the same rows.

`mqlml train` is the whole default job: read, check, split, the model choice (four
candidates on two forward folds), the backtest fits, the deployed refit, calibration,
threshold, evaluation and saving. The bare fit has as many trees as the deployed model.

Usage: python bench/bench_train.py [--rows 1000000] [--repeat 3]
Each measurement runs in a fresh process; prints a markdown table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, Timer, leads_parquet, machine, median_of, peak_rss_mb, run_isolated

HERE = Path(__file__).resolve()


def one(kind: str, rows: int, trees: int) -> dict:
    import pandas as pd

    path = leads_parquet(rows, OUT / f"leads_{rows}.parquet")
    if kind == "mqlml":
        from mqlml.config import ProjectConfig
        from mqlml.model import train

        config = ProjectConfig.model_validate(
            {
                "data": {"path": str(path)},
                "columns": {"id": "lead_id", "time": "created_at", "label": "converted"},
            }
        )
        with Timer() as t:  # the whole job: read, check, split, fit, calibrate, evaluate, save
            result = train(config, out=OUT / "bench_model")
        model = result.bundle.model
        trained = model.best_iteration_ if model.model == "lightgbm" else 300
        return {
            "seconds": t.seconds,
            "trees": trained,
            "rss_mb": peak_rss_mb(),
            "auc": result.metrics["roc_auc"],
            "model": (result.bundle.metadata.get("model_choice") or {}).get("chosen", model.model),
        }
    import lightgbm

    frame = pd.read_parquet(path)
    y = frame.pop("converted").to_numpy()
    X = frame.drop(columns=["lead_id", "created_at"])
    for col in X.select_dtypes(include=["object", "string"]).columns:
        X[col] = X[col].astype("category")
    with Timer() as t:
        lightgbm.LGBMClassifier(n_estimators=trees, learning_rate=0.05, verbose=-1).fit(X, y)
    return {"seconds": t.seconds, "trees": trees, "rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", choices=["mqlml", "bare"])
    parser.add_argument("--trees", type=int, default=300)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.rows, args.trees)))
        return
    leads_parquet(args.rows, OUT / f"leads_{args.rows}.parquet")
    ours, bare = [], []
    for _ in range(args.repeat):
        ours.append(run_isolated(HERE, "--one", "mqlml", "--rows", str(args.rows)))
        trees = ours[-1]["trees"]
        bare.append(
            run_isolated(HERE, "--one", "bare", "--rows", str(args.rows), "--trees", str(trees))
        )
    m, b = median_of(ours, "seconds"), median_of(bare, "seconds")
    result = {
        "rows": args.rows,
        "mqlml_train_s": m,
        "bare_fit_s": b,
        "ratio": m / b,
        "trees": ours[-1]["trees"],
        "auc": ours[-1]["auc"],
        "model": ours[-1]["model"],
        "mqlml_rss_mb": median_of(ours, "rss_mb"),
        "bare_rss_mb": median_of(bare, "rss_mb"),
        "machine": machine(),
    }
    print(f"| {args.rows:,} | {m:.1f} s | {b:.1f} s | {m / b:.2f} | {result['trees']} |")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
