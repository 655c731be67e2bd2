"""Reading and writing files: lead tables (CSV, Parquet), dates, categorical levels, YAML,
and outputs that appear whole or not at all."""
