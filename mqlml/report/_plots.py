"""The report's plots, drawn from a report dict (mqlml.report.compare) as PNG images.

matplotlib is imported inside :func:`render_plots` only, and figures are drawn on the
Agg canvas directly (no pyplot, no global backend switch; the fonts are set for each
figure only), so importing mqlml stays light and a notebook's own matplotlib setup is left
alone.

The figures are sized for a phone as well as a desktop: 5 inches wide with text of at
least 10 points, so that shown 358 pixels wide (a 390-pixel screen less the margins) the
smallest text is about 10 pixels high. Rates and shares are on percent axes, as the text
writes them, and the drivers' axis is the odds multiplier its labels name, on a log scale.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

__all__ = ["PLOTS", "figures", "render_plots"]

PLOTS = ("gains", "rate", "monthly", "reliability", "distribution", "grid", "drivers")
"""The plots in the order they appear in report.html."""

_MODEL, _POINTS, _GREY, _TARGET = "#1f77b4", "#ff7f0e", "#999999", "#2ca02c"
_MAX_DRIVERS = 15
#: Figure width in inches, and the heights; ``PHONE_WIDTH`` pixels is how wide a phone
#: shows them (the tests check that no text is smaller than ``MIN_TEXT_PX`` there).
WIDTH, _HEIGHT, _TALL = 5.0, 3.7, 4.4
PHONE_WIDTH, MIN_TEXT_PX = 358, 9.5
_SMALL = 10  # points: legends, annotations, cell labels
_STYLE = {
    "font.size": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": _SMALL,
    "figure.titlesize": 12,
}


def _float(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _plain_log(axis) -> None:
    """Log-scale ticks written as plain numbers (0.01, 1, 10), without minor labels."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _percent_text(value: float) -> str:
    """A fraction as the report writes it: ``0.25 -> "25 %"``, ``0.005 -> "0.5 %"``."""
    return f"{float(f'{100 * value:.6g}'):g} %"


