"""Batch scoring: `mqlml.scoring.score_file` per predictor against a bare LightGBM loop.

The bare loop reads pyarrow batches, calls the same model's ``predict_proba`` and writes
id + probability with a Parquet writer. mqlml adds the schema check and coercion,
calibration, score, percentile, tier, sub-scores, reasons and the atomic rename. Every
case runs in a fresh process (peak memory is that process's); inputs are CSV or Parquet,
outputs Parquet.

Also measured, in memory on the same model: the scoring engines (LightGBM, pylignum's
interpreter and compiled trees, lleaves when importable) on 200,000 prepared rows, and
how path attribution and exact TreeSHAP agree on 2,000 leads.

With ``--memory``, only peak memory: the bare loop and ``compiled-none`` at ``--rows`` and
``--big-rows`` (Parquet, or CSV with ``--format csv``), ``--repeat`` fresh processes each,
and how much the peak grows from the smaller file to the bigger one (flat is the aim).

Usage: python bench/bench_score.py [--rows 1000000] [--big-rows 5000000] [--memory]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, Timer, leads_parquet, machine, peak_rss_mb, run_isolated

HERE = Path(__file__).resolve()
MODEL = OUT / "score_model"
CACHE = OUT / "compiled"


def model() -> Path:
    if not (MODEL / "manifest.json").is_file():
        from mqlml.config import ProjectConfig
        from mqlml.leads import make_leads
        from mqlml.model import train

        config = ProjectConfig.model_validate(
            {
                "data": {"path": "-"},
                "columns": {"id": "lead_id", "time": "created_at", "label": "converted"},
            }
        )
        train(config, frame=make_leads(100_000, seed=99), out=MODEL)
    return MODEL


def leads_csv(rows: int) -> Path:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = OUT / f"leads_{rows}.csv"
    if not path.exists():
        source = leads_parquet(rows, OUT / f"leads_{rows}.parquet")
        with pacsv.CSVWriter(path, pq.ParquetFile(source).schema_arrow) as writer:
            for batch in pq.ParquetFile(source).iter_batches(batch_size=200_000):
                writer.write_batch(batch)
    return path


def _bare(source: Path, target: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mqlml.io import iter_batches
    from mqlml.model import load_bundle

    bundle = load_bundle(MODEL)
    features = bundle.schema.features
    writer = None
    fmt = "csv" if source.suffix == ".csv" else "parquet"
    for batch in iter_batches(
        source, chunk_size=100_000, format=fmt, columns=["lead_id", *features]
    ):
        frame = batch.to_pandas()
        p = bundle.model.predict_proba(frame[features])[:, 1]
        out = pa.table({"lead_id": frame["lead_id"].to_numpy(), "probability": p})
        writer = writer or pq.ParquetWriter(target, out.schema)
        writer.write_table(out)
    writer.close()


def one(kind: str, rows: int, fmt: str) -> dict:
    """One case: ``bare`` or ``<predictor>-<reasons>``, e.g. ``compiled-top``."""
    source = OUT / f"leads_{rows}.{fmt}"
    target = OUT / f"scores_{kind}_{rows}.parquet"
    predictor = reasons = None
    if kind == "bare":
        with Timer() as t:
            _bare(source, target)
    else:
        from mqlml.scoring import score_file

        predictor, reasons = kind.split("-")
        with Timer() as t:
            summary = score_file(
                MODEL,
                source,
                target,
                reasons=reasons,
                predictor=predictor,
                chunk_size=100_000,
                cache_dir=CACHE,
            )
        predictor = summary.predictor
    target.unlink()
    import pyarrow as pa

    return {
        "seconds": t.seconds,
        "rows_per_s": rows / t.seconds,
        "rss_mb": peak_rss_mb(),
        "arrow_peak_mb": pa.default_memory_pool().max_memory() / 2**20,
        "predictor": predictor,
    }


def warm() -> dict:
    """Compile the model's trees into the cache once (every case then loads them)."""
    import numpy as np

    from mqlml.model import load_bundle
    from mqlml.scoring import Scorer

    start = time.perf_counter()
    scorer = Scorer(load_bundle(MODEL), predictor="auto", cache_dir=CACHE)
    if scorer.predictor.name == "compiled":
        width = len(scorer.features)
        scorer.predictor.contributions(np.zeros((1, width)), np.array([0]))
    return {"seconds": time.perf_counter() - start, "predictor": scorer.predictor.name}


