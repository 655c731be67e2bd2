"""Synthetic B2B leads with known true conversion probabilities.

:func:`make_leads` draws leads whose outcome follows a known law, so that every part of
mqlml (model, calibration, threshold, comparison with points) can be checked against the
truth. The generative story, in order:

1. ``created_at``: spread over ``days`` from ``start``, fewer leads at weekends and at
   night; leads are numbered in creation order.
2. Fit: company size, then seniority given size (small companies have more C-levels and
   students), department, job title (seniority x department), industry, country (long
   tail) and lead source. A few percent of ``country``, ``industry``, ``company_size`` and
   ``job_title`` are blanked out in the output (missing completely at random); the truth
   uses the values before blanking.
3. Engagement: an activity log over the first :data:`ENGAGEMENT_HORIZON_DAYS` days of each
   lead. Counts per event type are Poisson with rates that depend on fit and on a hidden
   per-lead interest; event times follow a per-lead decay. The aggregate columns are
   computed from that log, so they match it exactly.
4. Outcome: ``converted ~ Bernoulli(true_probability)`` where the logit adds fit main
   effects, saturating engagement effects (``log1p`` of counts, a recency decay), fit x
   engagement interactions (pricing visits weigh more for large companies and senior
   titles; a student's demo request barely counts) and a mild drift of the intercept over
   time (-0.2 on the logit from the first to the last day). The truth depends on the
   features only, never on the hidden interest, so shifting the feature distribution
   (``engagement_shift``) leaves ``P(converted | features)`` unchanged.

Two options add structure that sales plans by. ``regions=True`` adds ``region`` (the
sales territory of the country: AMER, EMEA, APAC) with its own effect on the logit
(:data:`REGION_EFFECTS`), so the regions' base rates differ. ``accounts=k`` groups the
leads into accounts of ``k`` leads on average (``account_id``); the leads of an account
share its company (size, industry, country) and, given their features, convert
independently, so the account's chance that at least one converts is exactly
``1 - prod(1 - true_probability)`` over its leads.
"""

from __future__ import annotations

import os
from numbers import Real
from pathlib import Path
from typing import Literal, overload

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mqlml.errors import ConfigError
from mqlml.io._atomic import atomic_output

__all__ = [
    "ENGAGEMENT_COLUMNS",
    "ENGAGEMENT_HORIZON_DAYS",
    "EVENT_TYPES",
    "EXAMPLE_FILES",
    "FIT_COLUMNS",
    "ID_COLUMN",
    "LABEL_COLUMN",
    "REGIONS",
    "REGION_EFFECTS",
    "SHIFTABLE_FEATURES",
    "TIME_COLUMN",
    "conversion_within",
    "example_file",
    "make_leads",
    "write_sample",
]

ENGAGEMENT_HORIZON_DAYS = 14
"""Days after ``created_at`` over which engagement is observed (the lead's cutoff)."""

ID_COLUMN = "lead_id"
TIME_COLUMN = "created_at"
LABEL_COLUMN = "converted"
FIT_COLUMNS = [
    "job_title",
    "seniority",
    "department",
    "company_size",
    "industry",
    "country",
    "lead_source",
]
ENGAGEMENT_COLUMNS = [
    "page_views",
    "pricing_page_visits",
    "content_downloads",
    "webinars_attended",
    "email_opens",
    "email_clicks",
    "demo_requested",
    "days_since_last_activity",
    "visits_last_7d",
]
EVENT_TYPES = [
    "page_view",
    "pricing_page_visit",
    "content_download",
    "webinar_attended",
    "email_open",
    "email_click",
    "demo_request",
]
SHIFTABLE_FEATURES = ENGAGEMENT_COLUMNS[:7]
"""Features ``engagement_shift`` accepts (the counts and ``demo_requested``)."""

_DAY = 86_400
_US = 1_000_000
_DRIFT_LOGIT = -0.2  # change of the intercept from the first to the last day
_INTERCEPT = -5.873  # gives a base rate of ~10 % for the default call
_FIT_WEIGHT = 3.0  # how much more who the lead is weighs than the effects below

