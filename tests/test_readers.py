import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mqlml.errors import DataError
from mqlml.io._readers import binary_label, iter_batches, read_table, sniff_delimiter


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(tmp_path, sep):
    path = tmp_path / "leads.csv"
    path.write_text(
        sep.join(["id", "city", "visits"])
        + "\n"
        + sep.join(["1", "Paris", "3"])
        + "\n"
        + sep.join(["2", "Rome", "5"])
        + "\n"
    )
    assert sniff_delimiter(path) == sep
    frame = read_table(path)
    assert list(frame.columns) == ["id", "city", "visits"]
    assert frame["visits"].tolist() == [3, 5]


def test_missing_tokens_become_missing(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("id,city,score\n1,Select,1.5\n2,Rome,unknown\n3,,2\n")
    frame = read_table(path, missing_tokens=["", "Select", "unknown"])
    assert frame["city"].isna().tolist() == [True, False, True]
    assert frame["score"].isna().tolist() == [False, True, False]
    assert frame["score"].dtype == np.float64


def test_crlf_and_quoted_fields(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(b'id,title\r\n1,"VP, Sales"\r\n2,CTO\r\n')
    assert read_table(path)["title"].tolist() == ["VP, Sales", "CTO"]


def test_bad_encoding_names_the_line(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(b"id,city\n1,Paris\n2,S\xe3o Paulo\n")
    with pytest.raises(DataError, match=r"line 3 is not.*data.encoding"):
        read_table(path)
    assert read_table(path, encoding="latin-1")["city"].tolist() == ["Paris", "São Paulo"]


def test_empty_missing_and_wrong_type_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"must not be empty.*0 bytes"):
        read_table(empty)
    with pytest.raises(DataError, match="must exist"):
        read_table(tmp_path / "absent.csv")
    with pytest.raises(DataError, match=r"CSV \(\.csv\) or Parquet"):
        read_table(tmp_path / "leads.xlsx")


def test_parquet_reads_and_blanks_tokens(tmp_path):
    path = tmp_path / "leads.parquet"
    pd.DataFrame({"id": [1, 2], "city": ["Select", "Rome"]}).to_parquet(path)
    frame = read_table(path, missing_tokens=["Select"])
    assert frame["city"].isna().tolist() == [True, False]


def test_iter_batches_keeps_every_row_in_order(tmp_path):
    frame = pd.DataFrame({"id": np.arange(1, 1001), "x": np.linspace(0, 1, 1000)})
    csv, parquet = tmp_path / "a.csv", tmp_path / "a.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet)
    for path in (csv, parquet):
        batches = list(iter_batches(path, chunk_size=128))
        assert all(b.num_rows <= 128 for b in batches)
        ids = np.concatenate([b.column("id").to_numpy() for b in batches])
        assert ids.tolist() == list(range(1, 1001))


def test_iter_batches_header_only_gives_one_empty_batch(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("id,x\n")
    batches = list(iter_batches(path, column_types={"id": pa.string(), "x": pa.float64()}))
    assert len(batches) == 1 and batches[0].num_rows == 0
    assert batches[0].schema.names == ["id", "x"]


def test_iter_batches_non_numeric_value_is_an_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,x\n1,2.5\n2,lots\n")
    with pytest.raises(DataError, match="lots"):
        list(iter_batches(path, column_types={"x": pa.float64()}))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["yes", "no", "YES"], [1, 0, 1]),
        (["true", "False"], [1, 0]),
        ([1, 0, 1], [1, 0, 1]),
        ([True, False], [1, 0]),
        (["1", "0"], [1, 0]),
    ],
)
def test_binary_label_understands_common_forms(values, expected):
    assert binary_label(pd.Series(values, name="y")).tolist() == expected


def test_binary_label_with_configured_positives():
    values = pd.Series(["Won", "Lost", "Open"], name="stage")
    assert binary_label(values, positive=["won"]).tolist() == [1, 0, 0]


def test_binary_label_errors_name_the_column():
    with pytest.raises(DataError, match=r"label column 'stage' must be 0/1.*\['maybe'\]"):
        binary_label(pd.Series(["yes", "maybe"], name="stage"))
    with pytest.raises(DataError, match=r"'y' must have a value in every row; 1 rows.*row 2"):
        binary_label(pd.Series(["yes", None], name="y"))


