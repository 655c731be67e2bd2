"""Faults while scoring: killed runs, interrupts, a full disk and a read-only destination.

Each leaves no output and, once any later run writing to the same folder has started, no
temporary file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mqlml.cli import app
from mqlml.errors import FileError
from mqlml.io._atomic import atomic_output, partial_files, remove_stale
from mqlml.scoring._file import score_file

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def big_input(tmp_path_factory):
    from mqlml.leads._synthetic import make_leads

    path = tmp_path_factory.mktemp("big") / "leads.csv"
    make_leads(120_000, seed=4).to_csv(path, index=False)
    return path


def _start(model: Path, src: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = "from mqlml.cli import main; main()"
    args = ["score", "-m", str(model), "-i", str(src), "-o", str(out), "--chunk-size", "4000"]
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_partial(proc: subprocess.Popen, out: Path, timeout: float = 120.0) -> Path:
    """Wait until the run has written part of its output (a non-empty temporary file)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in partial_files(out) if p.stat().st_size > 0]
        if found:
            return found[0]
        if proc.poll() is not None:
            pytest.fail(f"scoring ended before it could be killed: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("scoring wrote nothing within the timeout")


def test_sigkill_leaves_a_partial_file_that_the_next_run_removes(tmp_path, trained, big_input):
    out = tmp_path / "scores.csv"
    proc = _start(trained.path, big_input, out)
    partial = _wait_for_partial(proc, out)
    assert ".scores.csv.mqlml-partial-" in partial.name
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()
    assert not out.exists()
    assert partial.exists()  # nothing can clean up after SIGKILL ...
    small = tmp_path / "small.csv"
    pd.read_csv(big_input, nrows=500).to_csv(small, index=False)
    other = tmp_path / "other.csv"  # ... but any later run to that folder does
    summary = score_file(trained.bundle, small, other)
    assert summary.rows == 500 and len(pd.read_csv(other)) == 500
    assert partial_files(out) == [] and not out.exists()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_remove_the_partial_file(tmp_path, trained, big_input, signum, code):
    out = tmp_path / "scores.csv"
    proc = _start(trained.path, big_input, out)
    _wait_for_partial(proc, out)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    lines = [line for line in stderr.splitlines() if "rows scored" not in line]
    assert lines == [f"stopped: interrupted by {signum.name}; no output was written."]
    assert not out.exists()
    assert partial_files(out) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_stale_files_of_live_runs_are_kept(tmp_path):
    out = tmp_path / "scores.csv"
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = tmp_path / f".scores.csv.mqlml-partial-{done.stdout.strip()}.ab12cd34.tmp"
    live = tmp_path / f".scores.csv.mqlml-partial-{os.getppid()}.ab12cd34.tmp"
    other = tmp_path / ".other.csv.mqlml-partial-1.ab12cd34.tmp"
    for path in (dead, live, other):
        path.write_text("partial")
    assert remove_stale(out) == [dead]
    assert live.exists() and other.exists()
    with atomic_output(out) as tmp:
        assert tmp.name.startswith(f".scores.csv.mqlml-partial-{os.getpid()}.")
        tmp.write_text("done\n")
    assert out.read_text() == "done\n"
    assert partial_files(out) == [live]


def _mount(target: Path, options: str) -> str | None:
    """Mount a tmpfs at ``target``; the reason it cannot be done, or None."""
    if sys.platform != "linux":
        return "tmpfs mounts need Linux"
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"mount failed: {exc}"
    if done.returncode != 0:
        return f"this machine does not allow a tmpfs mount: {done.stderr.strip()}"
    return None


def _umount(target: Path) -> None:
    done = subprocess.run(["umount", str(target)], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:  # leave no mount behind, then say why it was busy
        subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=30)
        pytest.fail(f"the scoring run left a file open on {target}: {done.stderr.strip()}")


def test_full_disk_is_one_clear_line_and_leaves_nothing(tmp_path, trained, big_input):
    disk = tmp_path / "disk"
    disk.mkdir()
    reason = _mount(disk, "size=1m")
    if reason:
        pytest.skip(reason)
    try:
        out = disk / "scores.csv"
        args = ["score", "-m", str(trained.path), "-i", str(big_input), "-o", str(out)]
        result = runner.invoke(app, [*args, "--no-reasons", "--chunk-size", "20000"])
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert "scores.csv" in text and "no space left on the device" in text, text
        assert "Traceback" not in text
        assert list(disk.iterdir()) == []
        with pytest.raises(FileError, match=r"no space left on the device"):
            score_file(trained.bundle, big_input, out, reasons="none")
        assert list(disk.iterdir()) == []
    finally:
        _umount(disk)


def test_read_only_destination_is_refused_before_any_work(tmp_path, trained, big_input):
    disk = tmp_path / "ro"
    disk.mkdir()
    reason = _mount(disk, "size=1m,ro")
    if reason:
        pytest.skip(reason)
    try:
        out = disk / "scores.csv"
        args = ["score", "-m", str(trained.path), "-i", str(big_input), "-o", str(out)]
        start = time.perf_counter()
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert "must be writable" in text and "read-only" in text and str(disk) in text, text
        assert time.perf_counter() - start < 10  # refused before scoring 120,000 leads
        with pytest.raises(FileError, match=r"the file system is read-only"):
            score_file(trained.bundle, big_input, disk / "sub" / "scores.csv")
        assert list(disk.iterdir()) == []
    finally:
        _umount(disk)
