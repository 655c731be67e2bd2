"""Writing Arrow tables to CSV (compressed by suffix) or Parquet, whole or in batches.

Every CSV that holds data (scores, accounts) goes through :class:`TableWriter`, so
cells a spreadsheet would run as formulas are neutralised the same way everywhere
(:mod:`mqlml.io`; ``csv_formulas="keep"`` writes them as they are).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mqlml.io._formulas import CsvFormulas, check_csv_formulas, escape_schema, escape_table
from mqlml.io._readers import compression

__all__ = ["TableWriter", "write_table"]


class TableWriter:
    """A table writer over a file it owns: closing releases the file even after a fault
    (a full disk must not keep the partial file open).

    Parameters
    ----------
    path : path
        The file to write (usually the temporary file of :func:`mqlml.io.atomic_output`).
    schema : pyarrow.Schema
        The columns of every table written.
    fmt : {"csv", "parquet"}
        The format.
    target : path, optional
        The final name, whose suffix (``.gz``, ``.bz2``) says how to compress a CSV.
    unique : sequence of str
        Parquet: text columns whose values rarely repeat, written without a dictionary.
    csv_formulas : {"escape", "keep"}
        CSV: neutralise cells that a spreadsheet would run (:mod:`mqlml.io`), or not.
    """

    def __init__(
        self,
        path: str | Path,
        schema: pa.Schema,
        fmt: str,
        target: str | Path | None = None,
        unique: Sequence[str] = (),
        csv_formulas: CsvFormulas = "escape",
    ) -> None:
        kind = compression(target or path)
        self.escape = fmt == "csv" and check_csv_formulas(csv_formulas) == "escape"
        self.raw = pa.OSFile(str(path), "wb")
        self.sink = pa.CompressedOutputStream(self.raw, kind) if kind else self.raw
        try:
            if fmt == "parquet":
                # dictionaries only where values repeat (tiers, reasons, kept text): on
                # floats and unique ids they cost time and save nothing
                text = [
                    f.name
                    for f in schema
                    if (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
                    and f.name not in unique
                ]
                self.writer = pq.ParquetWriter(self.sink, schema, use_dictionary=text)
            else:
                shown = escape_schema(schema) if self.escape else schema
                self.writer = pacsv.CSVWriter(self.sink, shown)
        except BaseException:
            self.raw.close()
            raise

    def write_table(self, table: pa.Table) -> None:
        """Append ``table`` (of the writer's schema)."""
        self.writer.write_table(escape_table(table) if self.escape else table)

    def close(self, ok: bool = True) -> None:
        """Finish the file; with ``ok=False`` (a fault already on its way) only release it."""
        steps = [self.writer.close] + ([self.sink.close] if self.sink is not self.raw else [])
        try:
            for step in steps:
                try:
                    step()
                except (OSError, pa.ArrowException):
                    if ok:
                        raise
        finally:
            if not self.raw.closed:
                self.raw.close()


def write_table(
    table: pa.Table,
    path: str | Path,
    fmt: str,
    target: str | Path | None = None,
    csv_formulas: CsvFormulas = "escape",
) -> None:
    """Write one whole table with a :class:`TableWriter` (see it for the parameters)."""
    writer = TableWriter(path, table.schema, fmt, target, csv_formulas=csv_formulas)
    ok = False
    try:
        writer.write_table(table)
        ok = True
    finally:
        writer.close(ok)