def _percent(axis) -> None:
    """Ticks of a fraction axis written as percentages (``25 %``), as the text says them."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: _percent_text(v)))
    axis.set_minor_formatter(NullFormatter())


def _proportional(score: Any, probability: Any) -> bool:
    """Whether the score is a fixed multiple of the probability (100 x p)."""
    s = np.asarray(score, dtype=float)
    q = np.asarray(probability, dtype=float)
    ok = np.isfinite(s) & np.isfinite(q) & (q > 0)
    return bool(ok.any()) and bool(np.allclose(s[ok] / q[ok], s[ok][0] / q[ok][0], rtol=1e-6))


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
        fontsize=_SMALL,
    )
    ax.set(xlabel="share of leads passed", ylabel="share of SQLs captured", xlim=(0, 1))
    ax.set_ylim(0, 1.02)
    _percent(ax.xaxis)
    _percent(ax.yaxis)
    ax.legend(loc="lower right")
    return "Leads taken from the highest score down; the higher curve captures more SQLs."


def _legend_below(ax, *axes) -> None:
    """One legend under the plot for the lines of ``ax`` and its twins."""
    handles, labels = [], []
    for each in (ax, *axes):
        h, labelled = each.get_legend_handles_labels()
        handles += h
        labels += labelled
    ax.figure.legend(handles, labels, loc="outside lower center", ncols=2)


def _rate(ax, report: Mapping[str, Any]) -> str:
    c, model, tiers = report["curves_quantile"], report["model"], report["tiers"]
    x = np.asarray(c["score"], dtype=float)
    keep = x > 0
    # A score proportional to the probability crowds the decision near 0: log scale then.
    # (A score on a log-odds points scale is already spread evenly and stays linear.)
    log = _proportional(x, c["threshold"]) and keep.any() and x[keep].max() / x[keep].min() > 20
    if not log:
        keep = np.ones_like(keep)
    x = x[keep]
    realized, expected = _float(c["realized_rate"])[keep], _float(c["expected_rate"])[keep]
    ax.plot(x, realized, color=_MODEL, lw=2, label="realized MQL-to-SQL rate")
    ax.plot(x, expected, color=_MODEL, ls="--", lw=1, label="expected rate")
    if model["target_rate"] is not None:
        ax.axhline(model["target_rate"], color=_TARGET, lw=1, label="target rate")
    mql = tiers["mql_score"]
    ax.axvline(mql, color="black", ls=":", lw=1.5, label=f"MQL line (score {mql:.3g})")
    if log:
        ax.set_xscale("log")
        _plain_log(ax.xaxis)
    ax.set(xlabel="MQL line on the score scale" + (" (log scale)" if log else ""))
    ax.set(ylabel="MQL-to-SQL rate", ylim=(0, 1.02))
    _percent(ax.yaxis)
    share = ax.twinx()
    share.plot(x, np.asarray(c["mql_share"])[keep], color=_POINTS, lw=1.5, label="MQL share")
    share.set(ylabel="share of leads that are MQLs", ylim=(0, 1.02))
    _percent(share.yaxis)
    _legend_below(ax, share)
    return (
        "Each point puts the MQL line at a score that passes 1 % to 100 % of the test leads: "
        "a higher line raises the MQL-to-SQL rate (left axis) and lowers the share of leads "
        "that are MQLs (right axis, orange)."
    )


def _reliability(ax, report: Mapping[str, Any]) -> str:
    curve = report["calibration"]["curve"]
    bands = report["reliability_intervals"]
    x = np.array([b["mean_predicted"] for b in curve], dtype=float)
    y = np.array([b["observed_rate"] for b in curve], dtype=float)
    lo = np.array([np.nan if b is None else b[0] for b in bands], dtype=float)
    hi = np.array([np.nan if b is None else b[1] for b in bands], dtype=float)
    positive = x[x > 0]
    log = positive.size == x.size and x.max() / positive.min() > 10
    top = max(float(np.nanmax([*x, *hi])), 0.05) * 1.1
    bottom = max(float(np.nanmin([*x, *np.where(lo > 0, lo, np.nan)])) / 1.5, 1e-4) if log else 0
    ax.plot([bottom, top], [bottom, top], color=_GREY, ls=":", label="perfect calibration")
    ax.fill_between(x, np.maximum(lo, bottom), hi, color=_MODEL, alpha=0.2, label="90 % interval")
    ax.plot(x, y, "o-", color=_MODEL, label="observed")
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    _percent(ax.xaxis)
    _percent(ax.yaxis)
    scale = " (log scale)" if log else ""
    ax.set(xlabel="mean predicted probability" + scale, ylabel="observed conversion rate" + scale)
    ax.set(xlim=(bottom, top), ylim=(bottom, top))
    ax.legend(loc="upper left")
    return (
        f"Test leads in {len(curve)} bins of equal size, from the lowest predicted "
        "probability to the highest; the band is the exact 90 % interval of each bin's rate. "
        "On the diagonal a probability means what it says "
        f"(ECE {report['calibration']['ece']:.3f})."
    )


def _monthly(ax, report: Mapping[str, Any]) -> str:
    monthly = report["monthly"]
    rows = [r for r in monthly["rows"] if r["rate"] is not None]
    x = np.arange(len(rows))
    rate = np.array([r["rate"] for r in rows], dtype=float)
    lo = np.array([r["interval"][0] for r in rows], dtype=float)
    hi = np.array([r["interval"][1] for r in rows], dtype=float)
    ax.errorbar(
        x,
        rate,
        yerr=[rate - lo, hi - rate],
        fmt="o-",
        color=_MODEL,
        capsize=3,
        label="MQL-to-SQL rate (90 % interval)",
    )
    if monthly["target_rate"] is not None:
        ax.axhline(monthly["target_rate"], color=_TARGET, lw=1, label="target rate")
    step = max(1, -(-len(rows) // 8))  # at most 8 period labels: they stay readable
    ax.set_xticks(x[::step], [r["period"] for r in rows][::step], rotation=30, ha="right")
    ax.set(ylabel="MQL-to-SQL rate", ylim=(0, min(1.02, max(1e-3, float(np.nanmax(hi))) * 1.2)))
    _percent(ax.yaxis)
    volume = ax.twinx()
    volume.bar(x, [r["n_mql"] for r in rows], color=_GREY, alpha=0.25, label="MQLs (bars)")
    volume.set(ylabel="MQLs")
    ax.set_zorder(volume.get_zorder() + 1)
    ax.patch.set_visible(False)
    _legend_below(ax, volume)
    return f"Did the rate hold over the test period? By {monthly['by']}, MQLs as bars."


def _distribution(ax, report: Mapping[str, Any]) -> str:
    d = report["curves_quantile"]["histogram"]
    edges = np.asarray(d["score_edges"], dtype=float)
    for key, colour, label in (
        ("not_converted", _GREY, "not converted"),
        ("converted", _MODEL, "converted"),
    ):
        counts = np.asarray(d[key], dtype=float)
        share = counts / counts.sum() if counts.sum() else counts
        ax.stairs(share, edges, color=colour, lw=2, label=label)
    mql = report["tiers"]["mql_score"]
    ax.axvline(mql, color="black", ls=":", lw=1.5, label=f"MQL line (score {mql:.3g})")
    edges_p = np.asarray(report["curves_quantile"]["histogram"].get("edges", []), dtype=float)
    log = edges_p.size == 0 or _proportional(edges, edges_p)
    if log:
        ax.set_xscale("log")
        _plain_log(ax.xaxis)
    ax.set(xlabel="score" + (" (log scale)" if log else ""), ylabel="share of the group")
    _percent(ax.yaxis)
    ax.legend(loc="upper left")
    return (
        "Test leads by score, converted against not: the further apart the two groups, the "
        "better the model separates them; the leads right of the MQL line are the MQLs."
    )


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
                fontsize=_SMALL,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(3), g["labels"])
    ax.set_yticks(range(3), g["labels"])
    ax.set(xlabel="engagement sub-score (terciles)", ylabel="fit sub-score (terciles)")
    bar = ax.figure.colorbar(image, ax=ax, label="conversion rate")
    _percent(bar.ax.yaxis)
    return "Conversion rate of the test leads by who they are (fit) and what they did."


def _drivers(ax, report: Mapping[str, Any]) -> str:
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    d = report["drivers"]
    top = d["features"][:_MAX_DRIVERS][::-1]
    factors = np.exp([f["mean_abs_contribution"] for f in top])
    groups = (
        ("fit", _MODEL, "fit: who the lead is"),
        ("engagement", _POINTS, "engagement: what the lead did"),
    )
    # Bars from x1 (no effect) to the odds multiplier, on a log axis: x2 and x0.5 are as
    # far from x1, and the axis reads what the labels say.
    for group, colour, label in groups:
        rows = [i for i, f in enumerate(top) if f["group"] == group]
        if rows:
            ax.barh(rows, factors[rows] - 1.0, left=1.0, color=colour, label=label)
    for i, factor in enumerate(factors):
        ax.annotate(
            f"x{factor:.2f}",
            (factor, i),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=_SMALL,
        )
    ax.set_xscale("log")
    high = float(max(factors.max(), 1.1)) if factors.size else 2.0
    right = high**1.3  # room for the labels
    # Round multipliers spread on the log axis (none closer than a sixth of it), x1 first.
    gap, ticks = np.log(right) / 6, [1.0]
    for t in (1.05, 1.1, 1.25, 1.5, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000):
        if t <= right and np.log(t) - np.log(ticks[-1]) >= gap:
            ticks.append(t)
    ax.set_xlim(1.0, right)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"x{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(range(len(top)), [f.get("label") or f["feature"] for f in top])
    ax.set(xlabel="odds multiplier (log scale)")
    ax.figure.legend(loc="outside lower center", ncols=1)
    return (
        f"How much each column moves the odds of converting, on average over {d['n']:,} test "
        "leads (up or down): x1.50 means the column typically multiplies or divides a lead's "
        "odds by 1.5."
    )


_DRAW = {
    "gains": ("Gains: SQLs captured by share of leads", _gains),
    "rate": ("MQL-to-SQL rate and MQL share by where the MQL line sits", _rate),
    "monthly": ("MQL-to-SQL rate over the test period", _monthly),
    "reliability": ("Reliability of the probabilities", _reliability),
    "distribution": ("Scores, converted vs not", _distribution),
    "grid": ("Fit x engagement: conversion rate", _grid),
    "drivers": ("Top drivers", _drivers),
}


def render_plots(report: Mapping[str, Any], *, dpi: int = 150) -> list[tuple[str, str, str, str]]:
    """Draw every plot of :data:`PLOTS` from a report dict.

    Parameters
    ----------
    report : dict
        The result of :func:`mqlml.report.compare`.
    dpi : int, default=150
        Resolution of the PNG images (150: sharp on a phone's screen).

    Returns
    -------
    list of (name, title, caption, base64 PNG)
        One entry per plot drawn, in :data:`PLOTS` order; ``monthly`` is left out when
        the test part has no order in time (a random split).
    """
    out = []
    for name, title, caption, figure in figures(report):
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
        out.append((name, title, caption, base64.b64encode(buffer.getvalue()).decode("ascii")))
    return out


def figures(report: Mapping[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    """Each plot of :data:`PLOTS` as a matplotlib Figure: ``(name, title, caption, figure)``.

    The report's fonts apply while each figure is drawn and until the next one is asked
    for (save it before); the caller's own matplotlib settings are left as they were.
    """
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    for name in PLOTS:
        if name == "monthly" and not report["monthly"]["rows"]:
            continue
        title, draw = _DRAW[name]
        height = _TALL if name in ("rate", "monthly") else _HEIGHT
        if name == "drivers":
            height = max(_HEIGHT, 1.3 + 0.3 * min(len(report["drivers"]["features"]), _MAX_DRIVERS))
        # Ticks are made as the figure is drawn: the fonts hold until the caller is done.
        with mpl.rc_context(_STYLE):
            figure = Figure(figsize=(WIDTH, height), layout="constrained")
            FigureCanvasAgg(figure)
            caption = draw(figure.add_subplot(), report)
            figure.canvas.draw()
            yield name, title, caption, figure
