"""The whole job on the shipped synthetic sample, as ``mqlml demo`` runs it.

Six steps: check the leads, train, compare with the points baseline, score every lead,
monitor a later period whose base rate and pricing-page visits doubled, recalibrate on
its first half and monitor the rest. :func:`demo` runs them and returns what each made;
the command prints each step as it ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["STEPS", "Demo", "demo"]

#: The steps in order: (name, title). ``after`` is the monitoring after recalibration.
STEPS = (
    ("check", "1. check the leads"),
    ("train", "2. train, calibrate, choose the MQL threshold"),
    ("report", "3. compare with the points baseline on the newest leads"),
    ("score", "4. score every lead"),
    ("monitor", "5. monitor a later period: base rate doubled, pricing-page visits doubled"),
    ("recalibrate", "6. recalibrate on the first half of that period (the trees stay)"),
)


@dataclass
class Demo:
    """What :func:`demo` made, step by step (None for a step not reached).

    ``checked`` is the data checks' report (the demo stops after it when
    ``checked.ok`` is false); ``training`` the :class:`mqlml.TrainResult`; ``report`` and
    ``report_paths`` the comparison and its files; ``scored`` the scoring summary of
    ``scores``; ``monitored`` the monitoring of the later period's first half,
    ``recalibrated`` and ``recalibration`` the bundle recalibrated on it and its
    summary, ``after`` the monitoring of the second half with that bundle.
    """

    out: Path
    config: Any
    checked: Any = None
    training: Any = None
    report: dict[str, Any] | None = None
    report_paths: dict[str, Path] | None = None
    scores: Path | None = None
    scored: Any = None
    monitored: Any = None
    recalibrated: Any = None
    recalibration: dict[str, Any] | None = None
    after: Any = None

    def outputs(self) -> dict[str, Path]:
        """Every file and folder the demo wrote, by what it is."""
        paths = self.report_paths or {}
        return {
            "bundle": self.out / "model",
            "report": paths.get("html"),
            "report (JSON)": paths.get("json"),
            "report (Markdown)": paths.get("markdown"),
            "scores": self.scores,
            "recalibrated bundle": self.out / "model-recalibrated",
        }


def demo(
    config: str | Path | None = None,
    out: str | Path = "mqlml-out",
    *,
    progress: Callable[[str], None] | None = None,
    on_step: Callable[[str, Demo], None] | None = None,
    train_progress: Callable[[str], None] | None = None,
) -> Demo:
    """Run the whole job on the shipped synthetic sample (or the leads ``config`` names).

    Parameters
    ----------
    config : path, optional
        A project config; default: the shipped sample's (``mqlml.yaml``).
    out : path, default="mqlml-out"
        Folder for every output: ``model``, ``report``, ``scores.csv`` and
        ``model-recalibrated`` (a second run replaces its own earlier outputs).
    progress : callable, optional
        Called with each step's title (:data:`STEPS`) as it starts.
    on_step : callable, optional
        Called with each step's name and the :class:`Demo` so far as the step ends
        (``after`` for the monitoring after recalibration).
    train_progress : callable, optional
        Called with each stage of training as it starts (:func:`mqlml.train`'s
        ``progress``).

    Returns
    -------
    Demo
        What each step made; only ``checked`` when the leads fail their checks.
    """
    from mqlml.config._config import load_config
    from mqlml.leads._checks import check_leads
    from mqlml.leads._read import read_leads
    from mqlml.leads._synthetic import example_file
    from mqlml.model._train import train
    from mqlml.report._files import build_report
    from mqlml.scoring._file import score_file

    start = progress or (lambda title: None)
    done = on_step or (lambda name, so_far: None)
    titles = dict(STEPS)
    out = Path(out)
    cfg = load_config(example_file("mqlml.yaml") if config is None else config)
    result = Demo(out=out, config=cfg)
    start(titles["check"])
    leads = read_leads(cfg)
    result.checked = check_leads(leads, cfg)
    done("check", result)
    if not result.checked.ok:
        return result
    start(titles["train"])
    result.training = train(cfg, frame=leads, out=out / "model", progress=train_progress)
    done("train", result)
    start(titles["report"])
    bundle = result.training.bundle
    result.report, result.report_paths = build_report(bundle, frame=leads, out=out / "report")
    done("report", result)
    start(titles["score"])
    result.scores = out / "scores.csv"
    result.scored = score_file(bundle, cfg.data.path, result.scores, reasons="top")
    done("score", result)
    _later_period(result, start, done)
    return result


def _later_period(
    result: Demo, start: Callable[[str], None], done: Callable[[str, Demo], None]
) -> None:
    """A drifted later period: monitor it, recalibrate on its first half, check the rest."""
    from mqlml.leads._synthetic import make_leads
    from mqlml.monitoring._monitor import monitor
    from mqlml.monitoring._recalibrate import recalibrate

    titles = dict(STEPS)
    bundle_path = result.out / "model"
    start(titles["monitor"])
    later = make_leads(
        20_000,
        seed=21,
        start="2026-01-01",
        days=365,
        base_rate_scale=2.0,
        engagement_shift={"pricing_page_visits": 2.0},
    )
    first, rest = later.iloc[:10_000], later.iloc[10_000:]
    result.monitored = monitor(bundle_path, first, outcomes=first[["lead_id", "converted"]])
    done("monitor", result)
    start(titles["recalibrate"])
    again = result.out / "model-recalibrated"
    # a second demo into the same folder replaces its own earlier outputs, this one too
    result.recalibrated, result.recalibration = recalibrate(
        bundle_path, first, out=again, force=again.exists()
    )
    done("recalibrate", result)
    result.after = monitor(result.recalibrated, rest, outcomes=rest[["lead_id", "converted"]])
    done("after", result)
