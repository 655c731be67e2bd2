"""Accounts from lead scores: the chance that at least one of an account's leads converts.

B2B teams qualify accounts (companies) as well as leads. With ``columns.account`` naming
the account id, the scored leads roll up to one row per account, most likely first:

=========================  =============================================================
``expected_conversions``   the sum of its leads' probabilities: how many of its leads
                           are expected to convert (never saturates)
``probability``            P(at least one of its leads converts): the account
                           calibration's when the bundle has one, else
                           ``1 - prod(1 - p)``
``leads``, ``mqls``        its leads, and how many are MQLs
``best_lead``              the id of its most likely lead, and ``best_probability``
``top_reasons``            the columns that push its leads up most (summed over its
                           leads' reasons), ``col (+1.62, 2 leads)``
``method``                 how ``probability`` was computed (see below)
=========================  =============================================================

Under independence (the leads of an account convert independently given their scores)
``1 - prod(1 - p)`` is exact, and it nears 1 (0.9999...) for an account of many likely
leads, where it no longer tells accounts apart: read ``expected_conversions`` there (the
summary counts those accounts, ``near_certain``). Leads of one buying group are rarely
independent: when
the training history holds an account-level outcome (``columns.account_label``), the
training job fits an account calibration on it (a sigmoid of the log-odds of the
independence formula, :class:`AccountCalibration`), judged on the test part, and the
bundle applies it; ``method`` then reads ``calibrated``. Otherwise ``method`` states the
independence assumption.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mqlml.errors import ConfigError, MissingColumnError

__all__ = [
    "ACCOUNT_COLUMNS",
    "INDEPENDENT",
    "NEAR_CERTAIN",
    "AccountCalibration",
    "AccountRollup",
    "account_evaluation",
    "account_scores",
    "account_table",
    "any_converts",
    "score_accounts_file",
]

#: The output columns after the account id.
ACCOUNT_COLUMNS = (
    "expected_conversions",
    "probability",
    "leads",
    "mqls",
    "best_lead",
    "best_probability",
    "top_reasons",
    "method",
)
#: ``method`` under the independence assumption.
INDEPENDENT = "independent leads: 1 - prod(1 - p)"
#: An account probability at least this high says little more than "some lead will".
NEAR_CERTAIN = 0.999
_REASON = re.compile(r"^(?P<column>[^=]+)=.*\((?P<value>[+-]\d+(?:\.\d+)?)\)$")
_EPS = 1e-12


def any_converts(probabilities: Any, accounts: Any) -> tuple[np.ndarray, pd.Index]:
    """``1 - prod(1 - p)`` per account (log-space, exact for many leads), and the accounts.

    Examples
    --------
    >>> p, names = any_converts([0.5, 0.5, 0.2], ["a", "a", "b"])
    >>> p.round(6).tolist(), names.tolist()
    ([0.75, 0.2], ['a', 'b'])
    """
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0)
    codes, names = pd.factorize(pd.Series(accounts, dtype=object), sort=True)
    keep = codes >= 0
    log_none = np.bincount(codes[keep], weights=np.log1p(-np.minimum(p[keep], 1 - _EPS)))
    return -np.expm1(log_none), pd.Index(names)


@dataclass(frozen=True)
class AccountCalibration:
    """The map from the independence formula to an account's observed chance of converting.

    ``p_account = 1 / (1 + exp(-(a * logit(q) + b)))`` where ``q = 1 - prod(1 - p)``;
    ``a = 1, b = 0`` is independence. Fitted by :meth:`fit` on the accounts of one part.

    Attributes
    ----------
    a, b : float
        Slope and intercept on the log-odds of ``q``.
    n_accounts, n_converted : int
        The accounts it was fitted on, and how many converted.
    """

    a: float
    b: float
    n_accounts: int
    n_converted: int

    @classmethod
    def fit(cls, q: Any, converted: Any) -> AccountCalibration:
        """Fit on accounts' independence probabilities ``q`` and their 0/1 outcomes.

        Raises
        ------
        ConfigError
            With fewer than 10 converted and 10 unconverted accounts.
        """
        from sklearn.linear_model import LogisticRegression

        q = np.asarray(q, dtype=np.float64)
        y = np.asarray(converted, dtype=np.int64)
        k = int(y.sum())
        if min(k, y.size - k) < 10:
            raise ConfigError(
                f"an account calibration must have at least 10 converted and 10 unconverted "
                f"accounts; got {k} of {y.size}. Add history, or unset columns.account_label "
                "to score accounts under the independence assumption."
            )
        x = _logit(q)[:, None]
        model = LogisticRegression(C=1e6).fit(x, y)
        return cls(float(model.coef_[0, 0]), float(model.intercept_[0]), int(y.size), k)

    def __call__(self, q: Any) -> np.ndarray:
        """Calibrated account probabilities."""
        z = self.a * _logit(np.asarray(q, dtype=np.float64)) + self.b
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "a": self.a,
            "b": self.b,
            "n_accounts": self.n_accounts,
            "n_converted": self.n_converted,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccountCalibration:
        """Inverse of :meth:`to_dict`."""
        return cls(
            float(data["a"]), float(data["b"]), int(data["n_accounts"]), int(data["n_converted"])
        )


def _account_outcomes(p: np.ndarray, accounts: np.ndarray, labels: np.ndarray):
    """Per account of one part: the independence probability and the outcome (max label)."""
    values = pd.Series(accounts, dtype=object)
    keep = (values.notna() & (values.astype(str).str.strip() != "")).to_numpy()
    codes, _ = pd.factorize(values[keep], sort=True)
    q, _ = any_converts(p[keep], codes)
    y = np.zeros(q.size, dtype=np.int64)
    np.maximum.at(y, codes, np.asarray(labels)[keep].astype(np.int64))
    return q, y


def _judged(q: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    from mqlml.metrics._rates import rate_interval

    k = int(y.sum())
    top = q >= np.quantile(q, 0.9) if q.size else q.astype(bool)
    return {
        "accounts": int(q.size),
        "converted": k,
        "rate": k / q.size if q.size else None,
        "interval": None if not q.size else list(rate_interval(k, q.size)),
        "mean_probability": float(q.mean()) if q.size else None,
        "brier": float(np.mean((q - y) ** 2)) if q.size else None,
        "top_decile_rate": float(y[top].mean()) if top.any() else None,
        "top_decile_probability": float(q[top].mean()) if top.any() else None,
    }


def account_evaluation(
    fit_p: np.ndarray,
    fit_accounts: np.ndarray,
    fit_labels: np.ndarray,
    test_p: np.ndarray,
    test_accounts: np.ndarray,
    test_labels: np.ndarray,
    *,
    calibrate: bool,
) -> tuple[AccountCalibration | None, dict[str, Any]]:
    """Fit an account calibration on one part (when ``calibrate``), judge both on another.

    An account's outcome in a part is the highest label of its leads there: any lead
    converted (lead outcomes), or the account-level outcome (``columns.account_label``).

    Returns
    -------
    (AccountCalibration or None, dict)
        The calibration, and ``independent`` (and ``calibrated``) judged on the test
        part's accounts: accounts, converted, rate with its exact interval, mean
        probability, Brier score and the top decile's rate and probability.
    """
    q_test, y_test = _account_outcomes(test_p, test_accounts, test_labels)
    report: dict[str, Any] = {"method": INDEPENDENT, "independent": _judged(q_test, y_test)}
    calibration = None
    if calibrate:
        q_fit, y_fit = _account_outcomes(fit_p, fit_accounts, fit_labels)
        calibration = AccountCalibration.fit(q_fit, y_fit)
        report["method"] = "calibrated on account outcomes"
        report["calibrated"] = _judged(calibration(q_test), y_test)
        report["calibration"] = calibration.to_dict()
    return calibration, report


def _logit(q: np.ndarray) -> np.ndarray:
    q = np.clip(q, 1e-9, 1 - 1e-9)
    return np.log(q / (1 - q))


def _top_reasons(texts: pd.Series, accounts: np.ndarray, n_accounts: int, top: int) -> list:
    """Per account: the columns whose reasons add up highest over its leads."""
    totals: list[dict[str, list[float]]] = [{} for _ in range(n_accounts)]
    for account, text in zip(accounts, texts.to_numpy(dtype=object), strict=True):
        if account < 0 or not isinstance(text, str) or not text:
            continue
        for item in text.split("; "):
            match = _REASON.match(item.strip())
            if match:
                entry = totals[account].setdefault(match["column"], [0.0, 0])
                entry[0] += float(match["value"])
                entry[1] += 1
    out = []
    for found in totals:
        ranked = sorted(found.items(), key=lambda kv: (-kv[1][0], kv[0]))[:top]
        out.append(
            "; ".join(
                f"{col} ({v:+.2f}, {int(m)} lead{'s' if m != 1 else ''})" for col, (v, m) in ranked
            )
        )
    return out


def account_scores(
    scored: pd.DataFrame,
    accounts: Any,
    *,
    account_column: str = "account",
    id_column: str | None = None,
    calibration: AccountCalibration | None = None,
    top: int = 3,
) -> pd.DataFrame:
    """Roll scored leads up to one row per account.

    Parameters
    ----------
    scored : pandas.DataFrame
        Scored leads (mqlml.scoring): their id (first column unless ``id_column``),
        ``probability`` and ``is_mql``, and ``reasons_for`` when present.
    accounts : array-like
        The account id of each lead; leads without one belong to no account.
    account_column : str
        The name of the account id column in the output.
    id_column : str, optional
        The lead id column of ``scored`` (default: its first column).
    calibration : AccountCalibration, optional
        Fitted on account outcomes; without it the independence formula is used.
    top : int
        Reasons per account.

    Returns
    -------
    pandas.DataFrame
        The account id, then :data:`ACCOUNT_COLUMNS`, most likely account first (ties,
        as among accounts whose probability nears 1, by expected conversions). Exact
        floats; :func:`account_table` rounds them as written.

    Raises
    ------
    MissingColumnError
        When ``scored`` lacks ``probability`` or ``is_mql``.

    Examples
    --------
    >>> leads = pd.DataFrame({"lead_id": ["L1", "L2", "L3"], "probability": [0.5, 0.5, 0.2],
    ...                       "is_mql": [True, False, False]})
    >>> out = account_scores(leads, ["A", "A", "B"])
    >>> out[["account", "expected_conversions", "probability", "best_lead"]].values.tolist()
    [['A', 1.0, 0.75, 'L1'], ['B', 0.2, 0.2, 'L3']]
    """
    absent = [c for c in ("probability", "is_mql") if c not in scored.columns]
    if absent:
        raise MissingColumnError(
            f"scored leads must have the columns probability and is_mql; missing {absent}. "
            "Pass the output of mqlml.scoring.score_frame or score_file."
        )
    if len(accounts) != len(scored):
        raise ValueError(
            f"accounts must hold one id per scored lead; got {len(accounts)} for "
            f"{len(scored)} leads."
        )
    ids = scored[id_column or scored.columns[0]].to_numpy(dtype=object)
    p = scored["probability"].to_numpy(dtype=np.float64)
    mql = scored["is_mql"].to_numpy(dtype=bool)
    values = pd.Series(accounts, dtype=object).to_numpy()
    text = pd.Series(values, dtype=object)
    blank = text.isna() | (text.astype(str).str.strip() == "")
    values = np.where(blank.to_numpy(), None, values)
    codes, names = pd.factorize(pd.Series(values, dtype=object), sort=True)
    m = len(names)
    keep = codes >= 0
    q, _ = any_converts(p[keep], codes[keep])
    q_full = np.zeros(m)
    present = np.unique(codes[keep])
    q_full[present] = q
    # the most likely lead of each account (first in file order among ties)
    order = np.lexsort((np.arange(p.size), -p, codes))
    order = order[codes[order] >= 0]
    first = order[np.r_[True, codes[order][1:] != codes[order][:-1]]] if order.size else order
    best = np.empty(m, dtype=object)
    best_p = np.zeros(m)
    best[codes[first]] = ids[first]
    best_p[codes[first]] = p[first]
    reasons = (
        _top_reasons(scored["reasons_for"], codes, m, top)
        if "reasons_for" in scored.columns
        else [""] * m
    )
    out = pd.DataFrame(
        {
            account_column: np.asarray(names, dtype=object),
            "expected_conversions": np.bincount(codes[keep], weights=p[keep], minlength=m),
            "probability": q_full if calibration is None else calibration(q_full),
            "leads": np.bincount(codes[keep], minlength=m),
            "mqls": np.bincount(codes[keep], weights=mql[keep].astype(float), minlength=m).astype(
                np.int64
            ),
            "best_lead": best,
            "best_probability": best_p,
            "top_reasons": reasons,
            "method": INDEPENDENT if calibration is None else "calibrated on account outcomes",
        }
    )
    out = out.sort_values(
        ["probability", "expected_conversions", account_column],
        ascending=[False, False, True],
        kind="stable",
    )
    return out.reset_index(drop=True)


def check_accounts(accounts: Sequence[str] | None, column: str | None) -> str:
    """The account column of a bundle's config, or a ConfigError that says how to set it."""
    if not column:
        raise ConfigError(
            "columns.account must name the account (company) id column to score accounts; got "
            "none in the model's config. Set columns.account in the project config and retrain."
        )
    if accounts is not None and column not in accounts:
        raise MissingColumnError(
            f"the leads must have the account column {column!r} (columns.account) to score "
            f"accounts; it is not among {list(accounts)[:8]}. Add it to the input."
        )
    return column


