"""Batch scoring Parquet -> Parquet: `mqlml.scoring.score_file` against a bare loop.

The bare loop reads pyarrow batches, calls the same model's ``predict_proba`` and writes
id + probability with a Parquet writer. mqlml adds the schema check and coercion,
calibration, score, percentile, tier, sub-scores, reasons and the atomic rename.

Usage: python bench/bench_score.py [--rows 5000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, Timer, leads_parquet, machine, median_of, peak_rss_mb, run_isolated

HERE = Path(__file__).resolve()
MODEL = OUT / "score_model"


def model() -> Path:
    if not (MODEL / "manifest.json").is_file():
        from mqlml.config import ProjectConfig
        from mqlml.datasets import make_leads
        from mqlml.train import train

        config = ProjectConfig.model_validate(
            {
                "data": {"path": "-"},
                "columns": {"id": "lead_id", "time": "created_at", "label": "converted"},
            }
        )
        train(config, frame=make_leads(100_000, seed=99), out=MODEL)
    return MODEL


def one(kind: str, rows: int) -> dict:
    source = OUT / f"leads_{rows}.parquet"
    target = OUT / f"scores_{kind}_{rows}.parquet"
    if kind == "bare":
        import pyarrow as pa
        import pyarrow.parquet as pq

        from mqlml.bundle import load_bundle

        bundle = load_bundle(MODEL)
        features = bundle.schema.features
        with Timer() as t:
            writer = None
            for batch in pq.ParquetFile(source).iter_batches(
                batch_size=100_000, columns=["lead_id", *features]
            ):
                frame = batch.to_pandas()
                p = bundle.model.predict_proba(frame[features])[:, 1]
                out = pa.table({"lead_id": frame["lead_id"].to_numpy(), "probability": p})
                writer = writer or pq.ParquetWriter(target, out.schema)
                writer.write_table(out)
            writer.close()
    else:
        from mqlml.scoring import score_file

        with Timer() as t:
            score_file(MODEL, source, target, reasons=kind, chunk_size=100_000)
    target.unlink()
    return {"seconds": t.seconds, "rows_per_s": rows / t.seconds, "rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", choices=["bare", "none", "top", "all"])
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.rows)))
        return
    model()
    for rows in {args.rows, args.memory_rows}:
        leads_parquet(rows, OUT / f"leads_{rows}.parquet")
    runs: dict[str, list[dict]] = {"bare": [], "none": [], "top": []}
    for _ in range(args.repeat):  # interleaved, so machine noise hits all alike
        for kind in runs:
            runs[kind].append(run_isolated(HERE, "--one", kind, "--rows", str(args.rows)))
    small = run_isolated(HERE, "--one", "none", "--rows", str(args.memory_rows))
    rate = {kind: median_of(r, "rows_per_s") for kind, r in runs.items()}
    result = {
        "rows": args.rows,
        "bare_rows_per_s": rate["bare"],
        "no_reasons_rows_per_s": rate["none"],
        "default_reasons_rows_per_s": rate["top"],
        "ratio_no_reasons_to_bare": rate["none"] / rate["bare"],
        "ratio_default_reasons_to_no_reasons": rate["top"] / rate["none"],
        "peak_rss_mb": {
            str(args.memory_rows): small["rss_mb"],
            str(args.rows): median_of(runs["none"], "rss_mb"),
        },
        "machine": machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