_SIZES = ["1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+"]
_SIZE_P = [0.22, 0.25, 0.21, 0.16, 0.10, 0.06]
_SENIORITIES = ["C-level", "VP", "Director", "Manager", "Individual Contributor", "Student"]
_SENIORITY_GIVEN_SIZE = [
    [0.14, 0.06, 0.08, 0.20, 0.40, 0.12],
    [0.07, 0.08, 0.12, 0.25, 0.40, 0.08],
    [0.04, 0.08, 0.15, 0.28, 0.40, 0.05],
    [0.02, 0.07, 0.16, 0.30, 0.41, 0.04],
    [0.01, 0.06, 0.16, 0.32, 0.42, 0.03],
    [0.01, 0.05, 0.15, 0.33, 0.43, 0.03],
]
_DEPARTMENTS = ["Marketing", "Sales", "IT", "Finance", "Operations", "HR", "Other"]
_DEPARTMENT_P = [0.28, 0.18, 0.18, 0.08, 0.12, 0.06, 0.10]
_TITLES = [
    ["CMO", "CRO", "CTO", "CFO", "COO", "CHRO", "CEO"],
    "VP Marketing|VP Sales|VP Engineering|VP Finance|VP Operations|VP People|VP Strategy".split(
        "|"
    ),
    "Marketing Director|Sales Director|IT Director|Finance Director|Operations Director|"
    "HR Director|Director".split("|"),
    "Marketing Manager|Sales Manager|IT Manager|Finance Manager|Operations Manager|"
    "HR Manager|Project Manager".split("|"),
    "Marketing Specialist|Sales Representative|Data Analyst|Accountant|Operations Analyst|"
    "Recruiter|Consultant".split("|"),
    ["Student"] * 7,
]
_TITLE_LABELS = sorted({t for row in _TITLES for t in row})
_TITLE_CODE = np.array([[_TITLE_LABELS.index(t) for t in row] for row in _TITLES])
_INDUSTRIES = (
    "Software|Financial Services|Healthcare|Manufacturing|Retail|Education|"
    "Professional Services|Media|Government|Nonprofit".split("|")
)
_INDUSTRY_P = [0.22, 0.12, 0.10, 0.12, 0.09, 0.08, 0.11, 0.06, 0.05, 0.05]
_COUNTRIES = (
    "United States|United Kingdom|Germany|Canada|India|France|Australia|Netherlands|"
    "Brazil|Spain|Sweden|Singapore|Japan|Mexico".split("|")
)
_COUNTRY_P = [0.36, 0.10, 0.08, 0.07, 0.08, 0.06, 0.05, 0.04, 0.04, 0.03, 0.025, 0.02, 0.02, 0.015]
_SOURCES = (
    "Organic Search|Paid Search|Referral|Webinar|Content Syndication|Event|Direct|Social".split("|")
)
_SOURCE_P = [0.25, 0.18, 0.08, 0.10, 0.12, 0.07, 0.12, 0.08]
_MISSING = {"job_title": 0.015, "company_size": 0.02, "industry": 0.03, "country": 0.03}

# logit effects of the fit features, in the order of the labels above
_SENIORITY_EFFECT = np.array([0.55, 0.65, 0.5, 0.2, -0.25, -1.6])
_DEPARTMENT_EFFECT = np.array([0.4, 0.2, 0.1, -0.1, 0.0, -0.35, -0.4])
_SIZE_EFFECT = np.array([-0.7, -0.25, 0.1, 0.35, 0.4, 0.3])
_INDUSTRY_EFFECT = np.array([0.35, 0.2, 0.0, -0.05, -0.1, -0.35, 0.1, -0.05, -0.4, -0.5])
_COUNTRY_EFFECT = np.array(
    [0.15, 0.1, 0.05, 0.1, -0.35, 0.0, 0.05, 0.05, -0.3, -0.1, 0.05, 0.0, -0.2, -0.3]
)
_SOURCE_EFFECT = np.array([0.1, 0.0, 0.6, -0.5, -0.9, 0.3, 0.2, -0.3])

_DISPOSITIONS_WON = ["Meeting booked", "Opportunity created", "Demo held"]

REGIONS = ["AMER", "EMEA", "APAC"]
"""The sales territories of ``regions=True``."""
REGION_EFFECTS = {"AMER": 0.0, "EMEA": -0.6, "APAC": 1.0}
"""Added to the logit of each region's leads (``regions=True``)."""
# the region of each country in _COUNTRIES
_COUNTRY_REGION = np.array([0, 1, 1, 0, 2, 1, 2, 1, 0, 1, 1, 2, 2, 0])
_SHARED_BY_ACCOUNT = ("company_size", "industry", "country", "industry_missing")