def engines(rows: int = 200_000) -> dict:
    """In-memory predictions of the model's prepared frame by each engine."""
    import numpy as np

    from mqlml.leads import make_leads
    from mqlml.model import RARE_LEVEL, load_bundle
    from mqlml.scoring import float_matrix, group_matrix, make_predictor

    bundle = load_bundle(MODEL)
    m, schema = bundle.model, bundle.schema
    frame = make_leads(rows, seed=7)
    rng = np.random.default_rng(7)
    frame.loc[rng.random(rows) < 0.02, "job_title"] = "Never Seen Title"
    frame.loc[rng.random(rows) < 0.01, "industry"] = RARE_LEVEL
    frame.loc[rng.random(rows) < 0.05, "country"] = None
    frame.loc[rng.random(rows) < 0.05, "days_since_last_activity"] = np.nan
    data, _ = m._prepare(schema.features_frame(frame))
    matrix = float_matrix(data)
    booster, it = m.booster_, m.best_iteration_
    want = booster.predict(data, raw_score=True, num_iteration=it)

    def best(f, repeat=3):
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            out = f()
            times.append(time.perf_counter() - start)
        return rows / min(times), out

    result = {"rows": rows, "trees": booster.num_trees()}
    rate, _ = best(lambda: booster.predict(data, raw_score=True, num_iteration=it))
    result["lightgbm"] = {"rows_per_s": rate, "max_abs_diff": 0.0}
    rate, _ = best(lambda: booster.predict(data, pred_leaf=True, num_iteration=it))
    result["lightgbm_pred_leaf"] = {"rows_per_s": rate}
    try:
        import lignum
    except ImportError:
        result["pylignum"] = "not installed"
    else:
        text = OUT / "score_model.txt"
        text.write_text(booster.model_to_string(num_iteration=it))
        engine = lignum.load(str(text))
        rate, got = best(lambda: engine.predict(matrix, raw_score=True))
        result["pylignum_interpreter"] = {
            "rows_per_s": rate,
            "max_abs_diff": float(np.max(np.abs(got - want))),
            "identical": bool(np.array_equal(got, want)),
        }
        with tempfile.TemporaryDirectory() as work:  # no cache: time a first compile
            start = time.perf_counter()
            engine.compile(work_dir=work)
            compile_s = time.perf_counter() - start
        rate, got = best(lambda: engine.predict(matrix, raw_score=True))
        result["pylignum_compiled"] = {
            "rows_per_s": rate,
            "max_abs_diff": float(np.max(np.abs(got - want))),
            "identical": bool(np.array_equal(got, want)),
            "compile_s": compile_s,
        }
        groups = group_matrix(schema.features, {"fit": schema.fit, "engagement": schema.engagement})
        predictor = make_predictor(m, "compiled", groups=groups, cache_dir=CACHE)
        lgb = make_predictor(m, "lightgbm", groups=groups)
        rate, _ = best(lambda: predictor.scores(matrix))
        result["mqlml_compiled_scores"] = {"rows_per_s": rate}
        rate, _ = best(lambda: lgb.scores(lgb.inputs(data)))
        result["mqlml_lightgbm_scores"] = {"rows_per_s": rate}
        some = np.arange(0, rows, 4)
        rate, _ = best(lambda: predictor.contributions(matrix, some))
        result["mqlml_compiled_contributions"] = {"rows_per_s": rate * len(some) / rows}
        rate, _ = best(lambda: lgb.contributions(lgb.inputs(data), some))
        result["mqlml_lightgbm_contributions"] = {"rows_per_s": rate * len(some) / rows}
    try:
        import lleaves
    except ImportError:
        result["lleaves"] = "not installed"
    else:
        from scipy.special import logit

        engine = lleaves.Model(model_file=str(OUT / "score_model.txt"))
        with tempfile.TemporaryDirectory() as work:
            start = time.perf_counter()
            engine.compile(cache=str(Path(work) / "lleaves.o"))
            compile_s = time.perf_counter() - start
        rate, got = best(lambda: engine.predict(data))
        result["lleaves"] = {
            "rows_per_s": rate,
            "max_abs_diff": float(np.max(np.abs(logit(got) - want))),
            "identical": False,
            "compile_s": compile_s,
        }
    return result


