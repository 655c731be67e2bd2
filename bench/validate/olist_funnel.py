"""Join the Olist marketing funnel's two public files into one lead table.

``olist_marketing_qualified_leads_dataset.csv`` (8,000 MQLs: id, first contact date,
landing page, origin) and ``olist_closed_deals_dataset.csv`` (842 of them won, with the
date): one row per MQL, ``converted`` 1 when it was won, ``won_date`` its date (empty
otherwise). The dates are kept as written (day-month-year); the config names their formats.

Usage: python bench/validate/olist_funnel.py FOLDER  (writes FOLDER/olist_funnel.csv)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def main(folder: str) -> None:
    where = Path(folder)
    leads = pd.read_csv(where / "olist_marketing_qualified_leads_dataset.csv", dtype=str)
    deals = pd.read_csv(where / "olist_closed_deals_dataset.csv", dtype=str)
    won = deals.drop_duplicates("mql_id").set_index("mql_id")["won_date"]
    leads["won_date"] = leads["mql_id"].map(won)
    leads["converted"] = leads["won_date"].notna().astype(int)
    leads.to_csv(where / "olist_funnel.csv", index=False)


if __name__ == "__main__":
    main(sys.argv[1])