@overload
def make_leads(
    n: int = ...,
    seed: int = ...,
    *,
    start: str = ...,
    days: int = ...,
    truth: bool = ...,
    leaky: bool = ...,
    events: Literal[False] = ...,
    base_rate_scale: float = ...,
    engagement_shift: dict[str, float] | None = ...,
    base_rate_change: tuple[float, float] | None = ...,
    conversion_days: float | None = ...,
    observed_until: str | None = ...,
    regions: bool = ...,
    accounts: float | None = ...,
) -> pd.DataFrame: ...


@overload
def make_leads(
    n: int = ...,
    seed: int = ...,
    *,
    start: str = ...,
    days: int = ...,
    truth: bool = ...,
    leaky: bool = ...,
    events: Literal[True],
    base_rate_scale: float = ...,
    engagement_shift: dict[str, float] | None = ...,
    base_rate_change: tuple[float, float] | None = ...,
    conversion_days: float | None = ...,
    observed_until: str | None = ...,
    regions: bool = ...,
    accounts: float | None = ...,
) -> tuple[pd.DataFrame, pd.DataFrame]: ...


def make_leads(
    n: int = 20_000,
    seed: int = 0,
    *,
    start: str = "2024-01-01",
    days: int = 730,
    truth: bool = False,
    leaky: bool = False,
    events: bool = False,
    base_rate_scale: float = 1.0,
    engagement_shift: dict[str, float] | None = None,
    base_rate_change: tuple[float, float] | None = None,
    conversion_days: float | None = None,
    observed_until: str | None = None,
    regions: bool = False,
    accounts: float | None = None,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Draw synthetic B2B leads whose conversion probability is known.

    Parameters
    ----------
    n : int, default 20_000
        Number of leads (at least 1).
    seed : int, default 0
        Seed of ``numpy.random.default_rng``; the same seed gives the same frame.
    start : str, default "2024-01-01"
        First day of lead creation.
    days : int, default 730
        Leads are created over ``days`` days from ``start``.
    truth : bool, default False
        Add ``true_probability`` (float64) after ``converted``.
    leaky : bool, default False
        Add ``sales_disposition`` (str), a post-outcome note filled for ~97 % of the
        converted leads and ~2 % of the others: a leak that a leakage check must catch.
    events : bool, default False
        Also return the activity log, and add ``converted_at`` to the leads (the
        conversion time, some days after the lead's cutoff; NaT when not converted).
    base_rate_scale : float, default 1.0
        Multiplies the odds of converting (adds ``log(base_rate_scale)`` to every logit).
    engagement_shift : dict of str to float, optional
        Multiplies the mean of the named engagement features (names in
        :data:`SHIFTABLE_FEATURES`), for drift scenarios. The law of ``converted`` given
        the features is unchanged; only the features move. ``email_clicks`` and
        ``demo_requested`` scale a probability (capped at 1); shifting ``email_opens``
        or ``page_views`` also moves the clicks or ``visits_last_7d`` that derive from
        them.
    base_rate_change : (float, float), optional
        ``(at, scale)``: leads created after the fraction ``at`` of the period (0-1) have
        their odds of converting multiplied by ``scale`` (a regime change, e.g.
        ``(0.7, 2.0)``: the base rate roughly doubles for the newest 30 %).
    conversion_days : float, optional
        Conversions take time: each converted lead converts ``1 + Gamma(2, (d - 1) / 2)``
        days after creation (mean ``d`` days), written to ``converted_at`` (NaT when not
        converted). The probability of converting within ``w`` days is then
        ``true_probability * conversion_within(w, d)``.
    observed_until : str, optional
        The extraction date: conversions after it are not yet known (``converted`` 0,
        ``converted_at`` NaT), as in a real export. Needs ``conversion_days``.
    regions : bool, default False
        Add ``region`` (after ``lead_source``): the territory of the lead's country
        (:data:`REGIONS`), whose effect on the logit is :data:`REGION_EFFECTS`.
    accounts : float, optional
        Group the leads into accounts of this many leads on average (> 1; each lead
        joins one of ``round(n / accounts)`` accounts at random) and add ``account_id``
        (after ``lead_id``); the leads of an account share its company size, industry
        and country. Given their features the leads convert independently.

    Returns
    -------
    leads : DataFrame
        Columns ``lead_id``, ``created_at``, :data:`FIT_COLUMNS`,
        :data:`ENGAGEMENT_COLUMNS`, ``converted``, then the optional columns.
    events : DataFrame
        Only when ``events=True``: ``lead_id``, ``timestamp``, ``event_type`` (one of
        :data:`EVENT_TYPES`), ``value`` (1.0), sorted by timestamp. Every event of a lead
        lies in ``[created_at, created_at + ENGAGEMENT_HORIZON_DAYS)`` and the engagement
        columns are its exact aggregates at that cutoff: counts per type,
        ``demo_requested`` = any demo request, ``days_since_last_activity`` = days from
        the last event to the cutoff (the full horizon, 14.0, for a lead without
        events), ``visits_last_7d`` = page views in the last 7 days before the cutoff.

    Raises
    ------
    ConfigError
        If ``n``, ``days``, ``start``, ``base_rate_scale`` or ``engagement_shift`` is
        invalid (the message names the value and the valid choices).

    Examples
    --------
    >>> leads = make_leads(1_000, seed=1, truth=True)
    >>> leads.shape
    (1000, 20)
    >>> bool(leads["true_probability"].between(0, 1).all())
    True
    """
    n = _check_int("n", n, 1)
    days = _check_int("days", days, 1)
    try:
        start_ts = pd.Timestamp(start)
    except (TypeError, ValueError):
        start_ts = pd.NaT
    if start_ts is pd.NaT:
        raise ConfigError(
            f"start must be a date such as '2024-01-01'; got {start!r}. Pass an ISO date."
        )
    if start_ts.tz is not None:
        start_ts = start_ts.tz_convert(None)
    start_us = start_ts.value // 1000
    scale = float(base_rate_scale)
    if not (np.isfinite(scale) and scale > 0):
        raise ConfigError(
            f"base_rate_scale must be a finite number > 0; got {base_rate_scale!r}. "
            "Use 1.0 for the default base rate."
        )
    shift = _check_shift(engagement_shift)
    change = _check_change(base_rate_change)
    if conversion_days is not None and not (
        isinstance(conversion_days, Real) and np.isfinite(conversion_days) and conversion_days > 1
    ):
        raise ConfigError(
            f"conversion_days must be a number of days > 1; got {conversion_days!r}. Use e.g. "
            "30 for conversions a month after creation on average."
        )
    if observed_until is not None and conversion_days is None:
        raise ConfigError(
            f"observed_until must come with conversion_days; got observed_until="
            f"{observed_until!r} and no conversion_days. Pass conversion_days too."
        )
    if accounts is not None and not (
        isinstance(accounts, Real) and not isinstance(accounts, bool) and accounts > 1
    ):
        raise ConfigError(
            f"accounts must be the mean number of leads per account, a number > 1; got "
            f"{accounts!r}. Use e.g. 3."
        )
    rng = np.random.default_rng(seed)
    # Regions and accounts draw from their own stream: the default draw stays as it was.
    extra = np.random.default_rng([seed, 19])

    created_us = start_us + _draw_creation_seconds(rng, n, days, start_ts.weekday()) * _US
    fit = _draw_fit(rng, n)
    account = None
    if accounts is not None:
        account = extra.integers(0, max(1, round(n / float(accounts))), n)
        _, first, inverse = np.unique(account, return_index=True, return_inverse=True)
        for col in _SHARED_BY_ACCOUNT:
            fit[col] = fit[col][first[inverse]]
    counts, lead_of, offset_s = _draw_activity(rng, fit, shift)
    eng = _aggregate(n, counts, lead_of, offset_s)
    t = (created_us - start_us) / (days * _DAY * _US)
    log_scale = np.log(scale)
    if change is not None:
        log_scale = log_scale + np.where(t >= change[0], np.log(change[1]), 0.0)
    region = _COUNTRY_REGION[fit["country"]]
    if regions:
        log_scale = log_scale + np.array([REGION_EFFECTS[r] for r in REGIONS])[region]
    prob = _true_probability(fit, eng, t, log_scale)
    converted = (rng.random(n) < prob).astype(np.int64)
    delay_s = np.floor((1.0 + rng.gamma(2.0, 6.0, n)) * _DAY).astype(np.int64)
    disposition = _draw_disposition(rng, converted)

    ids = _lead_ids(n)
    leads = _leads_frame(ids, created_us, fit, eng, converted)
    if regions:
        leads.insert(leads.columns.get_loc("lead_source") + 1, "region", _strings(region, REGIONS))
    if account is not None:
        width = max(6, len(str(int(account.max()) + 1)))
        names = pc.binary_join_element_wise(
            "A", pc.utf8_lpad(pc.cast(pa.array(account + 1), pa.string()), width, "0"), ""
        )
        leads.insert(1, "account_id", names.to_pandas())
    if truth:
        leads["true_probability"] = prob
    if leaky:
        leads["sales_disposition"] = disposition
    if conversion_days is not None:
        # Drawn after everything else, so the other columns match the default draw.
        delay_days = 1.0 + rng.gamma(2.0, (float(conversion_days) - 1.0) / 2.0, n)
        conv_us = created_us + np.floor(delay_days * _DAY).astype(np.int64) * _US
        seen = converted == 1
        if observed_until is not None:
            until = pd.Timestamp(observed_until).value // 1000
            seen &= conv_us <= until
            leads["converted"] = seen.astype(np.int64)
        leads["converted_at"] = np.where(seen, conv_us, np.iinfo(np.int64).min).astype(
            "datetime64[us]"
        )
    if not events:
        return leads
    cutoff_us = created_us + ENGAGEMENT_HORIZON_DAYS * _DAY * _US
    if conversion_days is None:
        conv_at = np.where(converted == 1, cutoff_us + delay_s * _US, np.iinfo(np.int64).min)
        leads["converted_at"] = conv_at.astype("datetime64[us]")
    return leads, _events_frame(ids, created_us, counts, lead_of, offset_s)


EXAMPLE_FILES = (
    "mqlml.yaml",
    "sample_leads.csv",
    "rules.yaml",
    "xeducation.yaml",
    "rules_xeducation.yaml",
    "bank.yaml",
    "rules_bank.yaml",
)
"""The files shipped inside the package (``mqlml/data/``): the sample, configs, rules."""


def example_file(name: str) -> Path:
    """The path of a file shipped with the package: the sample, its config, example rules.

    ``mqlml.yaml`` describes ``sample_leads.csv`` (20,000 synthetic leads, ``mqlml sample``
    with its defaults) and points at ``rules.yaml``; ``xeducation.yaml`` and ``bank.yaml``
    describe the public datasets, read from ``$MQLML_DATA_DIR``. Read them in place or
    copy them: they are part of the installed package, not a place to write.

    Parameters
    ----------
    name : str
        One of :data:`EXAMPLE_FILES`.

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        When ``name`` is not a shipped file.

    Examples
    --------
    >>> example_file("mqlml.yaml").name
    'mqlml.yaml'
    >>> example_file("sample_leads.csv").is_file()
    True
    """
    if name not in EXAMPLE_FILES:
        raise ConfigError(
            f"example file must be one of {', '.join(EXAMPLE_FILES)}; got {name!r}. "
            "List them with mqlml.leads.EXAMPLE_FILES."
        )
    return Path(__file__).resolve().parent.parent / "data" / name


def write_sample(
    path: str | os.PathLike[str],
    *,
    rows: int = 20_000,
    seed: int = 0,
    truth: bool = False,
) -> Path:
    """Write ``make_leads(rows, seed, truth=truth)`` to a CSV file, byte for byte reproducible.

    Floats are rounded to 6 decimals, timestamps written as ISO ``YYYY-MM-DDTHH:MM:SS``,
    missing values as empty fields, lines end with ``"\\n"``. The file is written beside
    its destination and moved into place, so readers never see a partial file.

    Parameters
    ----------
    path : str or PathLike
        Destination CSV file; its folder is created if missing.
    rows : int, default 20_000
        Number of leads.
    seed : int, default 0
        Seed passed to :func:`make_leads`.
    truth : bool, default False
        Include the ``true_probability`` column.

    Returns
    -------
    Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = write_sample(pathlib.Path(d) / "leads.csv", rows=100)
    ...     len(out.read_text().splitlines())
    101
    """
    target = Path(path)
    leads = make_leads(rows, seed, truth=truth)
    floats = leads.select_dtypes("float64").columns
    leads[floats] = leads[floats].round(6)
    with atomic_output(target) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        leads.to_csv(fh, index=False, lineterminator="\n", date_format="%Y-%m-%dT%H:%M:%S")
    return target


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(
            f"{name} must be an integer >= {minimum}; got {value!r}. Pass a whole number."
        )
    return int(value)


def conversion_within(window_days: float, conversion_days: float) -> float:
    """Share of eventual conversions that happen within ``window_days`` of creation.

    For leads drawn by :func:`make_leads` with ``conversion_days``.

    Examples
    --------
    >>> round(conversion_within(1.0, 30.0), 3)
    0.0
    >>> conversion_within(1000.0, 30.0) > 0.999
    True
    """
    from scipy.stats import gamma

    scale = (float(conversion_days) - 1.0) / 2.0
    return float(gamma.cdf(max(float(window_days) - 1.0, 0.0), 2.0, scale=scale))


def _check_change(change: tuple[float, float] | None) -> tuple[float, float] | None:
    if change is None:
        return None
    ok = isinstance(change, tuple | list) and len(change) == 2
    if ok:
        at, scale = change
        ok = all(isinstance(v, Real) and not isinstance(v, bool) for v in change)
        ok = ok and 0 <= at <= 1 and np.isfinite(scale) and scale > 0
    if not ok:
        raise ConfigError(
            f"base_rate_change must be (at, scale) with 0 <= at <= 1 and scale > 0; got "
            f"{change!r}. Use e.g. (0.7, 2.0) to double the odds for the newest 30 %."
        )
    return float(change[0]), float(change[1])


def _check_shift(shift: dict[str, float] | None) -> dict[str, float]:
    shift = dict(shift or {})
    for name, factor in shift.items():
        if name not in SHIFTABLE_FEATURES:
            raise ConfigError(
                f"engagement_shift feature must be one of {', '.join(SHIFTABLE_FEATURES)}; "
                f"got {name!r}. Use one of those names."
            )
        valid = isinstance(factor, Real) and not isinstance(factor, bool)
        if not (valid and np.isfinite(factor) and factor > 0):
            raise ConfigError(
                f"engagement_shift[{name!r}] must be a finite number > 0; got {factor!r}. "
                "Use 1.0 for no shift, 2.0 to double the mean."
            )
    return {name: float(f) for name, f in shift.items()}


def _choice(rng: np.random.Generator, p: list[float], n: int) -> np.ndarray:
    p_arr = np.asarray(p, dtype=float)
    return rng.choice(len(p_arr), size=n, p=p_arr / p_arr.sum())


def _draw_creation_seconds(
    rng: np.random.Generator, n: int, days: int, first_weekday: int
) -> np.ndarray:
    """Seconds since ``start``, sorted: fewer leads at weekends and at night."""
    weekday = (first_weekday + np.arange(days)) % 7
    day_w = np.where(weekday >= 5, 0.4, 1.0)
    hour_w = np.array([1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 10, 9, 10, 10, 9, 8, 6, 4, 3, 2, 2, 1, 1])
    day = _choice(rng, list(day_w), n)
    hour = _choice(rng, list(hour_w), n)
    second = rng.integers(0, 3600, n)
    return np.sort(day * _DAY + hour * 3600 + second)


def _draw_fit(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Codes of the fit features (before blanking) and the missingness masks."""
    size = _choice(rng, _SIZE_P, n)
    cum = np.cumsum(np.asarray(_SENIORITY_GIVEN_SIZE), axis=1)
    cum /= cum[:, -1:]
    seniority = (rng.random(n)[:, None] > cum[size]).sum(axis=1)
    department = _choice(rng, _DEPARTMENT_P, n)
    student_other = (seniority == 5) & (rng.random(n) < 0.6)
    department[student_other] = len(_DEPARTMENTS) - 1
    fit = {
        "company_size": size,
        "seniority": seniority,
        "department": department,
        "job_title": _TITLE_CODE[seniority, department],
        "industry": _choice(rng, _INDUSTRY_P, n),
        "country": _choice(rng, _COUNTRY_P, n),
        "lead_source": _choice(rng, _SOURCE_P, n),
    }
    for col, rate in _MISSING.items():
        fit[f"{col}_missing"] = rng.random(n) < rate
    fit["interest"] = rng.normal(0.0, 0.7, n)
    return fit


def _draw_activity(
    rng: np.random.Generator, fit: dict[str, np.ndarray], shift: dict[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts per event type (7, n), then each event's lead and offset in seconds.

    Events are ordered by type, then lead; offsets lie in ``[0, horizon)``.
    """
    sen, size, interest = fit["seniority"], fit["company_size"], fit["interest"]
    n = sen.size
    senior, student, large = sen <= 2, sen == 5, size >= 3
    # better-fitting leads engage more; juniors browse more, seniors look at prices
    fit_lift = _SENIORITY_EFFECT[sen] + _SIZE_EFFECT[size] + _INDUSTRY_EFFECT[fit["industry"]]
    m = np.exp(interest + 0.5 * fit_lift)
    browse = np.array([0.6, 0.7, 0.9, 1.1, 1.3, 1.4])[sen] * np.where(size <= 1, 1.2, 1.0)
    pricing = np.where(senior, 1.5, 1.0) * np.where(large, 1.3, 1.0) * np.where(student, 0.3, 1.0)
    downloads = np.where(fit["department"] == 0, 1.4, 1.0) * np.where(
        fit["lead_source"] == 4, 2.5, 1.0
    )
    webinars = np.where(fit["lead_source"] == 3, 4.0, 1.0)
    rates = [
        4.0 * m * browse,
        0.45 * m * pricing,
        0.6 * m * downloads,
        0.18 * m * webinars,
        2.5 * np.exp(0.5 * interest) * np.where(senior, 0.8, 1.0),
    ]
    for k, name in enumerate(SHIFTABLE_FEATURES[:5]):
        rates[k] = rates[k] * shift.get(name, 1.0)
    counts = np.empty((7, n), dtype=np.int64)
    for k, rate in enumerate(rates):
        counts[k] = rng.poisson(rate)
    p_click = 1.0 / (1.0 + np.exp(1.4 - 0.6 * interest))
    counts[5] = rng.binomial(counts[4], np.minimum(p_click * shift.get("email_clicks", 1.0), 1.0))
    logit_demo = -3.3 + 1.1 * interest + 0.5 * senior + 0.4 * large - 1.2 * student
    p_demo = 1.0 / (1.0 + np.exp(-logit_demo))
    counts[6] = rng.random(n) < np.minimum(p_demo * shift.get("demo_requested", 1.0), 1.0)

    # each lead's activity decays after creation with its own time scale (in days)
    tau = 2.5 * np.exp(0.6 * interest + rng.normal(0.0, 0.5, n))
    lead_of = np.repeat(np.tile(np.arange(n), 7), counts.ravel())
    horizon = float(ENGAGEMENT_HORIZON_DAYS)
    tau_e = tau[lead_of]
    u = rng.random(lead_of.size)
    offset_days = -tau_e * np.log1p(-u * -np.expm1(-horizon / tau_e))
    offset_s = np.minimum(np.floor(offset_days * _DAY), horizon * _DAY - 1).astype(np.int64)
    return counts, lead_of, offset_s


def _aggregate(
    n: int, counts: np.ndarray, lead_of: np.ndarray, offset_s: np.ndarray
) -> dict[str, np.ndarray]:
    """The engagement columns, computed from the events."""
    eng = {name: counts[k] for k, name in enumerate(SHIFTABLE_FEATURES)}
    horizon_s = ENGAGEMENT_HORIZON_DAYS * _DAY
    flat = counts.ravel()
    has = flat > 0
    per_type_last = np.zeros(flat.size, dtype=np.int64)  # no events: last activity = creation
    if has.any():
        starts = np.cumsum(flat) - flat
        per_type_last[has] = np.maximum.reduceat(offset_s, starts[has])
    last = per_type_last.reshape(counts.shape).max(axis=0)
    eng["days_since_last_activity"] = (horizon_s - last) / float(_DAY)
    page_view = np.arange(lead_of.size) < counts[0].sum()
    recent = page_view & (offset_s >= (ENGAGEMENT_HORIZON_DAYS - 7) * _DAY)
    eng["visits_last_7d"] = np.bincount(lead_of[recent], minlength=n).astype(np.int64)
    return eng


def _true_probability(
    fit: dict[str, np.ndarray], eng: dict[str, np.ndarray], t: np.ndarray, log_scale: float
) -> np.ndarray:
    # B2B as sales sees it: who the lead is (the ideal customer profile) weighs most;
    # pricing-page visits and demo requests count when the buyer can buy (senior, larger
    # company) and when they are recent; ebooks and webinars, which the classic points
    # reward, carry almost nothing once fit and intent are known (low-intent channels
    # such as content syndication produce most downloads).
    sen, size = fit["seniority"], fit["company_size"]
    senior, student, large = sen <= 2, sen == 5, size >= 3
    logit = (
        _INTERCEPT
        + _DRIFT_LOGIT * t
        + log_scale
        + _FIT_WEIGHT
        * (
            _SENIORITY_EFFECT[sen]
            + _DEPARTMENT_EFFECT[fit["department"]]
            + _SIZE_EFFECT[size]
            + _INDUSTRY_EFFECT[fit["industry"]]
            + _COUNTRY_EFFECT[fit["country"]]
            + _SOURCE_EFFECT[fit["lead_source"]]
        )
    )
    recency = np.exp(-eng["days_since_last_activity"] / 3.0)
    w_pricing = np.where(student, 0.0, 0.2 + 0.9 * large + 0.6 * senior)
    w_demo = np.where(student, 0.1, np.where(size <= 1, 0.5, 1.9))
    logit = logit + (
        0.2 * np.log1p(eng["page_views"])
        + w_pricing * np.log1p(eng["pricing_page_visits"])
        - 0.3 * np.log1p(eng["content_downloads"])
        + 0.1 * np.log1p(eng["email_clicks"])
        + w_demo * eng["demo_requested"] * (0.1 + 0.9 * recency)
        + 3.5 * recency
        + 0.2 * np.log1p(eng["visits_last_7d"])
    )
    return 1.0 / (1.0 + np.exp(-logit))


def _draw_disposition(rng: np.random.Generator, converted: np.ndarray) -> pd.Series:
    n = converted.size
    filled = rng.random(n) < np.where(converted == 1, 0.97, 0.02)
    won = rng.integers(0, len(_DISPOSITIONS_WON), n)
    codes = np.where(converted == 1, won, len(_DISPOSITIONS_WON))
    return _strings(np.where(filled, codes, -1), [*_DISPOSITIONS_WON, "No response"])


def _strings(codes: np.ndarray, labels: list[str]) -> pd.Series:
    """A pandas string column from integer codes (-1 for missing), built in Arrow."""
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(labels)).cast(pa.string()).to_pandas()


def _lead_ids(n: int) -> pa.Array:
    """``L0000001``, ``L0000002``, ... (wider past 9,999,999 leads)."""
    digits = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
    return pc.binary_join_element_wise("L", pc.utf8_lpad(digits, max(7, len(str(n))), "0"), "")


def _leads_frame(
    ids: pa.Array,
    created_us: np.ndarray,
    fit: dict[str, np.ndarray],
    eng: dict[str, np.ndarray],
    converted: np.ndarray,
) -> pd.DataFrame:
    labels = {
        "job_title": _TITLE_LABELS,
        "seniority": _SENIORITIES,
        "department": _DEPARTMENTS,
        "company_size": _SIZES,
        "industry": _INDUSTRIES,
        "country": _COUNTRIES,
        "lead_source": _SOURCES,
    }
    columns: dict[str, object] = {
        ID_COLUMN: ids.to_pandas(),
        TIME_COLUMN: created_us.astype("datetime64[us]"),
    }
    for col in FIT_COLUMNS:
        codes = fit[col]
        if col in _MISSING:
            codes = np.where(fit[f"{col}_missing"], -1, codes)
        columns[col] = _strings(codes, labels[col])
    for col in ENGAGEMENT_COLUMNS:
        columns[col] = eng[col].astype(
            np.float64 if col == "days_since_last_activity" else np.int64
        )
    columns[LABEL_COLUMN] = converted
    return pd.DataFrame(columns)


def _events_frame(
    ids: pa.Array,
    created_us: np.ndarray,
    counts: np.ndarray,
    lead_of: np.ndarray,
    offset_s: np.ndarray,
) -> pd.DataFrame:
    event_code = np.repeat(np.arange(7), counts.sum(axis=1))
    timestamp = created_us[lead_of] + offset_s * _US
    order = np.argsort(timestamp, kind="stable")
    lead_of = lead_of[order]
    lead_col = pa.DictionaryArray.from_arrays(pa.array(lead_of.astype(np.int32)), ids)
    return pd.DataFrame(
        {
            ID_COLUMN: lead_col.cast(pa.string()).to_pandas(),
            "timestamp": timestamp[order].astype("datetime64[us]"),
            "event_type": _strings(event_code[order], EVENT_TYPES),
            "value": np.ones(lead_of.size),
        }
    )
