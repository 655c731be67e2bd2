"""Shared pieces of the benchmarks: the machine, timing, peak memory, synthetic files."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"


def machine() -> str:
    """One line naming the machine the numbers come from."""
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Linux's ``VmHWM`` when there is one: ``ru_maxrss`` survives ``exec``, so a fresh
    process started by a big parent would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_isolated(script: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run ``script args`` in a fresh interpreter; it prints one JSON object last.

    ``env`` adds to (or replaces in) this process's environment.
    """
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env} if env else None,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict], key: str) -> float:
    return float(np.median([r[key] for r in runs]))


def leads_parquet(rows: int, path: Path, *, seed: int = 0, chunk: int = 500_000) -> Path:
    """Write ``rows`` synthetic leads to Parquet in chunks (memory stays modest)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mqlml.leads import make_leads

    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    for i, start in enumerate(range(0, rows, chunk)):
        frame = make_leads(min(chunk, rows - start), seed=seed + i)
        frame["lead_id"] = [f"L{start + k + 1:09d}" for k in range(len(frame))]
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()
    return path


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