def agreement(rows: int = 2000) -> dict:
    """Path attribution against exact TreeSHAP: top reason, top-3 set, signs, cost."""
    import numpy as np

    from mqlml.leads import make_leads
    from mqlml.model import load_bundle
    from mqlml.scoring import feature_contributions

    bundle = load_bundle(MODEL)
    X = bundle.schema.features_frame(make_leads(rows, seed=17))
    start = time.perf_counter()
    path, _ = feature_contributions(bundle.model, X, method="path")
    path_s = time.perf_counter() - start
    start = time.perf_counter()
    shap, _ = feature_contributions(bundle.model, X, method="shap")
    shap_s = time.perf_counter() - start
    a, b = path.to_numpy(), shap.to_numpy()
    top_a, top_b = np.argsort(-a, axis=1)[:, :3], np.argsort(-b, axis=1)[:, :3]
    same_top = float(np.mean(top_a[:, 0] == top_b[:, 0]))
    same_set = float(np.mean([set(x) == set(y) for x, y in zip(top_a, top_b, strict=True)]))
    strong = np.abs(b) > 0.005
    same_sign = float(np.mean(np.sign(a[strong]) == np.sign(b[strong])))
    return {
        "rows": rows,
        "same_top_reason": same_top,
        "same_top3_set": same_set,
        "same_sign": same_sign,
        "path_rows_per_s": rows / path_s,
        "shap_rows_per_s": rows / shap_s,
    }


CASES = ("bare", "lightgbm-none", "lightgbm-top", "compiled-none", "compiled-top")
BIG_CASES = ("bare", "lightgbm-none", "compiled-none", "compiled-top")


def plan(
    rows: int, big_rows: int, big_csv: bool, before: bool
) -> list[tuple[int, str, tuple[str, ...]]]:
    """(rows, input format, cases) in the order they run (the most telling first)."""
    extra = (
        ("before:lightgbm-none", "before:compiled-none", "before:compiled-top") if before else ()
    )
    out = [
        (rows, "parquet", (*CASES, *extra)),
        (big_rows, "parquet", BIG_CASES),
        (rows, "csv", CASES),
    ]
    if big_csv:
        out.append((big_rows, "csv", ("bare", "compiled-none", "compiled-top")))
    return out


MEMORY_CASES = ("bare", "compiled-none")


def memory(runs: list[dict], rows: int, big_rows: int) -> list[dict]:
    """Per case: median peak RSS and Arrow peak at each size, and the growth between them."""
    import numpy as np

    out = []
    for case in dict.fromkeys(r["case"] for r in runs):
        row = {"case": case}
        for size, key in ((rows, "small"), (big_rows, "big")):
            mine = [r for r in runs if r["case"] == case and r["rows"] == size]
            row[f"{key}_rows"] = size
            row[f"{key}_rss_mb"] = [round(r["rss_mb"], 1) for r in mine]
            row[f"{key}_arrow_peak_mb"] = [round(r.get("arrow_peak_mb", 0.0), 1) for r in mine]
        row["growth_mb"] = float(np.median(row["big_rss_mb"]) - np.median(row["small_rss_mb"]))
        out.append(row)
    return out


