"""A starter project config from a lead table (``mqlml init``), each choice explained.

:func:`starter_config` reads a lead table and proposes the id, creation-time and outcome
columns (by name and by content: an id is unique per row, a time holds dates, an outcome
has two values), splits the other columns into fit features (who the lead is) and
engagement features (what the lead did), and excludes what must not be learned from:
the columns :func:`mqlml.leads.check_leads` flags as a leak or as probably written after
the outcome (every finding whose code starts with ``leak``), id-like columns, other dates,
and constant columns, each with its reason. The YAML it writes says why next to every choice,
so a user reviews a config instead of writing one; ``mqlml check`` and ``mqlml train``
run on it as it is.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mqlml.config._config import ProjectConfig
from mqlml.config._sections import DEFAULT_MISSING_TOKENS
from mqlml.errors import ConfigError
from mqlml.io._readers import read_table
from mqlml.leads._checks import check_leads, is_date_like
from mqlml.leads._schema import LeadSchema

__all__ = ["StarterConfig", "starter_config"]

_LABEL_WORDS = ("converted", "conversion", "convert", "label", "target", "outcome", "won", "y")
_ID_WORDS = ("id", "number", "key", "uuid", "email")
_TIME_WORDS = ("created", "creation", "date", "time", "timestamp", "at", "day")
# Words of column names that count what a lead did (engagement), not who it is (fit).
_ENGAGEMENT_WORDS = frozenset(
    "visit visits view views page pages download downloads webinar webinars email emails "
    "click clicks open opens demo activity activities session sessions spent recency last "
    "days since event events call calls contact contacts campaign previous pdays trial "
    "signup login logins attended requested form forms chat chats".split()
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_TRUE = {"1", "yes", "true", "y", "t"}
_FALSE = {"0", "no", "false", "n", "f"}
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*( [A-Za-z0-9_.\-]+)*")
# Form placeholders that mean "not chosen" when they appear in several text columns.
_PLACEHOLDERS = ("Select", "-- select --", "--", "(not set)", "not provided")
_YAML_WORDS = {"yes", "no", "true", "false", "on", "off", "null", "y", "n", "infer", "~"}


def _words(name: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(name)]


def _q(text: str) -> str:
    """A YAML scalar for a column name: plain when safe, else double-quoted."""
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text)


def _binary(values: pd.Series) -> bool:
    distinct = values.dropna().unique()[:3]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return len(distinct) == 2 and set(distinct.tolist()) <= {0, 1}
    seen = {str(v).strip().lower() for v in distinct}
    return len(seen) == 2 and seen <= (_TRUE | _FALSE)


@dataclass
class StarterConfig:
    """A proposed config: the choices, why each was made, and the YAML text.

    Attributes
    ----------
    data : Path
        The lead table.
    id, time, label, converted_at : str or None
        The column roles chosen.
    fit, engagement : list of str
        The feature groups.
    exclude : dict of str to str
        Excluded columns and why.
    why : dict of str to str
        Why each column got its role (a YAML comment next to it).
    strong : dict of str to str
        Features kept that must be confirmed as known before the outcome.
    """

    data: Path
    label: str
    id: str | None = None
    time: str | None = None
    converted_at: str | None = None
    fit: list[str] = field(default_factory=list)
    engagement: list[str] = field(default_factory=list)
    exclude: dict[str, str] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)
    strong: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    conversions: int = 0
    placeholders: dict[str, list[str]] = field(default_factory=dict)

    def to_yaml(self, config_path: str | Path) -> str:
        """The config as YAML with a comment on every choice, paths relative to ``config_path``.

        Parameters
        ----------
        config_path : str or Path
            Where the config will be written (``data.path`` is written relative to it).

        Returns
        -------
        str
        """
        folder = Path(os.path.abspath(config_path)).parent
        data = Path(os.path.abspath(self.data))
        relative = Path(os.path.relpath(data, folder))
        if not relative.as_posix().startswith("../../"):
            data = relative  # beside or near the config: keep the pair movable
        rate = self.conversions / self.rows if self.rows else 0.0
        lines = [
            f"# Starter config written by `mqlml init` from {self.data.name}: {self.rows:,} "
            f"leads, {self.conversions:,} converted ({rate:.1%}).",
            "# Every choice below is a proposal with its reason: review it, then run",
            "# `mqlml check --config THIS` and `mqlml train --config THIS`.",
            "# Every key is described in docs/config.md.",
            "data:",
            f"  path: {_q(data.as_posix())}",
            "columns:",
        ]

        def role(key: str, name: str | None) -> None:
            if name is not None:
                lines.append(f"  {key}: {_q(name)}  # {self.why[name]}")

        role("id", self.id)
        role("time", self.time)
        role("label", self.label)
        role("converted_at", self.converted_at)
        if self.id is None:
            lines.append("  # no id column found: the row number is the lead id")
        if self.time is None:
            lines.append("  # no creation-time column found: the split is random and stratified")
        if self.placeholders:
            tokens = [*DEFAULT_MISSING_TOKENS, *self.placeholders]
            seen = "; ".join(
                f"{token!r} in {', '.join(cols[:3])}{' and more' if len(cols) > 3 else ''}"
                for token, cols in self.placeholders.items()
            )
            lines.append(f"# a form's 'not chosen' read as missing: {seen}")
            lines.append(f"missing_tokens: {json.dumps(tokens)}")
        lines += ["features:"]
        for group, names, what in (
            ("fit", self.fit, "who the lead is"),
            ("engagement", self.engagement, "what the lead did"),
        ):
            if not names:
                lines.append(f"  {group}: []  # no column looks like {what}")
                continue
            lines.append(f"  {group}:  # {what}")
            for name in names:
                note = self.why[name]
                if name in self.strong:
                    note += f"; CONFIRM: {self.strong[name]}"
                lines.append(f"    - {_q(name)}  # {note}")
        if self.exclude:
            lines.append("exclude:  # never used as features")
            for name, reason in self.exclude.items():
                lines.append(f"  - column: {_q(name)}")
                lines.append(f"    reason: {json.dumps(reason)}")
        split = (
            "by creation time"
            if self.time
            else "random, stratified by the outcome; write `order` if the rows are in time order"
        )
        lines += [
            "split:  # oldest 60 % train, next 20 % calibrate, newest 20 % test",
            f"  method: auto  # {split}",
            "threshold:",
            "  target_rate: 0.25  # the MQL-to-SQL rate sales agreed to; or capacity: 500/month",
        ]
        return "\n".join(lines) + "\n"


def _pick(candidates: list[str], words: tuple[str, ...]) -> str | None:
    def score(name: str) -> tuple[int, int]:
        found = [w for w in _words(name) if w in words]
        best = min((words.index(w) for w in found), default=len(words))
        return (0 if found else 1, best)

    ranked = sorted(candidates, key=score)
    return ranked[0] if ranked else None


def _choose_label(frame: pd.DataFrame, label: str | None) -> tuple[str, str]:
    if label is not None:
        if label not in frame.columns:
            raise ConfigError(
                f"--label must name a column of the data; got {label!r}, not among "
                f"{list(frame.columns)[:20]}. Give the outcome column."
            )
        return label, "the outcome, as given"
    binary = [c for c in frame.columns if _binary(frame[c])]
    named = [c for c in binary if any(w in _LABEL_WORDS for w in _words(c))]
    if not named:
        raise ConfigError(
            "the outcome column must be found; no two-valued column (0/1, yes/no, true/false) "
            f"has a name like {', '.join(_LABEL_WORDS[:5])} (two-valued columns: "
            f"{binary[:10] or 'none'}). Name it with --label COLUMN."
        )
    chosen = _pick(named, _LABEL_WORDS)
    return chosen, "the outcome: two values and an outcome-like name"


def _choose_id(frame: pd.DataFrame, given: str | None, taken: set[str]) -> tuple[str | None, str]:
    if given is not None:
        if given not in frame.columns:
            raise ConfigError(f"--id must name a column of the data; got {given!r}.")
        return given, "the lead id, as given"
    n = len(frame)
    unique = [
        c
        for c in frame.columns
        if c not in taken
        and frame[c].notna().all()
        and frame[c].nunique() == n
        and not pd.api.types.is_float_dtype(frame[c])
        and not is_date_like(frame[c])
    ]
    named = [c for c in unique if any(w in _ID_WORDS for w in _words(c))]
    chosen = _pick(named, _ID_WORDS) if named else None
    return chosen, "the lead id: unique in every row, an id-like name"


def _choose_time(
    frame: pd.DataFrame, given: str | None, taken: set[str]
) -> tuple[str | None, str | None, list[str]]:
    dates = [c for c in frame.columns if c not in taken and is_date_like(frame[c])]
    converted = [c for c in dates if "convert" in c.lower() or "converted" in _words(c)]
    if given is not None:
        if given not in frame.columns:
            raise ConfigError(f"--time must name a column of the data; got {given!r}.")
        time = given
    else:
        created = [c for c in dates if c not in converted]
        named = [c for c in created if any(w in _TIME_WORDS for w in _words(c))]
        time = _pick(named, _TIME_WORDS) if named else None
    converted_at = converted[0] if converted else None
    others = [c for c in dates if c not in {time, converted_at}]
    return time, converted_at, others


def starter_config(
    data: str | Path,
    *,
    label: str | None = None,
    id: str | None = None,
    time: str | None = None,
    delimiter: str = "auto",
    encoding: str = "utf-8",
) -> StarterConfig:
    """Propose a project config for a lead table.

    Parameters
    ----------
    data : str or Path
        The leads (CSV or Parquet).
    label, id, time : str, optional
        Column roles to use instead of finding them.
    delimiter, encoding : str
        How to read a CSV file.

    Returns
    -------
    StarterConfig
        Its :meth:`StarterConfig.to_yaml` is the config file.

    Raises
    ------
    ConfigError
        When no outcome column can be found (pass ``label``) or a given column is absent.
    DataError
        When the file cannot be read.

    Examples
    --------
    >>> from mqlml.leads import example_file
    >>> proposal = starter_config(example_file("sample_leads.csv"))
    >>> proposal.id, proposal.time, proposal.label
    ('lead_id', 'created_at', 'converted')
    >>> "pricing_page_visits" in proposal.engagement, "industry" in proposal.fit
    (True, True)
    """
    path = Path(data)
    frame = read_table(
        path, delimiter=delimiter, encoding=encoding, missing_tokens=DEFAULT_MISSING_TOKENS
    )
    placeholders = _placeholders(frame)
    if placeholders:
        tokens = [*DEFAULT_MISSING_TOKENS, *placeholders]
        frame = read_table(path, delimiter=delimiter, encoding=encoding, missing_tokens=tokens)
    label, label_why = _choose_label(frame, label)
    id_column, id_why = _choose_id(frame, id, {label})
    time_column, converted_at, other_dates = _choose_time(frame, time, {label, id_column})
    proposal = StarterConfig(data=path, label=label, id=id_column, time=time_column)
    proposal.converted_at = converted_at
    proposal.placeholders = placeholders
    proposal.why[label] = label_why
    if id_column is not None:
        proposal.why[id_column] = id_why
    if time_column is not None:
        proposal.why[time_column] = (
            "the creation time, as given" if time is not None else "the creation time: dates"
        )
    if converted_at is not None:
        proposal.why[converted_at] = "when the lead converted (never a feature)"
    for name in other_dates:
        proposal.exclude[name] = (
            "a date: as a feature it is a category new leads never repeat; give its age in "
            "days instead, if it is known when a lead is scored"
        )
    config = _provisional(proposal)
    report = check_leads(frame, config)
    kept_strong: dict[str, str] = {}
    for finding in report.findings:
        name = finding.column
        if name is None or name in proposal.exclude or name in proposal.why:
            continue
        if finding.code.startswith("leak") or finding.code in ("id-like", "constant"):
            proposal.exclude[name] = _reason(finding.code, finding.message)
        elif finding.code == "strong":
            kept_strong[name] = "strong alone; exclude it if it is filled in after contact"
    schema = LeadSchema.resolve(_provisional(proposal), frame)
    for name in schema.features:
        kind = schema.kinds[name]
        activity = [w for w in _words(name) if w in _ENGAGEMENT_WORDS]
        if activity:
            proposal.engagement.append(name)
            proposal.why[name] = f"{kind}, '{activity[0]}' in its name"
        else:
            proposal.fit.append(name)
            proposal.why[name] = kind + (
                ", no activity word in its name (move it to engagement if it counts what "
                "the lead did)"
                if kind != "categorical"
                else ""
            )
    proposal.strong = {k: v for k, v in kept_strong.items() if k in schema.features}
    labels = schema.labels(frame)
    proposal.rows, proposal.conversions = len(frame), int(labels.sum())
    return proposal


def _placeholders(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Placeholder values ("Select") found in at least two text columns, and where."""
    found: dict[str, list[str]] = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        present = set(values.dropna().astype(str).unique()[:1000])
        for token in _PLACEHOLDERS:
            if token in present:
                found.setdefault(token, []).append(str(name))
    return {token: cols for token, cols in found.items() if len(cols) >= 2}


