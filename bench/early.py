"""Weekly monitoring replayed on a real table: the early rate two weeks in, against the final.

For a table config with ``columns.time``, ``columns.converted_at`` and
``outcome.window_days``, at each cut date (every ``--every`` days over the newest part of
the history whose windows have all closed): train on the leads created before the cut,
with only the conversions recorded by then; then monitor the leads of the ``--weeks``
weeks after the cut, with the conversions recorded by the end of those weeks
(``monitor --as-of``), as a weekly job would. The early rate of their MQLs and its 90 %
interval are set against the rate those MQLs reached once their windows closed (the
table's own outcomes), and against the expected rate the line promised.

Usage::

    python bench/early.py CONFIG [--cuts 6] [--every 14] [--weeks 2]

Prints a markdown table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mqlml.config._config import load_config  # noqa: E402
from mqlml.leads._outcome import converted_times  # noqa: E402
from mqlml.leads._read import read_leads  # noqa: E402
from mqlml.leads._schema import LeadSchema  # noqa: E402
from mqlml.model._train import train  # noqa: E402
from mqlml.monitoring._monitor import monitor  # noqa: E402

DAY = pd.Timedelta(days=1)


def replay(path: Path, cuts: int, every: int, weeks: int) -> list[dict]:
    config = load_config(path)
    frame = read_leads(config)
    schema = LeadSchema.resolve(config, frame)
    created = schema.times(frame)
    column, window = config.columns.converted_at, float(config.outcome.window_days)
    conv = converted_times(frame, column, schema.date_formats.get(column))
    known = conv.max()
    last_cut = min(known - window * DAY, created.max()) - weeks * 7 * DAY
    rows = []
    for k in range(cuts - 1, -1, -1):
        cut = (last_cut - k * every * DAY).normalize()
        end = cut + weeks * 7 * DAY
        history = frame[created < cut].copy()
        seen = conv[created < cut] <= cut
        history[config.columns.label] = np.where(seen, history[config.columns.label], 0)
        history[column] = history[column].where(seen)
        batch_rows = ((created >= cut) & (created < end)).to_numpy()
        batch = frame[batch_rows].copy()
        days = ((conv[batch_rows] - created[batch_rows]) / DAY).to_numpy(dtype=float)
        final = (batch[config.columns.label].astype(int).to_numpy() == 1) & ~(days > window)
        so_far = final & (conv[batch_rows] <= end).to_numpy()
        outcomes = pd.DataFrame({schema.id_column: batch[schema.id_column], "converted": so_far})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cfg = config.with_overrides(outcome={"as_of": cut.to_pydatetime()})
            bundle = train(cfg, frame=history.reset_index(drop=True)).bundle
            report = monitor(bundle, batch, outcomes=outcomes.astype({"converted": int}),
                             as_of=end)  # fmt: skip
        early = report.early
        p = bundle.predict_proba(bundle.schema.features_frame(batch))
        mql = p >= bundle.threshold.threshold
        rows.append(
            {
                "cut": str(cut.date()),
                "mqls": int(mql.sum()),
                "converted_so_far": early["converted_so_far"],
                "expected_share": early["expected_share"],
                "early_rate": early["estimated_rate"],
                "interval": early["interval"],
                "final_rate": float(final[mql].mean()) if mql.any() else None,
                "promised": early["expected_rate"],
                "rate": early["rate"],
                "expected_from_probabilities": report.estimate["expected_rate"],
                "estimate_interval": report.estimate["interval"],
            }
        )
    return rows


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", type=Path)
    parser.add_argument("--cuts", type=int, default=6)
    parser.add_argument("--every", type=int, default=14)
    parser.add_argument("--weeks", type=int, default=2)
    args = parser.parse_args()
    rows = replay(args.config, args.cuts, args.every, args.weeks)
    print(
        "| cut | MQLs | converted so far | share arrived | early rate (90 %) | final rate | "
        "promised | early verdict | expected from probabilities (90 %) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    inside = 0
    for r in rows:
        lo, hi = r["interval"] or (None, None)
        elo, ehi = r["estimate_interval"] or (None, None)
        inside += lo is not None and lo <= r["final_rate"] <= hi
        print(
            f"| {r['cut']} | {r['mqls']:,} | {r['converted_so_far']} | "
            f"{_pct(r['expected_share'])} | {_pct(r['early_rate'])} ({_pct(lo)}-{_pct(hi)}) | "
            f"{_pct(r['final_rate'])} | {_pct(r['promised'])} | {r['rate']} | "
            f"{_pct(r['expected_from_probabilities'])} ({_pct(elo)}-{_pct(ehi)}) |"
        )
    print(f"final rate inside the early interval: {inside} of {len(rows)}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