def summarise(runs: list[dict]) -> list[dict]:
    """Median rate, peak memory and ratio to the bare loop per case.

    Each repeat is a round through every case of one size and format, so a case's ratio is
    taken against the bare loop of its own round, then the median over rounds.
    """
    import numpy as np

    out = []
    keys = dict.fromkeys((r["rows"], r["format"], r["case"]) for r in runs)
    for rows, fmt, case in keys:
        mine = [r for r in runs if (r["rows"], r["format"], r["case"]) == (rows, fmt, case)]
        ratios = []
        for r in mine:
            key = (rows, fmt, "bare", r["round"])
            bare = [b for b in runs if (b["rows"], b["format"], b["case"], b["round"]) == key]
            if bare:
                ratios.append(r["rows_per_s"] / bare[0]["rows_per_s"])
        out.append(
            {
                "rows": rows,
                "format": fmt,
                "case": case,
                "rows_per_s": float(np.median([r["rows_per_s"] for r in mine])),
                "ratio": float(np.median(ratios)) if ratios else None,
                "rss_mb": float(np.median([r["rss_mb"] for r in mine])),
                "repeats": len(mine),
                "predictor": mine[0]["predictor"],
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="rounds at --rows")
    parser.add_argument("--big-repeat", type=int, default=2, help="rounds at --big-rows")
    parser.add_argument("--big-csv", action="store_true", help="also CSV at --big-rows")
    parser.add_argument("--no-engines", action="store_true", help="skip the in-memory engines")
    parser.add_argument(
        "--before",
        metavar="DIR",
        help="a folder holding an earlier mqlml package: its score_file is measured too",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="ROWS:FORMAT:CASE,CASE",
        help="run just these cases (repeatable), e.g. 5000000:parquet:bare,compiled-none",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="only peak memory: bare and compiled-none at --rows and --big-rows, --repeat each",
    )
    parser.add_argument("--one", choices=CASES)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--part", choices=("engines", "agreement", "warm"))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.rows, args.format)))
        return
    if args.part == "engines":
        print(json.dumps(engines()))
        return
    if args.part == "agreement":
        print(json.dumps(agreement()))
        return
    if args.part == "warm":
        print(json.dumps(warm()))
        return
    import os

    model()
    steps = plan(args.rows, args.big_rows, args.big_csv, bool(args.before))
    if args.memory:
        extra = ("before:compiled-none",) if args.before else ()
        steps = [(n, args.format, (*MEMORY_CASES, *extra)) for n in (args.rows, args.big_rows)]
        args.big_repeat = args.repeat
    if args.only:
        steps = []
        for item in args.only:
            rows, fmt, cases = item.split(":", 2)
            steps.append((int(rows), fmt, tuple(cases.split(","))))
    for rows, fmt, _ in steps:
        if fmt == "csv":
            leads_csv(rows)
        else:
            leads_parquet(rows, OUT / f"leads_{rows}.parquet")
    warmed = run_isolated(HERE, "--part", "warm")
    load = [os.getloadavg()[0]]
    started = time.perf_counter()
    runs = []
    for rows, fmt, kinds in steps:
        repeat = args.repeat if rows == args.rows else args.big_repeat
        # A spacer after every bare loop, untimed (compiled by the warm step above): the
        # first process after it ran 10-15 % slower, whatever it was (the bare loop too; a
        # pause did not help, a scoring run did), so without one the case after it paid.
        for round_ in range(repeat):  # interleaved: every case once per round,
            # in reverse order every other round
            for kind in kinds if round_ % 2 == 0 else kinds[::-1]:
                code = kind.split(":")[-1]
                env = {"PYTHONPATH": args.before} if kind.startswith("before:") else None
                r = run_isolated(HERE, "--one", code, "--rows", str(rows), "--format", fmt, env=env)
                runs.append({"rows": rows, "format": fmt, "case": kind, "round": round_, **r})
                if kind == "bare":
                    run_isolated(
                        HERE, "--one", "compiled-none", "--rows", str(rows), "--format", fmt
                    )
                load.append(os.getloadavg()[0])
                with open(OUT / "score_runs.jsonl", "a") as log:  # survives an aborted run
                    log.write(json.dumps(runs[-1]) + "\n")
    if args.memory:
        result = {
            "runs": runs,
            "memory": memory(runs, args.rows, args.big_rows),
            "machine": machine(),
            "minutes": (time.perf_counter() - started) / 60,
        }
        print(json.dumps(result))
        return
    result = {
        "runs": runs,
        "cases": summarise(runs),
        "engines": None if args.no_engines else run_isolated(HERE, "--part", "engines"),
        "agreement": run_isolated(HERE, "--part", "agreement"),
        "first_compile_s": warmed["seconds"],
        "machine": machine(),
        "load_average": {"min": min(load), "median": float(sorted(load)[len(load) // 2]),
                         "max": max(load)},
        "minutes": (time.perf_counter() - started) / 60,
    }  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