def _provisional(proposal: StarterConfig) -> ProjectConfig:
    tokens = [*DEFAULT_MISSING_TOKENS, *proposal.placeholders]
    return ProjectConfig(
        missing_tokens=tokens,
        data={"path": str(proposal.data)},
        columns={
            "id": proposal.id,
            "label": proposal.label,
            "time": proposal.time,
            "converted_at": proposal.converted_at,
        },
        exclude=[{"column": c, "reason": r} for c, r in proposal.exclude.items()],
    )


def _reason(code: str, message: str) -> str:
    """A short reason for an exclusion, from the check's finding."""
    if code == "leak-auc":
        auc = re.search(r"ROC AUC (\d\.\d+)", message)
        return (
            f"leak suspect: ranks converted leads with ROC AUC {auc.group(1) if auc else '?'} "
            "alone, probably written after the outcome"
        )
    if code == "leak-filled":
        return "leak suspect: filled in almost only for converted leads"
    if code == "leak-name":
        word = re.search(r"the word (.+?) in its name, typical of (.+?)(\.|\s\(|$)", message)
        if word is None:
            return "leak suspect: its name is typical of fields sales fill in after contact"
        return f"leak suspect: {word.group(1)} in its name, typical of {word.group(2)}"
    if code == "leak-latest":
        word = re.search(r"\(the word ('.+?')\)", message)
        return (
            f"leak suspect: {word.group(1) if word else 'its name'} in its name: the lead's "
            "latest event as of the extract, for a converted lead usually after its conversion"
        )
    if code == "leak-partly-filled":
        found = re.search(r"for (.+?) of leads, who convert at (.+?) against (.+?) for", message)
        if found is None:
            return "leak suspect: filled in for the leads sales worked, probably after contact"
        share, rate_in, rate_out = found.groups()
        return (
            f"leak suspect: filled in for {share} of leads, who convert at {rate_in} against "
            f"{rate_out} for the rest: probably filled in by sales after contact"
        )
    if code == "id-like":
        return "an identifier: unique per row, it cannot generalise"
    return "a single value: it carries no information"
