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


def train(sizes: list[int], repeat: int) -> str:
    lines = [
        "| rows | `mqlml train` (whole default job) | bare `LGBMClassifier.fit`, same trees, "
        "all rows | ratio | goal | model chosen | trees | test ROC AUC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rows in sizes:
        args = ("bench/bench_train.py", "--rows", str(rows), "--repeat", str(repeat))
        r = _last_json(_run(*args))
        goal = "<= 10 s" if rows <= 10_000 else "ratio <= 3"
        lines.append(
            f"| {rows:,} | {r['mqlml_train_s']:.1f} s | {r['bare_fit_s']:.1f} s | "
            f"{r['ratio']:.2f} | {goal} | {r['model']} | {r['trees']} | {r['auc']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def score(rows: int, big_rows: int) -> str:
    r = _last_json(_run("bench/bench_score.py", "--rows", str(rows), "--big-rows", str(big_rows)))
    return score_text(r)


def score_text(r: dict) -> str:
    """The scoring section of RESULTS.md from bench_score.py's JSON."""
    names = {
        "bare": "bare loop (batches, `predict_proba`, write)",
        "lightgbm-none": "`score_file`, `--predictor lightgbm`, no reasons",
        "lightgbm-top": "`score_file`, `--predictor lightgbm`, default reasons",
        "compiled-none": "`score_file`, `--predictor compiled`, no reasons",
        "compiled-top": "`score_file`, `--predictor compiled`, default reasons",
        "before:lightgbm-none": "before this change: `--predictor lightgbm`, no reasons",
        "before:compiled-none": "before this change: `--predictor compiled`, no reasons",
        "before:compiled-top": "before this change: `--predictor compiled`, default reasons",
    }
    load = r.get("load_average") or {}
    lines = [
        f"Each case in a fresh process, cases interleaved round by round (in reverse order "
        f"every other round, an untimed scoring run after each bare loop); rates and peak RSS "
        f"are medians over the rounds, the ratio is the median of each round's ratio to that "
        f"round's bare loop. Load average during the run {load.get('min', 0):.1f}-"
        f"{load.get('max', 0):.1f} (median {load.get('median', 0):.1f}) on "
        f"{r.get('machine', 'this machine')}; {r.get('minutes', 0):.0f} minutes.",
        "",
        "| rows | input | path | rounds | rows/s | x bare loop | peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for x in r["cases"]:
        ratio = "" if x["ratio"] is None else f"{x['ratio']:.2f}"
        lines.append(
            f"| {x['rows']:,} | {x['format']} | {names[x['case']]} | {x['repeats']} "
            f"| {x['rows_per_s']:,.0f} | {ratio} | {x['rss_mb']:,.0f} MB |"
        )
    e = r.get("engines")
    if not e:
        lines.append("")
        lines.append("(In-memory engines not measured in this run.)")
        e = {"rows": 0, "trees": 0, "lightgbm": {"rows_per_s": 1.0}, "skip": True}
    lines += (
        []
        if e.get("skip")
        else [
            "",
            f"Engines in memory, {e['rows']:,} prepared rows with unseen, rare and missing "
            f"levels, {e['trees']} trees (best of 3):",
            "",
            "| engine | rows/s | x LightGBM | max abs diff in log-odds | bit-identical | compile |",
            "|---|---|---|---|---|---|",
        ]
    )
    base = e["lightgbm"]["rows_per_s"]
    for key, label in (
        ()
        if e.get("skip")
        else (
            ("lightgbm", "LightGBM `booster.predict(raw_score=True)`"),
            ("lightgbm_pred_leaf", "LightGBM `pred_leaf=True`"),
            ("pylignum_interpreter", "pylignum interpreter"),
            ("pylignum_compiled", "pylignum compiled"),
            ("lleaves", "lleaves (probabilities; log-odds recovered with logit)"),
            ("mqlml_lightgbm_scores", "mqlml lightgbm: log-odds + sub-scores"),
            ("mqlml_compiled_scores", "mqlml compiled: log-odds + sub-scores"),
            ("mqlml_lightgbm_contributions", "mqlml lightgbm: per-column contributions"),
            ("mqlml_compiled_contributions", "mqlml compiled: per-column contributions"),
        )
    ):
        v = e.get(key)
        if v is None:
            continue
        if isinstance(v, str):
            lines.append(f"| {label} | {v} | | | | |")
            continue
        diff = f"{v['max_abs_diff']:.1e}" if "max_abs_diff" in v else ""
        same = {True: "yes", False: "no"}.get(v.get("identical"), "")
        compile_s = f"{v['compile_s']:.1f} s" if "compile_s" in v else ""
        lines.append(
            f"| {label} | {v['rows_per_s']:,.0f} | {v['rows_per_s'] / base:.1f} | {diff} "
            f"| {same} | {compile_s} |"
        )
    a = r.get("agreement")
    if not a:
        return "\n".join(lines) + "\n"
    lines += [
        "",
        f"Path attribution against exact TreeSHAP on {a['rows']:,} leads: same top reason "
        f"{a['same_top_reason']:.0%}, same top-3 set {a['same_top3_set']:.0%}, same sign "
        f"{a['same_sign']:.0%} (contributions over 0.005); TreeSHAP "
        f"{a['shap_rows_per_s']:,.0f} rows/s, path attribution (LightGBM leaves) "
        f"{a['path_rows_per_s']:,.0f} rows/s. The compiled predictor was ready in "
        f"{r['first_compile_s']:.1f} s before the cases (compiled, or loaded from the "
        "cache; a first compile is in the engines table).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only-train", action="store_true", help="rewrite only the training section"
    )
    parser.add_argument(
        "--only-score",
        metavar="JSON",
        help="rewrite only the scoring section of RESULTS.md from a bench_score.py output",
    )
    args = parser.parse_args()
    if args.only_train:
        _replace_section("Training", train([6_000, 1_000_000], 3))
        return
    if args.only_score:
        _replace_section("Batch scoring", score_text(_last_json(Path(args.only_score).read_text())))
        return
    q = args.quick
    sections = [
        ("Start-up", startup()),
        ("Training", train([6_000, 50_000] if q else [6_000, 1_000_000], 1 if q else 3)),
        (
            "Batch scoring",
            score(20_000 if q else 1_000_000, 40_000 if q else 5_000_000),
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


def _replace_section(title: str, body: str) -> None:
    """Replace one ``## title`` section of RESULTS.md (kept in place), or append it."""
    target = HERE / "RESULTS.md"
    text = target.read_text()
    parts = text.split("\n## ")
    for i, part in enumerate(parts[1:], start=1):
        if part.split("\n", 1)[0].startswith(title):
            parts[i] = f"{title}\n\n{body.strip()}\n"
            break
    else:
        parts.insert(-1 if parts[-1].startswith("Notes") else len(parts), f"{title}\n\n{body}")
    target.write_text("\n## ".join(parts))


if __name__ == "__main__":
    main()
