"""Benchmark of mqlml.leads.engagement_features against a plain pandas groupby.

Usage::

    python bench/bench_events.py [--events N --leads M --repeat R]

Both engines run on the same random activity log (generated with numpy from a fixed
seed), each in its own subprocess so that its peak memory is its own. Peak memory is the
process high-water mark (VmHWM, reset after the data is built); "extra MB" is that peak
minus the resident memory before the call. The outputs of both engines are compared.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mqlml.leads import engagement_features, feature_names

TYPES = [
    "visit",
    "pricing_page",
    "ebook",
    "webinar",
    "email_click",
    "email_open",
    "demo_request",
]
TYPE_WEIGHTS = [0.35, 0.08, 0.07, 0.05, 0.15, 0.28, 0.02]
WINDOWS = (7, 30, 90)
HALF_LIFE = 14.0
HORIZON = 30.0
DAY_NS = 86_400 * 10**9
START = np.datetime64("2023-01-01T00:00:00", "ns").astype(np.int64)


def make_data(n_events: int, n_leads: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random leads (10 % converted) and an activity log, 1 % of it from unknown leads."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n_leads).astype(np.int64) * 7 + 1000
    created = START + rng.integers(0, 730 * DAY_NS, n_leads)
    converted = created + rng.integers(0, 60 * DAY_NS, n_leads)
    converted[rng.random(n_leads) >= 0.10] = np.iinfo(np.int64).min  # NaT
    leads = pd.DataFrame(
        {
            "lead_id": ids,
            "created_at": created.view("datetime64[ns]"),
            "converted_at": converted.view("datetime64[ns]"),
        }
    )
    who = rng.integers(0, n_leads, n_events)
    stamp = created[who] + rng.integers(-30 * DAY_NS, 120 * DAY_NS, n_events)
    lead_of_event = ids[who]
    del who
    ghosts = rng.random(n_events) < 0.01
    lead_of_event[ghosts] = -1 - np.arange(int(ghosts.sum()))
    kinds = rng.choice(len(TYPES), n_events, p=TYPE_WEIGHTS).astype(np.int8)
    events = pd.DataFrame(
        {
            "lead_id": lead_of_event,
            "timestamp": stamp.view("datetime64[ns]"),
            "event_type": pd.Series(np.asarray(TYPES)[kinds], dtype="str"),
        }
    )
    return events, leads


def numpy_engine(events: pd.DataFrame, leads: pd.DataFrame) -> np.ndarray:
    out = engagement_features(
        events,
        leads,
        horizon_days=HORIZON,
        converted_column="converted_at",
        windows=WINDOWS,
        half_life_days=HALF_LIFE,
        event_types=sorted(TYPES),
    )
    return out.drop(columns="lead_id").to_numpy()


def pandas_groupby(events: pd.DataFrame, leads: pd.DataFrame) -> np.ndarray:
    """The same features with a merge, a filter and groupby aggregations."""
    types = sorted(TYPES)
    cut = leads["created_at"] + pd.Timedelta(days=HORIZON)
    converted = leads["converted_at"]
    cut = cut.where(converted.isna() | (cut < converted), converted)
    df = events.merge(pd.DataFrame({"lead_id": leads["lead_id"], "cutoff": cut}), on="lead_id")
    df = df[(df["timestamp"] < df["cutoff"]) & df["event_type"].isin(types)]
    age = (df["cutoff"] - df["timestamp"]) / pd.Timedelta(days=1)
    df = df.assign(
        age=age, decay=0.5 ** (age / HALF_LIFE), **{f"in_{w}": age <= w for w in WINDOWS}
    )
    per_type = df.groupby(["lead_id", "event_type"]).agg(
        **{f"count_{w}d": (f"in_{w}", "sum") for w in WINDOWS},
        decayed=("decay", "sum"),
        days_since_last=("age", "min"),
    )
    wide = per_type.unstack("event_type")
    wide.columns = [f"{t}_{f}" for f, t in wide.columns]
    recent = df[df["age"] <= max(WINDOWS)]
    per_lead = df.groupby("lead_id").agg(
        days_since_first_touch=("age", "max"), events_total=("age", "size")
    )
    per_lead["active_days"] = (
        recent.assign(day=recent["timestamp"].dt.floor("D")).groupby("lead_id")["day"].nunique()
    )
    out = leads[["lead_id"]].join(wide, on="lead_id").join(per_lead, on="lead_id")
    names = feature_names(types, WINDOWS)
    out = out.reindex(columns=["lead_id", *names])
    zero = [n for n in names if "days_since" not in n]
    out[zero] = out[zero].fillna(0)
    return out[names].to_numpy(dtype=np.float64)


ENGINES = {"numpy": numpy_engine, "pandas groupby": pandas_groupby}


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def run_one(engine: str, n_events: int, n_leads: int, repeat: int, out_path: str) -> dict:
    """Build the data, time one engine, save its output; runs in its own process."""
    events, leads = make_data(n_events, n_leads)
    gc.collect()
    times = []
    peak_reset = _reset_peak()
    base_mb = _status_mb("VmRSS")
    result = None
    for _ in range(repeat):
        result = None  # free the previous run's output before the next one
        start = time.perf_counter()
        result = ENGINES[engine](events, leads)
        times.append(time.perf_counter() - start)
    peak_mb = (
        _status_mb("VmHWM")
        if peak_reset
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    np.save(out_path, result)
    return {
        "seconds": float(np.median(times)),
        "peak_mb": peak_mb,
        "extra_mb": peak_mb - base_mb,
        "input_mb": base_mb,
        "peak_reset": peak_reset,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine (median)")
    parser.add_argument("--engine", choices=sorted(ENGINES), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.engine:
        stats = run_one(args.engine, args.events, args.leads, args.repeat, args.out)
        print(json.dumps(stats))
        return

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, engine in enumerate(ENGINES):
            out = str(Path(tmp) / f"engine{i}.npy")
            cmd = [sys.executable, __file__, "--engine", engine, "--out", out]
            cmd += ["--events", str(args.events), "--leads", str(args.leads)]
            cmd += ["--repeat", str(args.repeat)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            results[engine] = json.loads(done.stdout.strip().splitlines()[-1])
            results[engine]["output"] = np.load(out)
        first, second = (results[e]["output"] for e in ENGINES)
        agree = np.allclose(first, second, rtol=1e-9, atol=1e-9, equal_nan=True)
        diff = np.nanmax(np.abs(first - second)) if first.size else 0.0

    ref = results["numpy"]
    print(
        f"engagement_features: {args.events:,} events, {args.leads:,} leads, {len(TYPES)} "
        f"types, windows {WINDOWS}, horizon {HORIZON:g} d with conversions; "
        f"numpy {np.__version__}, pandas {pd.__version__}\n"
    )
    print("| engine | seconds | peak MB | extra MB | time ratio | extra-memory ratio |")
    print("|---|---|---|---|---|---|")
    for engine, r in results.items():
        print(
            f"| {engine} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | {r['extra_mb']:.0f} "
            f"| {r['seconds'] / ref['seconds']:.2f}x | {r['extra_mb'] / ref['extra_mb']:.2f}x |"
        )
    print(
        f"\ninput data in memory before the call: ~{ref['input_mb']:.0f} MB per process; "
        f"outputs agree: {agree} (max |diff| {diff:.2e})."
    )
    other = results["pandas groupby"]
    verdict = "faster" if ref["seconds"] < other["seconds"] else "NOT faster"
    print(
        f"mqlml.leads._events uses the numpy engine, chosen over the pandas groupby by this "
        f"measurement: {other['seconds'] / ref['seconds']:.1f}x {verdict}, "
        f"{other['extra_mb'] / ref['extra_mb']:.1f}x the extra memory for pandas."
    )


if __name__ == "__main__":
    main()
