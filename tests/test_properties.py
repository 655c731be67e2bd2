"""Property tests of batch scoring: for random lead tables, id types and chunk sizes, rows in
equal rows out, in order, and every id comes back byte for byte as text, on CSV and Parquet;
percentiles as the definition gives them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqlml.model._points import percentile_of
from mqlml.scoring._file import score_file
from mqlml.scoring._scorer import OUTPUT_COLUMNS, score_frame

TOKENS = ["NA", "None", "null", "NULL", "nan", "NaN", "N/A", "", " ", " 007", "007", "1e5"]
text_ids = st.one_of(
    st.sampled_from(TOKENS),
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n\x85\u2028\u2029"
        ),
        max_size=12,
    ),
)
int_ids = st.integers(min_value=-(2**62), max_value=2**62)


@st.composite
def tables(draw):
    n = draw(st.integers(min_value=0, max_value=120))
    if draw(st.booleans()):
        ids = draw(st.lists(int_ids, min_size=n, max_size=n))
    else:
        ids = draw(st.lists(text_ids, min_size=n, max_size=n))
    rows = draw(st.lists(st.integers(min_value=0, max_value=999), min_size=n, max_size=n))
    blanks = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return ids, rows, blanks


@pytest.fixture(scope="module")
def pool(leads_20k):
    return leads_20k.drop(columns="true_probability").iloc[:1000].reset_index(drop=True)


def _read_ids(path: Path, fmt: str) -> list[str]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        column = pq.read_table(path, columns=["lead_id"]).column("lead_id")
    else:
        options = pacsv.ConvertOptions(
            column_types={"lead_id": pa.string()},
            null_values=[],
            strings_can_be_null=False,
            include_columns=["lead_id"],
        )
        column = pacsv.read_csv(path, convert_options=options).column("lead_id")
    return ["" if v is None else v for v in column.to_pylist()]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    table=tables(),
    chunk=st.integers(min_value=1, max_value=150),
    fmt_in=st.sampled_from(["csv", "parquet"]),
    fmt_out=st.sampled_from(["csv", "parquet"]),
)
def test_rows_and_ids_survive_scoring(trained, pool, table, chunk, fmt_in, fmt_out):
    ids, rows, blanks = table
    frame = pool.iloc[rows].reset_index(drop=True)
    frame["lead_id"] = pd.Series(ids, dtype=object)
    frame.loc[np.asarray(blanks, dtype=bool), "page_views"] = np.nan
    folder = Path(tempfile.mkdtemp())
    try:
        src, out = folder / f"in.{fmt_in}", folder / f"out.{fmt_out}"
        if fmt_in == "csv":
            frame.to_csv(src, index=False)
        else:
            as_text = isinstance(ids[0], str) if ids else True
            frame.astype({"lead_id": str if as_text else "int64"}).to_parquet(src)
        # Ids exactly as given ("keep"); the default escape is tested in test_outputs.
        summary = score_file(
            trained.bundle, src, out, chunk_size=chunk, delimiter=",", csv_formulas="keep"
        )
        assert summary.rows == len(frame)
        got = _read_ids(out, fmt_out)
        assert got == [str(i) for i in ids]
        scored = pd.read_parquet(out) if fmt_out == "parquet" else pd.read_csv(out)
        assert list(scored.columns) == ["lead_id", *OUTPUT_COLUMNS]
        if len(frame):  # the same leads in the same order: the same probabilities
            expected = score_frame(trained.bundle, frame, reasons="none")["probability"]
            np.testing.assert_allclose(scored["probability"], expected, rtol=0, atol=1e-12)
        blank = sum(1 for i in ids if isinstance(i, str) and not i.strip())
        assert summary.missing_ids == blank
    finally:
        shutil.rmtree(folder)


probabilities = st.floats(min_value=0.0, max_value=1.0)


@settings(max_examples=300, deadline=None)
@given(
    reference=st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0]) | probabilities,
                       min_size=1, max_size=40),
    extra=st.lists(probabilities, max_size=20),
)  # fmt: skip
def test_percentile_is_the_middle_of_the_quantiles_at_a_probability(reference, extra):
    quantiles = np.sort(np.asarray(reference))
    # on the quantiles themselves (runs of equal ones), between them and beyond them
    p = np.concatenate([quantiles, extra, np.nextafter(quantiles, 2), [-1.0, 2.0]])
    below = (quantiles[None, :] < p[:, None]).sum(axis=1)
    at_or_below = (quantiles[None, :] <= p[:, None]).sum(axis=1)
    expected = 100.0 * (below + at_or_below) / (2.0 * len(quantiles))
    assert np.array_equal(percentile_of(p, quantiles), expected)
