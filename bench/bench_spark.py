"""Benchmark: scoring one Parquet file with Spark (local[2]) and with the local scorer.

Usage::

    python bench/bench_spark.py [--rows 5000000] [--bundle DIR] [--master local[2]]

Writes N synthetic leads to Parquet (generated in chunks, so memory stays modest),
trains a model on 100,000 other leads once (or loads ``--bundle``), then scores the same
file with :func:`mqlml.integrations.spark.score_files` and with :func:`mqlml.scoring.score_file`
(one process), checks that both wrote the same number of rows and MQLs, and prints a
Markdown table row for bench/RESULTS.md. Spark's rate is given for the scoring job
(read, score, write, count) and for the whole call including the session start.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mqlml.config import load_config
from mqlml.integrations.spark import score_files
from mqlml.leads import make_leads
from mqlml.model import load_bundle, train
from mqlml.scoring import score_file

ROOT = Path(__file__).resolve().parents[1]
HEADER = (
    "| date | machine | rows | reasons | local rows/s | Spark job rows/s "
    "| Spark rows/s incl. start | Spark master |\n|---|---|---|---|---|---|---|---|"
)


def machine() -> str:
    """Cores and RAM of this machine, e.g. ``2 cores, 23.4 GiB``."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {ram:.1f} GiB, Python {platform.python_version()}"


def write_leads(path: Path, rows: int, chunk: int, seed: int) -> None:
    """Write ``rows`` synthetic leads with unique ids, ``chunk`` rows at a time."""
    writer = None
    try:
        for number, start in enumerate(range(0, rows, chunk)):
            n = min(chunk, rows - start)
            frame = make_leads(n, seed=seed + number)
            ids = pd.Series(np.arange(start + 1, start + n + 1)).astype(str).str.zfill(9)
            frame["lead_id"] = ("L" + ids).to_numpy()
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=500_000, help="rows generated at a time")
    parser.add_argument("--bundle", type=Path, default=None, help="use this bundle")
    parser.add_argument("--train-rows", type=int, default=100_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--reasons", choices=("top", "all", "none"), default="top")
    parser.add_argument("--workdir", type=Path, default=None, help="kept when given")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="mqlml-bench-spark-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        leads = work / "leads.parquet"
        t = time.perf_counter()
        write_leads(leads, args.rows, args.chunk, seed=1000)
        print(f"wrote {args.rows:,} leads in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        if args.bundle is None:
            t = time.perf_counter()
            config = load_config(ROOT / "data" / "mqlml.yaml")
            frame = make_leads(args.train_rows, seed=7)
            bundle_path = train(config, frame=frame, out=work / "model").path
            print(f"trained in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        else:
            bundle_path = args.bundle
        bundle = load_bundle(bundle_path)

        local = score_file(bundle, leads, work / "local.parquet", reasons=args.reasons)
        print(f"local: {local.rows_per_second:,.0f} rows/s", file=sys.stderr)

        t = time.perf_counter()
        spark = score_files(
            bundle_path, leads, work / "spark.parquet", master=args.master, reasons=args.reasons
        )
        wall = time.perf_counter() - t
        print(f"spark: {spark['rows_per_second']:,.0f} rows/s", file=sys.stderr)
        if (spark["rows"], spark["mqls"]) != (local.rows, local.mqls):
            raise SystemExit(
                f"outputs differ: Spark {spark['rows']} rows / {spark['mqls']} MQLs, "
                f"local {local.rows} rows / {local.mqls} MQLs"
            )
        print(HEADER)
        print(
            f"| {date.today()} | {machine()} | {args.rows:,} | {args.reasons} "
            f"| {local.rows_per_second:,.0f} "
            f"| {spark['rows_per_second']:,.0f} | {spark['rows'] / wall:,.0f} "
            f"| {args.master} |"
        )
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
