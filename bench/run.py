"""Run every benchmark and write bench/RESULTS.md (`make bench`).

Usage: python bench/run.py [--quick]

--quick runs each benchmark on small sizes (a smoke test of the scripts); the committed
RESULTS.md comes from the full sizes on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import machine  # noqa: E402

PY = sys.executable


def _run(*args: str) -> str:
    done = subprocess.run([PY, *args], capture_output=True, text=True, cwd=HERE.parent)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return done.stdout


def _last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def startup(repeat: int = 5) -> str:
    mqlml = str(Path(PY).with_name("mqlml"))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([mqlml, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    trace = subprocess.run(
        [PY, "-X", "importtime", "-c", "import mqlml.cli"], capture_output=True, text=True
    ).stderr
    heavy = [
        m
        for m in ("mlflow", "sklearn", "lightgbm", "matplotlib", "pyspark")
        if f" {m}\n" in trace or f" {m}." in trace
    ]
    return (
        "| command | median of 5 | imports of mlflow, sklearn, lightgbm, matplotlib, pyspark |\n"
        "|---|---|---|\n"
        f"| `mqlml --help` | {statistics.median(times):.2f} s | {', '.join(heavy) or 'none'} |\n"
    )


def train(rows: int, repeat: int) -> str:
    r = _last_json(_run("bench/bench_train.py", "--rows", str(rows), "--repeat", str(repeat)))
    return (
        "| rows | `mqlml train` (whole job) | bare `LGBMClassifier.fit`, same trees, all rows "
        "| ratio (goal <= 1.3) | trees | test ROC AUC |\n|---|---|---|---|---|---|\n"
        f"| {rows:,} | {r['mqlml_train_s']:.1f} s | {r['bare_fit_s']:.1f} s | "
        f"{r['ratio']:.2f} | {r['trees']} | {r['auc']:.3f} |\n"
    )


def score(rows: int, memory_rows: int, repeat: int) -> str:
    r = _last_json(
        _run(
            "bench/bench_score.py",
            "--rows",
            str(rows),
            "--memory-rows",
            str(memory_rows),
            "--repeat",
            str(repeat),
        )
    )
    rss = r["peak_rss_mb"]
    return (
        "| rows | bare loop | mqlml, no reasons | ratio (goal >= 0.7) | mqlml, default reasons "
        "| ratio to no reasons (goal >= 0.25) |\n|---|---|---|---|---|---|\n"
        f"| {rows:,} | {r['bare_rows_per_s']:,.0f} rows/s | {r['no_reasons_rows_per_s']:,.0f} "
        f"rows/s | {r['ratio_no_reasons_to_bare']:.2f} | {r['default_reasons_rows_per_s']:,.0f} "
        f"rows/s | {r['ratio_default_reasons_to_no_reasons']:.2f} |\n\n"
        "Peak memory of `score_file` (no reasons, 100,000-row chunks): "
        + ", ".join(f"{int(k):,} rows {v:,.0f} MB" for k, v in rss.items())
        + ".\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    q = args.quick
    sections = [
        ("Start-up", startup()),
        ("Training (issue: train)", train(50_000 if q else 1_000_000, 1 if q else 3)),
        (
            "Batch scoring, Parquet to Parquet",
            score(200_000 if q else 5_000_000, 100_000 if q else 1_000_000, 1 if q else 3),
        ),
        (
            "Activity log to engagement features",
            _run(
                "bench/bench_events.py",
                "--events",
                "200000" if q else "10000000",
                "--leads",
                "20000" if q else "1000000",
                "--repeat",
                "1" if q else "3",
            ),
        ),
        (
            "Spark scoring, local[2], against one process",
            _run("bench/bench_spark.py", "--rows", "100000" if q else "5000000"),
        ),
    ]
    text = [
        "# Benchmark results\n",
        f"Machine: {machine()}. Run on {date.today()} by `make bench`"
        + (" --quick (small sizes)" if q else "")
        + ". Medians of repeated runs, each in a fresh process; the plain baseline ran in "
        "the same run, so compare the ratios.\n",
    ]
    for title, body in sections:
        text.append(f"## {title}\n\n{body.strip()}\n")
    target = HERE / ("RESULTS-quick.md" if q else "RESULTS.md")
    if target.exists() and "\n## Notes" in target.read_text():  # hand-written, kept
        text.append("## Notes" + target.read_text().split("\n## Notes", 1)[1])
    target.write_text("\n".join(text))
    print(target.read_text())


if __name__ == "__main__":
    main()