# ----------------------------------------------------------------- one open per file
def _count_opens(monkeypatch, path):
    """Record every open of ``path`` through Python, pyarrow's files and its readers."""
    import builtins
    import gzip

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    opens = []

    def watch(module, name):
        original = getattr(module, name)

        def wrapper(source, *args, **kwargs):
            if str(source) == str(path):
                opens.append(name)
            return original(source, *args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    for module, name in (
        (builtins, "open"),
        (pa, "OSFile"),
        (pa, "memory_map"),
        (pa, "input_stream"),
        (gzip, "open"),
        (pq, "ParquetFile"),
        (pq, "read_table"),
        (pacsv, "open_csv"),
        (pacsv, "read_csv"),
    ):
        watch(module, name)
    return opens


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_lead_file_reads_header_columns_and_batches_through_one_open(tmp_path, monkeypatch, suffix):
    from mqlml.io._readers import LeadFile

    frame = pd.DataFrame({"id": [f"L{i}" for i in range(1000)], "visits": range(1000)})
    path = tmp_path / f"leads{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False, sep=";")
    opens = _count_opens(monkeypatch, path)
    with LeadFile(path) as leads:
        assert leads.names == ["id", "visits"]
        assert leads.read(["id"])["id"].tolist() == frame["id"].tolist()
        for _ in range(2):  # each pass starts from the first row
            batches = list(leads.batches(chunk_size=300, columns=["id", "visits"]))
            assert [b.num_rows for b in batches] == [300, 300, 300, 100]
    assert opens == ["OSFile"]


def test_score_file_opens_its_input_once(tmp_path, monkeypatch, trained):
    from mqlml.leads._synthetic import make_leads
    from mqlml.scoring._file import score_file

    path = tmp_path / "leads.csv"
    make_leads(700, seed=2).drop(columns="converted").to_csv(path, index=False)
    opens = _count_opens(monkeypatch, path)
    summary = score_file(
        trained.bundle, path, tmp_path / "o.parquet", chunk_size=200, predictor="lightgbm"
    )
    assert summary.rows == 700 and opens == ["OSFile"]


@pytest.mark.parametrize("dictionary", [(), ("title",)])
def test_parquet_batches_hold_one_chunk_not_the_file_read_so_far(tmp_path, dictionary):
    """Arrow memory held while streaming is one batch and a read buffer per column.

    Random doubles do not compress, so a reader that pre-buffers the row groups (pyarrow's
    default keeps every one it has fetched until the reader ends) holds up to the whole
    ~19 MB file; a streamed one holds the same few MB at the first batch and the last.
    """
    import pyarrow.parquet as pq

    from mqlml.io._readers import PARQUET_BUFFER, LeadFile

    rng = np.random.default_rng(5)
    rows = 1_200_000
    table = pa.table(
        {
            "x": rng.random(rows),
            "y": rng.random(rows),
            "title": pa.array(np.array(["CEO", "CTO", "VP"])[rng.integers(0, 3, rows)]),
        }
    )
    path = tmp_path / "leads.parquet"
    pq.write_table(table, path, row_group_size=25_000)  # 48 row groups
    del table
    chunk = 10_000
    before = pa.total_allocated_bytes()
    held, seen = [], 0
    with LeadFile(path) as leads:
        for batch in leads.batches(chunk_size=chunk, dictionary=dictionary):
            assert batch.num_rows <= chunk
            seen += batch.num_rows
            held.append(pa.total_allocated_bytes())
            del batch
    assert seen == rows
    one_chunk = chunk * 17  # two doubles and a one-byte code (or a short string) per row
    bound = 3 * PARQUET_BUFFER + 4 * one_chunk
    assert path.stat().st_size > 5 * bound
    assert max(held) - before < bound, (max(held) - before) / 2**20
    growth = max(held[-10:]) - max(held[:10])
    assert growth < one_chunk, growth / 2**20


def test_csv_batches_read_a_bounded_way_ahead_when_every_type_is_given(tmp_path):
    """pyarrow parses CSV up to 32 blocks behind its reads; with every column's type given
    the blocks are small, so the Arrow memory held is ~32 MiB on an 80 MB file, not all
    of it, and the batches are still ``chunk_size`` rows."""
    import pyarrow.csv as pacsv

    from mqlml.io._readers import CSV_BLOCK, LeadFile

    rng = np.random.default_rng(6)
    rows = 1_500_000
    table = pa.table({name: rng.random(rows) for name in ("x", "y", "z")})
    path = tmp_path / "leads.csv"
    pacsv.write_csv(table, path)
    del table
    chunk = 20_000
    before = pa.total_allocated_bytes()
    held, sizes = [], []
    with LeadFile(path) as leads:
        types = dict.fromkeys(leads.names, pa.string())
        for batch in leads.batches(chunk_size=chunk, column_types=types):
            sizes.append(batch.num_rows)
            held.append(pa.total_allocated_bytes())
            del batch
    assert sizes == [chunk] * (rows // chunk)
    peak = max(held) - before
    assert path.stat().st_size > 2.4 * (32 * CSV_BLOCK)
    # 32 blocks parsed ahead, a few more in flight when the reading thread is slowed (45
    # MB seen in a full run), the batches: far below the whole file (~100 MB as strings)
    assert peak < 40 * CSV_BLOCK + 8 * chunk * 3 * 24, peak / 2**20
