"""Points rules: the rule-based baseline, rules as SQL, and the model-derived scorecard."""
