"""A bundle in service: monitoring new leads and recalibrating on recent outcomes."""

from mqlml.monitoring._champion import ChampionComparison, compare_champion, trained_until
from mqlml.monitoring._early import (
    INVISIBLE,
    ages_as_of,
    delay_of,
    early_check,
    unlabelled_estimate,
)
from mqlml.monitoring._monitor import (
    AUC_TOLERANCE,
    LEVEL_OF,
    LEVELS,
    MIN_LEADS,
    MIN_OUTCOME_MQLS,
    RATE_TOLERANCE,
    SHARE_TOLERANCE,
    SQL_POSITIVE,
    MonitorReport,
    monitor,
)
from mqlml.monitoring._recalibrate import check_out, recalibrate

__all__ = [
    "AUC_TOLERANCE",
    "INVISIBLE",
    "LEVELS",
    "LEVEL_OF",
    "MIN_LEADS",
    "MIN_OUTCOME_MQLS",
    "RATE_TOLERANCE",
    "SHARE_TOLERANCE",
    "SQL_POSITIVE",
    "ChampionComparison",
    "MonitorReport",
    "ages_as_of",
    "check_out",
    "compare_champion",
    "delay_of",
    "early_check",
    "monitor",
    "recalibrate",
    "trained_until",
    "unlabelled_estimate",
]