def _read_columns(source: Any, columns: list[str]) -> pd.DataFrame:
    """Whole columns of an open :class:`mqlml.io.LeadFile`, CSV text kept as text."""
    import pyarrow as pa

    text = {c: pa.string() for c in columns} if source.format == "csv" else None
    tables = [
        pa.Table.from_batches([b]) for b in source.batches(columns=columns, column_types=text)
    ]
    if not tables:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pa.concat_tables(tables).to_pandas()


def account_table(
    bundle: Any, scored: pd.DataFrame, accounts: Any, column: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The accounts of scored leads with the bundle's account calibration, and a summary.

    Returns
    -------
    (pandas.DataFrame, dict)
        :func:`account_scores` of ``scored`` rounded as written (probabilities and
        expected conversions to 6 significant digits, as the leads' probabilities), and
        ``accounts``, ``leads_without_account``, ``method`` and ``near_certain`` (accounts
        whose probability is 0.999 or more: there ``expected_conversions`` tells them
        apart) (what ``mqlml score --accounts`` reports).
    """
    from mqlml.model._points import written_probability

    calibration = (bundle.metadata.get("accounts") or {}).get("calibration")
    calibration = None if calibration is None else AccountCalibration.from_dict(calibration)
    values = pd.Series(np.asarray(accounts, dtype=object), dtype=object)
    id_name = bundle.schema.id_name
    table = account_scores(
        scored,
        values.to_numpy(),
        account_column=column,
        id_column=id_name if id_name in scored.columns else None,
        calibration=calibration,
    )
    blank = values.isna() | (values.astype(str).str.strip() == "")
    near = int((table["probability"] >= NEAR_CERTAIN).sum())
    for name in ("expected_conversions", "probability", "best_probability"):
        table[name] = written_probability(table[name].to_numpy(dtype=np.float64))
    return table, {
        "accounts": len(table),
        "leads_without_account": int(blank.sum()),
        "method": table["method"].iloc[0] if len(table) else INDEPENDENT,
        "near_certain": near,
    }


class AccountRollup:
    """What the account roll-up needs, collected batch by batch while a file is scored.

    :func:`mqlml.scoring.score_file` with ``accounts`` adds each scored batch and, once
    every lead is scored, writes the accounts beside the scores (both renamed in
    together), so the scores are never read back.

    Parameters
    ----------
    bundle : Bundle
        The bundle that scores (its ``columns.account`` and account calibration).
    names : sequence of str
        The input's column names (the account column must be among them).

    Raises
    ------
    ConfigError
        When the bundle's config names no ``columns.account``.
    MissingColumnError
        When the input lacks the account column.
    """

    def __init__(self, bundle: Any, names: Sequence[str]) -> None:
        self.bundle = bundle
        self.column = check_accounts(names, (bundle.config.get("columns") or {}).get("account"))
        self.parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("id", "probability", "is_mql", "reasons_for", "account")
        }

    def add(self, out: dict[str, Any], batch: Any, id_name: str, offset: int) -> None:
        """Keep one scored batch's ids, probabilities, MQL flags, reasons and accounts."""
        n = batch.num_rows
        ids = out.get(id_name)
        self.parts["id"].append(
            np.arange(offset + 1, offset + n + 1) if ids is None else _values(ids)
        )
        for name in ("probability", "is_mql"):
            self.parts[name].append(_values(out[name]))
        reasons = out.get("reasons_for")
        self.parts["reasons_for"].append(
            np.full(n, "", dtype=object) if reasons is None else _values(reasons)
        )
        column = batch.column(self.column).to_pandas()
        self.parts["account"].append(column.to_numpy(dtype=object))

    def write(self, path: Any, target: Any, csv_formulas: str = "escape") -> dict[str, Any]:
        """Write the accounts to ``path`` in the format of ``target``; their summary."""
        import pyarrow as pa

        from mqlml.io._atomic import file_error
        from mqlml.io._readers import detect_format
        from mqlml.io._writers import write_table

        whole = {k: np.concatenate(v) if v else np.array([]) for k, v in self.parts.items()}
        scored = pd.DataFrame(
            {
                self.bundle.schema.id_name: whole["id"],
                "probability": whole["probability"].astype(np.float64),
                "is_mql": whole["is_mql"].astype(bool),
                "reasons_for": pd.Series(whole["reasons_for"], dtype=object).fillna(""),
            }
        )
        table, done = account_table(self.bundle, scored, whole["account"], self.column)
        arrow = pa.Table.from_pandas(table, preserve_index=False)
        try:
            write_table(arrow, path, detect_format(target), target, csv_formulas)
        except OSError as exc:
            raise file_error(exc, target) from None
        return done


def _values(values: Any) -> np.ndarray:
    """A column of a scored batch (numpy or Arrow) as a numpy array."""
    import pyarrow as pa

    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values.to_numpy(zero_copy_only=False)
    return np.asarray(values)


def score_accounts_file(
    bundle: Any,
    input: Any,
    scores: Any,
    output: Any,
    *,
    delimiter: str = "auto",
    encoding: str = "utf-8",
    csv_formulas: str = "escape",
) -> dict[str, Any]:
    """Write one row per account from a leads file and its scores file.

    ``mqlml score --accounts`` does not read its scores back: it rolls the leads up
    while scoring (:func:`mqlml.scoring.score_file` with ``accounts``), and writes both
    files together. This is for scores written earlier; their cells are read as written
    (an id a CSV wrote as ``'=1`` stays so).

    Parameters
    ----------
    bundle : Bundle
        The bundle that scored the leads (its ``columns.account`` and any account
        calibration are used).
    input : path
        The leads file that was scored (its account column is read).
    scores : path
        The scores ``mqlml score`` wrote for it, row for row.
    output : path
        The accounts file (.csv, .csv.gz or .parquet); it appears whole or not at all.
    delimiter, encoding : str
        CSV options of ``input``.
    csv_formulas : {"escape", "keep"}
        A CSV output's cells that a spreadsheet would run as formulas (:mod:`mqlml.io`).

    Returns
    -------
    dict
        ``accounts``, ``leads_without_account``, ``method`` and ``output``.

    Raises
    ------
    ConfigError
        When the bundle's config names no ``columns.account``, or ``csv_formulas`` is
        not one of its values.
    MissingColumnError
        When the input lacks the account column.
    DataError
        When the scores do not line up with the input (row counts differ), or the
        output would overwrite the input, the scores or a bundle (see
        :func:`mqlml.io.check_destination`).
    """
    import pyarrow as pa

    from mqlml.errors import DataError
    from mqlml.io._atomic import atomic_output, check_destination
    from mqlml.io._formulas import check_csv_formulas
    from mqlml.io._readers import LeadFile, detect_format
    from mqlml.io._writers import write_table

    input, scores, output = Path(input), Path(scores), Path(output)
    check_csv_formulas(csv_formulas)
    check_destination(
        output, {"input": input, "scores": scores, "model": bundle.path}, name="--accounts"
    )
    fmt = detect_format(output)
    config = bundle.config.get("columns") or {}
    with LeadFile(input, delimiter=delimiter, encoding=encoding) as source:
        column = check_accounts(source.names, config.get("account"))
        accounts = _read_columns(source, [column])[column]
    id_name = bundle.schema.id_name
    with LeadFile(scores, delimiter=",") as source:
        scored = _read_columns(source, [id_name, "probability", "is_mql", "reasons_for"])
    if len(scored) != len(accounts):
        raise DataError(
            f"the scores must have one row per lead of the input; got {len(scored):,} rows in "
            f"{str(scores)!r} for {len(accounts):,} in {str(input)!r}. Score the input again."
        )
    scored["probability"] = pd.to_numeric(scored["probability"])
    scored["is_mql"] = scored["is_mql"].astype(str).str.lower().isin(["true", "1"])
    scored["reasons_for"] = scored["reasons_for"].fillna("")
    table, done = account_table(bundle, scored, accounts, column)
    with atomic_output(output) as tmp:
        arrow = pa.Table.from_pandas(table, preserve_index=False)
        write_table(arrow, tmp, fmt, output, csv_formulas)
    return {**done, "output": str(output)}
