"""Threshold choice for a target MQL-to-SQL rate or a capacity, with exact expected answers."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqlml.config._capacity import PERIOD_DAYS, parse_capacity
from mqlml.errors import DataError, UnreachableTargetError
from mqlml.metrics._rates import rate_curve, realized
from mqlml.model._threshold import ThresholdResult, choose_threshold

P5 = [0.9, 0.8, 0.5, 0.3, 0.1]


def test_target_rate_picks_the_lowest_threshold_that_reaches_it():
    r = choose_threshold(P5, target_rate=0.7)
    # top 3: (0.9 + 0.8 + 0.5) / 3 = 0.733 >= 0.7; top 4: 2.5 / 4 = 0.625 < 0.7
    assert r.threshold == 0.5
    assert r.n_mql == 3
    assert r.n == 5
    assert r.expected_rate == pytest.approx(2.2 / 3)
    assert r.expected_share == pytest.approx(0.6)
    assert r.expected_conversions == pytest.approx(2.2)
    assert (r.mode, r.target_rate, r.capacity, r.period) == ("target_rate", 0.7, None, None)
    assert r.realized_rate is None and r.realized_interval is None


def test_target_rate_does_not_depend_on_input_order():
    rng = np.random.default_rng(0)
    p = rng.beta(2, 8, 5_000)
    a = choose_threshold(p, target_rate=0.3)
    b = choose_threshold(rng.permutation(p), target_rate=0.3)
    assert a == b
    # brute force over every distinct value
    values = np.unique(p)
    rates = np.array([p[p >= t].mean() for t in values])
    assert a.threshold == values[rates >= 0.3].min()


def test_target_rate_reached_exactly_counts_as_reached():
    r = choose_threshold([0.8, 0.6, 0.4], target_rate=0.7)  # (0.8 + 0.6) / 2 = 0.7
    assert (r.threshold, r.n_mql) == (0.6, 2)


def test_target_rate_keeps_ties_together():
    p = [0.9, 0.6, 0.6, 0.6, 0.2]
    # with the three 0.6: 2.7 / 4 = 0.675
    out = choose_threshold(p, target_rate=0.7)
    assert (out.threshold, out.n_mql) == (0.9, 1)
    both = choose_threshold(p, target_rate=0.65)
    assert (both.threshold, both.n_mql) == (0.6, 4)
    assert both.expected_rate == pytest.approx(0.675)
    top_tie = choose_threshold([0.5, 0.5, 0.4], target_rate=0.5)
    assert (top_tie.threshold, top_tie.n_mql) == (0.5, 2)


def test_target_rate_can_take_every_lead():
    r = choose_threshold(P5, target_rate=0.5)  # mean of all is 0.52
    assert (r.threshold, r.n_mql, r.expected_share) == (0.1, 5, 1.0)


def test_unreachable_target_names_the_highest_reachable_rate():
    with pytest.raises(
        UnreachableTargetError,
        match=r"target_rate must be at most the highest reachable MQL-to-SQL rate 0\.412 "
        r"\(the leads with the top probability\); got 0\.5\. Lower the target",
    ):
        choose_threshold([0.412, 0.412, 0.3], target_rate=0.5)


@pytest.mark.parametrize("target", [0.0, 1.0, 1.5, -0.1])
def test_target_rate_must_be_a_fraction(target):
    with pytest.raises(ValueError, match=r"target_rate must be in \(0, 1\); got"):
        choose_threshold(P5, target_rate=target)


@pytest.mark.parametrize(("target", "capacity"), [(None, None), (0.3, 2)])
def test_exactly_one_goal(target, capacity):
    with pytest.raises(ValueError, match="exactly one of target_rate and capacity must be given"):
        choose_threshold(P5, target_rate=target, capacity=capacity)


@pytest.mark.parametrize(
    ("probabilities", "message"),
    [
        (
            [0.2, np.nan, 0.5],
            r"probabilities must be finite and in \[0, 1\]; got nan at position 1",
        ),
        ([0.2, 1.2], r"got 1.2 at position 1"),
        ([-0.1, 0.2], r"got -0.1 at position 0"),
        ([], r"probabilities must be a non-empty 1-d array; got shape \(0,\)"),
        ([[0.2, 0.3]], r"got shape \(1, 2\)"),
        (["x", "y"], r"probabilities must be numeric probabilities in \[0, 1\]"),
    ],
)
def test_bad_probabilities_are_named(probabilities, message):
    with pytest.raises(DataError, match=message):
        choose_threshold(probabilities, target_rate=0.3)


def test_bad_labels_are_named():
    with pytest.raises(
        DataError, match=r"labels must be a non-empty 1-d array with one 0/1 outcome per lead"
    ):
        choose_threshold(P5, target_rate=0.3, labels=[0, 1])
    with pytest.raises(DataError, match="labels must contain only 0 and 1; got 3 at position 2"):
        choose_threshold(P5, target_rate=0.3, labels=[0, 1, 3, 0, 0])


def test_capacity_total():
    r = choose_threshold(P5, capacity=2)
    assert (r.threshold, r.n_mql, r.capacity, r.mode) == (0.8, 2, 2, "capacity")
    assert (r.target_rate, r.capacity_per_period, r.period) == (None, None, None)
    assert r.expected_rate == pytest.approx(0.85)
    assert choose_threshold(P5, capacity="3").threshold == 0.5
    capped = choose_threshold(P5, capacity=10)
    assert (capped.capacity, capped.n_mql, capped.threshold) == (5, 5, 0.1)


def test_capacity_ties_at_the_threshold_are_all_in():
    r = choose_threshold([0.9, 0.7, 0.7, 0.7, 0.1], capacity=2)
    assert (r.threshold, r.capacity, r.n_mql) == (0.7, 2, 4)


def _times(n: int, span_days: float) -> pd.DatetimeIndex:
    """n creation times whose span, max - min + 1 day, is span_days."""
    start = pd.Timestamp("2024-01-01")
    return pd.date_range(start, start + pd.Timedelta(days=span_days - 1), periods=n)


def test_capacity_per_month_over_exactly_two_months():
    two_months = 2 * PERIOD_DAYS["month"]
    p = np.linspace(0.001, 0.999, 1_500)
    r = choose_threshold(p, capacity="500/month", times=_times(1_500, two_months))
    assert (r.capacity, r.n_mql, r.capacity_per_period, r.period) == (1000, 1000, 500, "month")
    assert r.threshold == np.sort(p)[::-1][999]
    small = choose_threshold(p[:600], capacity="500/month", times=_times(600, two_months))
    assert (small.capacity, small.n_mql) == (600, 600)  # 1000 capped at n


def test_capacity_per_period_rounds_and_keeps_at_least_one():
    p = np.linspace(0.01, 0.99, 100)
    assert choose_threshold(p, capacity="7/week", times=_times(100, 14)).capacity == 14
    assert choose_threshold(p, capacity="1/week", times=_times(100, 3.5)).capacity == 1  # 0.5
    assert choose_threshold(p, capacity="3/week", times=_times(100, 3.5)).capacity == 2  # 1.5
    assert choose_threshold(p, capacity="1/year", times=_times(100, 1)).capacity == 1  # 0.003
    assert choose_threshold(p, capacity="40/quarter", times=_times(100, 365.25)).capacity == 100


def test_capacity_per_period_needs_times():
    with pytest.raises(ValueError, match="times must be given for a capacity per month; got None"):
        choose_threshold(P5, capacity="500/month")
    with pytest.raises(DataError, match="times must have one value per lead; got 2 times for 5"):
        choose_threshold(P5, capacity="5/day", times=["2024-01-01", "2024-01-02"])
    times = ["2024-01-01", None, "2024-01-03", "2024-01-04", "2024-01-05"]
    with pytest.raises(DataError, match="times must not be missing; got 1 missing of 5"):
        choose_threshold(P5, capacity="5/day", times=times)
    with pytest.raises(DataError, match="'times' must hold dates such as 2025-03-01"):
        choose_threshold(P5, capacity="5/day", times=["a", "b", "c", "d", "e"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500/month", (500, "month")),
        (" 20 / Week ", (20, "week")),
        ("1200", (1200, None)),
        (7, (7, None)),
        ("3/quarter", (3, "quarter")),
    ],
)
def test_parse_capacity(text, expected):
    assert parse_capacity(text) == expected


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("500/fortnight", "'500/fortnight' \\(unknown period 'fortnight'\\)"),
        ("abc", "'abc'"),
        ("0/month", "'0/month'"),
        ("-5", "'-5'"),
        ("5.5/day", "'5.5/day'"),
        ("", "''"),
        (0, "0"),
        (True, "True"),
    ],
)
def test_parse_capacity_rejects_bad_text(text, shown):
    with pytest.raises(
        ValueError, match=rf"capacity must be a positive integer or 'N/period' .*got {shown}"
    ):
        parse_capacity(text)
    with pytest.raises(ValueError, match="capacity must be"):
        choose_threshold(P5, capacity=text, times=_times(5, 10))


def test_realized_rate_and_interval_with_labels():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.1, 0.5, 20_000)
    y = rng.binomial(1, p)
    r = choose_threshold(p, target_rate=0.4, labels=y)
    mql = p >= r.threshold
    assert r.realized_conversions == y[mql].sum()
    assert r.realized_rate == pytest.approx(y[mql].mean())
    lo, hi = r.realized_interval
    assert lo < r.realized_rate < hi
    # a 90 % interval of a proportion is about +-1.645 standard errors
    half = 1.645 * np.sqrt(r.realized_rate * (1 - r.realized_rate) / r.n_mql)
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.15)
    again = choose_threshold(p, target_rate=0.4, labels=y)
    assert again.realized_interval == r.realized_interval
    assert r.lower_bound < r.realized_rate and r.lower_bound > lo  # one-sided 90 % > central


def test_realized_rate_matches_expected_on_bernoulli_draws():
    rng = np.random.default_rng(2)
    p = rng.beta(2, 8, 200_000)
    y = rng.binomial(1, p)
    r = choose_threshold(p, target_rate=0.3, labels=y)
    assert r.expected_rate == pytest.approx(0.3, abs=1e-4)
    assert abs(r.realized_rate - r.expected_rate) < 0.01


def test_guarantee_arguments_are_checked():
    with pytest.raises(ValueError, match=r"confidence must be in \[0.5, 1\); got 1.0"):
        choose_threshold(P5, target_rate=0.5, labels=[1, 1, 0, 0, 0], confidence=1.0)
    with pytest.raises(ValueError, match=r"a guarantee .* needs a target_rate and the labels"):
        choose_threshold(P5, target_rate=0.5, confidence=0.9)
    with pytest.raises(ValueError, match=r"a guarantee .* needs a target_rate and the labels"):
        choose_threshold(P5, capacity=2, labels=[1, 1, 0, 0, 0], confidence=0.9)


def _population(n, rng):
    """True probabilities uniform on [0, 0.8]: the MQLs above t convert at (t + 0.8) / 2."""
    p = rng.uniform(0.0, 0.8, n)
    return p, rng.binomial(1, p)


def test_the_guarantee_holds_in_at_least_the_stated_share_of_repetitions():
    # Target 0.5: the true rate above t reaches it exactly when t >= 0.2.
    rng = np.random.default_rng(2026)
    met_guarantee, met_expected, cost = [], [], []
    for _ in range(300):
        p, y = _population(3000, rng)
        sure = choose_threshold(p, target_rate=0.5, labels=y, confidence=0.9)
        plain = choose_threshold(p, target_rate=0.5, labels=y)
        met_guarantee.append((sure.threshold + 0.8) / 2 >= 0.5)
        met_expected.append((plain.threshold + 0.8) / 2 >= 0.5)
        cost.append(sure.n_mql_expected_rule - sure.n_mql)
        assert sure.lower_bound >= 0.5 and sure.confidence == 0.9
    assert np.mean(met_guarantee) >= 0.9
    assert 0.3 <= np.mean(met_expected) <= 0.7  # the expected-rate rule is unbiased
    assert np.mean(cost) > 0  # a guarantee costs MQLs


def test_a_guarantee_out_of_reach_keeps_the_expected_rate_line_and_says_why():
    # Probabilities promise 0.6, but only half of the leads converted.
    p, y = np.full(100, 0.6), np.arange(100) % 2
    plain = choose_threshold(p, target_rate=0.55, labels=y)
    assert plain.n_mql == 100 and plain.guarantee is None and plain.note is None
    r = choose_threshold(p, target_rate=0.55, labels=y, confidence=0.9)
    assert (r.threshold, r.n_mql, r.guarantee) == (0.6, 100, "not met")
    assert r.lower_bound == pytest.approx(0.431, abs=5e-4)
    assert r.note == (
        "The MQL-to-SQL rate 55% is not guaranteed with 90% confidence on these 100 leads (50 "
        "converted): no line of at least 100 MQLs passed the exact tests, which start at the "
        "top 100 leads and spend the 10% error; guarantee: not met. None reaches it even taken "
        "alone: the best is the top 100 leads, 50 converted, at least 43.1% with 90% "
        "confidence. The line is the expected-rate one instead (100 MQLs, expected rate 60.0%: "
        "a promise on average, not a guarantee). Lower the target or the confidence, or "
        "calibrate on more leads (more conversions)."
    )
    assert ThresholdResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r


def _slice(top: list[int], rate_every: int, n: int = 1200):
    """Distinct probabilities from 0.4 down to 0, the ``top`` outcomes first, then one
    conversion every ``rate_every`` leads."""
    p = np.linspace(0.4, 0.0, n)
    y = np.zeros(n, dtype=int)
    y[: len(top)] = top
    y[len(top) :: rate_every] = 1
    return p, y


def test_a_bound_above_the_target_is_never_called_unreachable():
    # The top 9 leads, 6 converted, reach 40.1 % with 90 % confidence on their own, but a
    # tested line has at least 30 MQLs and none of those reaches 25 %: this used to stop
    # training with "target_rate must be reachable with 90% confidence; got 0.25, but the
    # best lower bound is 40.1% (the top 9 leads, 6 converted)".
    from mqlml.metrics._rates import lower_bound

    p, y = _slice([0, 1, 0, 1, 0, 1, 1, 1], rate_every=6)
    assert (y[:9].sum(), round(lower_bound(6, 9, 0.9), 3)) == (6, 0.401)
    r = choose_threshold(p, target_rate=0.25, labels=y, confidence=0.9)
    assert r.guarantee == "not met" and r.n_mql == r.n_mql_expected_rule == 900
    assert "reachable" not in r.note
    assert all(int(n) >= 30 for n in re.findall(r"the top (\d+) leads,", r.note))
    assert "None reaches it even taken alone: the best is the top 3" in r.note
    bounds = [float(v) for v in re.findall(r"at least (\d+\.\d+)%", r.note)]
    assert bounds and all(b < 25 for b in bounds)


def test_without_a_certified_line_the_strictest_line_that_reaches_the_target_alone():
    # The top 30 leads, 12 converted: P(Binomial(30, 0.25) >= 12) = 0.051, below 10 % on
    # its own but not below the 2.5 % each of the 4 sequences of tests gets.
    p, y = _slice([1, 0, 1, 0, 0] * 6, rate_every=7)
    assert y[:30].sum() == 12 and y[:95].sum() <= 31 and y[:300].sum() <= 85
    r = choose_threshold(p, target_rate=0.25, labels=y, confidence=0.9)
    assert (r.guarantee, r.n_mql, r.realized_conversions) == ("not met", 30, 12)
    assert r.lower_bound == pytest.approx(0.2773, abs=5e-5)  # the exact bound of 12 of 30
    assert "passed the exact tests, which start at the top 30, 95, 300, 949 leads" in r.note
    assert (
        "The line is the strictest that reaches 25% taken alone: the top 30 leads, 12 "
        "converted, at least 27.7% with 90% confidence on their own" in r.note
    )


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 400),
    base=st.floats(0.0, 1.0),
    target=st.sampled_from([0.1, 0.25, 0.333, 0.5, 0.75]),
    confidence=st.sampled_from([0.5, 0.8, 0.9, 0.975]),
    seed=st.integers(0, 2**32 - 1),
)
def test_guarantee_texts_never_contradict_themselves(n, base, target, confidence, seed):
    rng = np.random.default_rng(seed)
    p = np.round(rng.uniform(0, 1, n) ** 2, 2)  # ties, as isotonic calibration makes
    y = (rng.uniform(0, 1, n) < base * p + (1 - base) * rng.uniform(0, 1, n)).astype(int)
    try:
        r = choose_threshold(p, target_rate=target, labels=y, confidence=confidence)
    except UnreachableTargetError as exc:  # even the top leads are expected below it
        assert p.max() < target and "highest reachable MQL-to-SQL rate" in str(exc)
        return
    if r.guarantee == "met":
        assert r.note is None and r.lower_bound >= target
        return
    assert r.guarantee == "not met" and "guarantee: not met" in r.note
    assert "reachable" not in r.note
    alone = re.search(r"taken alone: the top ([\d,]+) leads.*?at least ([\d.]+)%", r.note)
    none = re.search(r"None reaches it even taken alone.*?at least ([\d.]+)%", r.note)
    if alone:
        assert float(alone.group(2)) >= 100 * target and r.lower_bound >= target
        assert int(alone.group(1).replace(",", "")) == r.n_mql >= min(30, n)
    if none:
        assert float(none.group(1)) < 100 * target
        assert r.n_mql == r.n_mql_expected_rule


def test_guarantee_check_before_fitting():
    from scipy.stats import binom

    from mqlml.model._threshold import guarantee_check

    # 1,200 leads: 4 sequences (top 30, 95, 300, 949), 2.5 % each. With every conversion
    # ranked first, 13 conversions make the top 30 pass, 12 do not.
    assert binom.sf(12, 30, 0.25) < 0.025 < binom.sf(11, 30, 0.25)
    assert guarantee_check(1200, 13, 0.25, 0.9) is None
    assert guarantee_check(1200, 12, 0.25, 0.9) == (
        "12 conversions among 1,200 leads cannot certify an MQL-to-SQL rate of 25% with 90% "
        "confidence: even with every conversion ranked first, no line of at least 30 MQLs "
        "would pass the exact tests, so the guarantee will not be met."
    )
    # fewer leads than 30: the one line tested is all of them
    assert guarantee_check(20, 4, 0.25, 0.9) is not None
    assert guarantee_check(20, 20, 0.25, 0.9) is None


@pytest.mark.parametrize("n", [10, 30, 100, 1000])
@pytest.mark.parametrize("rate", [0.01, 0.2, 0.5, 0.99])
def test_exact_intervals_cover_at_least_their_level(n, rate):
    from scipy.stats import binom

    from mqlml.metrics._rates import rate_interval

    # exact coverage: sum the binomial probabilities of the outcomes whose interval covers
    k = np.arange(n + 1)
    covered = [lo <= rate <= hi for lo, hi in (rate_interval(int(i), n) for i in k)]
    assert float(binom.pmf(k, n, rate)[covered].sum()) >= 0.90 - 1e-12


def test_exact_intervals_at_the_ends():
    from mqlml.metrics._rates import lower_bound, rate_interval

    assert rate_interval(30, 30) == (pytest.approx(0.05 ** (1 / 30)), 1.0)
    assert rate_interval(0, 30) == (0.0, pytest.approx(1 - 0.05 ** (1 / 30)))
    assert lower_bound(30, 30) == pytest.approx(0.1 ** (1 / 30))
    assert rate_interval(0, 0) is None


def test_to_dict_is_json_safe():
    r = choose_threshold(P5, target_rate=0.7, labels=[1, 1, 0, 0, 0])
    assert isinstance(r, ThresholdResult)
    out = json.loads(json.dumps(r.to_dict()))
    assert out["threshold"] == 0.5
    assert out["realized_rate"] == pytest.approx(2 / 3)
    assert out["realized_conversions"] == 2
    assert isinstance(out["realized_interval"], list) and len(out["realized_interval"]) == 2


def test_realized_on_another_part():
    r = realized([0.9, 0.7, 0.4, 0.2], [1, 0, 1, 0], 0.5)
    assert r["n"] == 4 and r["n_mql"] == 2
    assert r["mql_share"] == 0.5
    assert r["mean_probability"] == pytest.approx(0.8)
    assert (r["realized_rate"], r["realized_conversions"], r["recall"]) == (0.5, 1, 0.5)
    assert r["lift"] == pytest.approx(1.0)
    lo, hi = r["realized_interval"]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0
    json.dumps(r)


def test_realized_without_mqls_or_conversions():
    none = realized([0.3, 0.2], [1, 0], 0.5)
    assert none["n_mql"] == 0
    assert none["realized_rate"] is None and none["realized_interval"] is None
    assert none["recall"] == 0.0 and none["lift"] is None
    no_conversions = realized([0.3, 0.2], [0, 0], 0.25)
    assert no_conversions["realized_rate"] == 0.0
    assert no_conversions["recall"] is None and no_conversions["lift"] is None


def test_rate_curve_hand_case():
    curve = rate_curve([0.2, 0.4, 0.4, 0.8], [0, 1, 0, 1], n_points=5)
    assert curve["threshold"].tolist() == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])
    assert curve["mql_share"].tolist() == pytest.approx([1.0, 1.0, 0.75, 0.25, 0.25])
    assert curve["expected_rate"].tolist() == pytest.approx([0.45, 0.45, 1.6 / 3, 0.8, 0.8])
    assert curve["realized_rate"].tolist() == pytest.approx([0.5, 0.5, 2 / 3, 1.0, 1.0])
    plain = rate_curve([0.2, 0.4], n_points=3)
    assert list(plain.columns) == ["threshold", "mql_share", "expected_rate"]


def test_rate_curve_shares_fall_and_rates_rise():
    rng = np.random.default_rng(3)
    curve = rate_curve(rng.beta(2, 8, 10_000))
    assert len(curve) == 101
    assert np.all(np.diff(curve["mql_share"]) <= 0)
    assert np.all(np.diff(curve["expected_rate"]) >= -1e-12)
    assert not curve.isna().any().any()
    with pytest.raises(ValueError, match="n_points must be an integer of at least 2; got 1"):
        rate_curve([0.2], n_points=1)
