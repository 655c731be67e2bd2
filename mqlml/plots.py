"""The report's plots, drawn from a report dict (mqlml.compare.compare) as PNG images.

matplotlib is imported inside :func:`render_plots` only, and figures are drawn on the
Agg canvas directly (no pyplot, no global backend switch), so importing mqlml stays
light and a notebook's own matplotlib setup is left alone.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["PLOTS", "render_plots"]

PLOTS = ("gains", "rate", "reliability", "distribution", "grid", "drivers")
"""The plots in the order they appear in report.html."""

_MODEL, _POINTS, _GREY, _TARGET = "#1f77b4", "#ff7f0e", "#999999", "#2ca02c"
_MAX_DRIVERS = 15


def _float(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _gains(ax, report: Mapping[str, Any]) -> str:
    g = report["curves"]["gains"]
    x = np.asarray(g["share_of_leads"])
    ax.plot(x, g["model"], color=_MODEL, lw=2, label="model")
    ax.plot(x, g["points"], color=_POINTS, lw=2, label="points")
    ax.plot([0, 1], [0, 1], color=_GREY, ls=":", label="random")
    share = g["baseline_volume_share"]
    ax.axvline(share, color=_GREY, ls="--", lw=1)
    ax.annotate(
        f"points' MQL volume\n{report['at_volume']['n_mql']:,} leads",
        (share, 0.05),
        xytext=(6, 0),
        textcoords="offset points",
        fontsize=8,
    )
    ax.set(xlabel="share of leads passed", ylabel="share of SQLs captured", xlim=(0, 1))
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right")
    return "Leads taken from the highest score down; the higher curve captures more SQLs."


def _rate(ax, report: Mapping[str, Any]) -> str:
    c, model = report["curves"]["rate"], report["model"]
    x = np.asarray(c["threshold"])
    ax.plot(x, _float(c["realized_rate"]), color=_MODEL, lw=2, label="realized MQL-to-SQL rate")
    ax.plot(x, _float(c["expected_rate"]), color=_MODEL, ls="--", lw=1, label="expected rate")
    if model["target_rate"] is not None:
        ax.axhline(model["target_rate"], color=_TARGET, lw=1, label="target rate")
    ax.axvline(model["threshold"], color=_GREY, ls=":", lw=1, label="MQL threshold")
    ax.set(xlabel="MQL threshold (probability)", ylabel="MQL-to-SQL rate", ylim=(0, 1.02))
    share = ax.twinx()
    share.plot(x, c["mql_share"], color=_POINTS, lw=1.5, label="MQL share (right)")
    share.set(ylabel="share of leads that are MQLs", ylim=(0, 1.02))
    lines = ax.get_legend_handles_labels()
    more = share.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="center right", fontsize=8)
    return "Raising the threshold raises the MQL-to-SQL rate and lowers the number of MQLs."


def _reliability(ax, report: Mapping[str, Any]) -> str:
    curve = report["calibration"]["curve"]
    x = [b["mean_predicted"] for b in curve]
    top = max([*x, *(b["observed_rate"] for b in curve), 0.05]) * 1.05
    ax.plot([0, top], [0, top], color=_GREY, ls=":", label="perfect calibration")
    ax.plot(x, [b["observed_rate"] for b in curve], "o-", color=_MODEL, label="model")
    ax.set(xlabel="mean predicted probability", ylabel="observed conversion rate")
    ax.set(xlim=(0, top), ylim=(0, top))
    ax.legend(loc="upper left")
    return (
        f"Test leads in {len(curve)} bins of predicted probability; on the diagonal a "
        f"probability means what it says (ECE {report['calibration']['ece']:.3f})."
    )


def _distribution(ax, report: Mapping[str, Any]) -> str:
    d = report["curves"]["distribution"]
    edges = np.asarray(d["edges"])
    for key, colour, label in (
        ("not_converted", _GREY, "not converted"),
        ("converted", _MODEL, "converted"),
    ):
        counts = np.asarray(d[key], dtype=float)
        share = counts / counts.sum() if counts.sum() else counts
        ax.stairs(share, edges, color=colour, lw=2, label=label)
    ax.axvline(report["model"]["threshold"], color=_TARGET, ls="--", lw=1, label="MQL threshold")
    ax.set(xlabel="model probability", ylabel="share of the group")
    ax.legend(loc="upper right")
    return "The further apart the two groups, the better the model separates them."


def _grid(ax, report: Mapping[str, Any]) -> str:
    g = report["grid"]
    rate = np.array([[np.nan if v is None else v for v in row] for row in g["rate"]])
    image = ax.imshow(rate, origin="lower", cmap="Blues", vmin=0, aspect="auto")
    for i in range(3):
        for j in range(3):
            text = "n/a" if np.isnan(rate[i, j]) else f"{100 * rate[i, j]:.1f} %"
            dark = not np.isnan(rate[i, j]) and rate[i, j] > 0.6 * np.nanmax(rate)
            ax.text(
                j,
                i,
                f"{text}\n{g['count'][i][j]:,} leads",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(3), g["labels"])
    ax.set_yticks(range(3), g["labels"])
    ax.set(xlabel="engagement sub-score (terciles)", ylabel="fit sub-score (terciles)")
    ax.figure.colorbar(image, ax=ax, label="conversion rate")
    return "Conversion rate of the test leads by who they are (fit) and what they did."


def _drivers(ax, report: Mapping[str, Any]) -> str:
    d = report["drivers"]
    top = d["features"][:_MAX_DRIVERS][::-1]
    for group, colour in (("fit", _MODEL), ("engagement", _POINTS)):
        rows = [(i, f["mean_abs_contribution"]) for i, f in enumerate(top) if f["group"] == group]
        if rows:
            ax.barh(*zip(*rows, strict=True), color=colour, label=group)
    ax.set_yticks(range(len(top)), [f["feature"] for f in top])
    ax.set(xlabel="mean absolute contribution to the log-odds")
    ax.tick_params(axis="y", labelsize=8)
    ax.legend(loc="lower right")
    return f"The columns that move the model's scores most ({d['n']:,} test leads)."


_DRAW = {
    "gains": ("Gains: SQLs captured by share of leads", _gains),
    "rate": ("MQL-to-SQL rate and MQL share by threshold", _rate),
    "reliability": ("Reliability of the probabilities", _reliability),
    "distribution": ("Model probability, converted vs not", _distribution),
    "grid": ("Fit x engagement: conversion rate", _grid),
    "drivers": ("Top drivers", _drivers),
}


def render_plots(report: Mapping[str, Any], *, dpi: int = 100) -> list[tuple[str, str, str]]:
    """Draw every plot of :data:`PLOTS` from a report dict.

    Parameters
    ----------
    report : dict
        The result of :func:`mqlml.compare.compare`.
    dpi : int, default=100
        Resolution of the PNG images.

    Returns
    -------
    list of (title, caption, base64 PNG)
        One entry per plot, in :data:`PLOTS` order.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = []
    for name in PLOTS:
        title, draw = _DRAW[name]
        figure = Figure(figsize=(7.5, 4.2), layout="constrained")
        FigureCanvasAgg(figure)
        caption = draw(figure.add_subplot(), report)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
        out.append((title, caption, base64.b64encode(buffer.getvalue()).decode("ascii")))
    return out
