"""Points rules: the rule-based baseline, rules as SQL, and the model-derived scorecard."""

from mqlml.rules._baseline import (
    Decay,
    PointsBaseline,
    Rule,
    RuleSet,
    Window,
    condition_text,
    load_rules,
    parse_rules,
)
from mqlml.rules._fidelity import (
    SCORECARD_FORMAT,
    fidelity,
    fidelity_markdown,
    report_section,
    report_tables,
    sha256_text,
)
from mqlml.rules._fit import best_card, card_rules, fit_cards, native, score_target
from mqlml.rules._scorecard import DEFAULT_MAX_RULES, SCORECARD_FILES, Scorecard, scorecard
from mqlml.rules._sql import quote_name, sql_expression, sql_query

__all__ = [
    "DEFAULT_MAX_RULES",
    "SCORECARD_FILES",
    "SCORECARD_FORMAT",
    "Decay",
    "PointsBaseline",
    "Rule",
    "RuleSet",
    "Scorecard",
    "Window",
    "best_card",
    "card_rules",
    "condition_text",
    "fidelity",
    "fidelity_markdown",
    "fit_cards",
    "load_rules",
    "native",
    "parse_rules",
    "quote_name",
    "report_section",
    "report_tables",
    "score_target",
    "scorecard",
    "sha256_text",
    "sql_expression",
    "sql_query",
]
