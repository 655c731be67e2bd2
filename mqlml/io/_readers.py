"""Reading lead tables: CSV (any delimiter) and Parquet through pyarrow, whole or in chunks.

Tokens that mean "missing" (``Select``, ``unknown``, ...) become nulls while reading, so
the rest of mqlml sees one kind of missing value. Labels become 0/1 with
:func:`binary_label`.
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import gzip
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mqlml.errors import DataError, FileError
from mqlml.io._atomic import file_error

__all__ = [
    "LeadFile",
    "binary_label",
    "check_flat",
    "compression",
    "detect_format",
    "estimate_rows",
    "iter_batches",
    "read_table",
    "sniff_delimiter",
]

_POSITIVE = {"1", "1.0", "yes", "y", "true", "t", "converted"}
_NEGATIVE = {"0", "0.0", "no", "n", "false", "f", "not converted"}
_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 64 * 1024
# Parquet column chunks are read through a buffer of this size, not pre-buffered whole:
# pyarrow's default pre-buffering fetches row groups ahead and keeps each one fetched until
# the reader ends, so a streamed file would be held, compressed, up to its last row group.
PARQUET_BUFFER = 1 << 20


_COMPRESSED = {".gz": "gzip", ".bz2": "bz2"}
_CSV_SUFFIXES = {".csv", ".txt", ".tsv"}


def compression(path: str | Path) -> str | None:
    """``"gzip"`` or ``"bz2"`` for a compressed CSV name (``leads.csv.gz``), else None."""
    return _COMPRESSED.get(Path(path).suffix.lower())


def detect_format(path: str | Path, format: str = "auto") -> str:
    """Return ``"csv"`` or ``"parquet"`` for a file, from ``format`` or its suffix.

    ``.csv``, ``.tsv`` and ``.txt`` are CSV, also compressed (``.csv.gz``, ``.csv.bz2``);
    ``.parquet`` and ``.pq`` are Parquet.

    Raises
    ------
    DataError
        When the suffix is neither CSV nor Parquet and no format is given.

    Examples
    --------
    >>> detect_format("leads.csv.gz"), detect_format("scores.parquet")
    ('csv', 'parquet')
    """
    if format != "auto":
        return format
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _COMPRESSED:
        suffix = Path(path.stem).suffix.lower()
        if suffix in _CSV_SUFFIXES:
            return "csv"
    elif suffix in _CSV_SUFFIXES:
        return "csv"
    elif suffix in {".parquet", ".pq"}:
        return "parquet"
    raise DataError(
        f"file type must be CSV (.csv) or Parquet (.parquet), CSV also compressed (.csv.gz, "
        f".csv.bz2); got {str(path)!r}. "
        "Rename the file (or set data.format in a project config)."
    )


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise DataError(
            f"input must be a file; {str(path)!r} is a folder. Give the leads file inside it."
        )
    if not path.is_file():
        raise DataError(f"input file must exist; got {str(path)!r}. Check the path.")
    if not os.access(path, os.R_OK):
        raise FileError(
            f"input file {str(path)!r} must be readable; permission denied. "
            "Fix its permissions or copy it somewhere readable."
        )
    if path.stat().st_size == 0:
        raise DataError(
            f"input file must not be empty; {str(path)!r} has 0 bytes. "
            "Export the leads again with a header row."
        )


def sniff_delimiter(path: str | Path, encoding: str = "utf-8") -> str:
    """Guess a CSV file's delimiter among ``, ; TAB |`` from its first lines."""
    with _open_bytes(Path(path)) as handle:
        return _sniff(handle.read(_SNIFF_BYTES), encoding)


def _sniff(raw: bytes, encoding: str) -> str:
    head = raw.decode(encoding, errors="replace")
    lines = head.splitlines()[:50]
    if len(lines) > 1 and not head.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line may be cut in the middle
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in _DELIMITERS} if lines else {}
        best = max(counts, key=counts.get, default=",")
        return best if counts.get(best) else ","


def _open_bytes(path: Path):
    """The file's bytes, decompressed for ``.gz`` and ``.bz2``."""
    kind = compression(path)
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "bz2":
        return bz2.open(path, "rb")
    return open(path, "rb")


def _lines(handle) -> Iterator[bytes]:
    """The lines of a binary stream that has only ``read`` (ends kept)."""
    rest = b""
    while chunk := handle.read(1 << 20):
        *lines, rest = (rest + chunk).split(b"\n")
        for line in lines:
            yield line + b"\n"
    if rest:
        yield rest


def _first_bad_line(path: Path, encoding: str, opener=None) -> tuple[int, bytes]:
    with (opener or _open_bytes)(path) as handle:
        for number, raw in enumerate(_lines(handle), start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                return number, raw[:80]
    return 0, b""


def _csv_options(
    path: Path | None,
    delimiter: str,
    encoding: str,
    missing_tokens: Sequence[str],
    column_types: dict[str, pa.DataType] | None,
    block_size: int | None,
) -> dict:
    if delimiter == "auto":
        delimiter = sniff_delimiter(path, encoding)
    read = pacsv.ReadOptions(
        encoding=encoding, **({"block_size": block_size} if block_size else {})
    )
    parse = pacsv.ParseOptions(delimiter=delimiter)
    convert = pacsv.ConvertOptions(
        null_values=list(missing_tokens),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        column_types=column_types or {},
    )
    return {"read_options": read, "parse_options": parse, "convert_options": convert}


def _encoding_error(path: Path, encoding: str, opener=None) -> DataError:
    line, raw = _first_bad_line(path, encoding, opener)
    return DataError(
        f"file {str(path)!r} must be encoded as {encoding}; line {line} is not: {raw!r}. "
        "Re-export it as UTF-8, or give its encoding: mqlml score --encoding latin-1, "
        "or data.encoding in a project config."
    )


def _check_text(schema: pa.Schema, path: Path, encoding: str, opener=None) -> None:
    # pyarrow reads undecodable text as binary rather than failing
    if any(pa.types.is_binary(f.type) for f in schema):
        raise _encoding_error(path, encoding, opener)


def _translate(exc: Exception, path: Path, encoding: str, opener=None) -> DataError:
    text = str(exc)
    if "UTF8" in text or "utf-8" in text.lower() or isinstance(exc, UnicodeDecodeError):
        return _encoding_error(path, encoding, opener)
    if "conversion error" in text.lower():
        # pyarrow: "In CSV column #3: Row #5: CSV conversion error to double: invalid value 'x'"
        return DataError(
            f"file {str(path)!r}: a value does not match the column's type ({text}). "
            "Fix the value in the file or check that the right column is mapped."
        )
    if "empty" in text.lower():
        return DataError(f"file {str(path)!r} must have a header row; {text}.")
    if isinstance(exc, OSError) and getattr(exc, "errno", None):
        return file_error(exc, path, "read")
    return DataError(
        f"file {str(path)!r} must be a readable, uncorrupted table; reading it failed: "
        f"{text.strip().rstrip('.')}. Export it again."
    )


def check_flat(fields: Sequence[pa.Field], path: str | Path | None = None) -> None:
    """Refuse nested columns (struct, list, map): mqlml reads plain values only.

    Raises
    ------
    DataError
        Naming the first nested column, its type, the file and the fix.

    Examples
    --------
    >>> check_flat([pa.field("visits", pa.int64())])
    >>> check_flat([pa.field("tags", pa.list_(pa.string()))], "leads.parquet")
    Traceback (most recent call last):
    ...
    mqlml.errors.DataError: column 'tags' of 'leads.parquet' must hold plain values ...
    """
    for field in fields:
        if pa.types.is_nested(field.type):
            where = f" of {str(path)!r}" if path is not None else ""
            raise DataError(
                f"column {field.name!r}{where} must hold plain values (numbers, text, dates, "
                f"yes/no); got the nested type {field.type}. Flatten it into plain columns "
                "when exporting, or leave it out (in training, list it under exclude in the "
                "config)."
            )


def read_table(
    path: str | Path,
    *,
    format: str = "auto",
    delimiter: str = "auto",
    encoding: str = "utf-8",
    missing_tokens: Sequence[str] = (),
    columns: Sequence[str] | None = None,
    text_columns: Sequence[str] = (),
    skip_nested: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a whole CSV or Parquet file into a pandas DataFrame.

    Parameters
    ----------
    path : str or Path
        The file.
    format : {"auto", "csv", "parquet"}
        ``auto`` goes by the suffix.
    delimiter : str
        CSV delimiter, or ``"auto"`` to sniff it.
    encoding : str
        CSV text encoding.
    missing_tokens : sequence of str
        Values read as missing (for CSV while parsing, for Parquet in string columns).
    columns : sequence of str, optional
        Read only these columns.
    text_columns : sequence of str
        Columns kept exactly as written, as text with no missing-value tokens (ids:
        ``NA`` or ``007`` is an id). Absent ones are ignored.
    skip_nested : sequence of str
        Nested Parquet columns (struct, list, map) left unread, not refused (the
        config's excluded columns).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DataError
        For a missing, empty, undecodable or unparseable file, or a nested Parquet column
        read (:func:`check_flat`); the message names the file and, for encoding
        problems, the first bad line.
    """
    path = Path(path)
    kind = detect_format(path, format)
    _check_file(path)
    try:
        if kind == "parquet":
            schema = pq.read_schema(path)
            wanted = set(columns or schema.names)
            skipped = [
                f.name for f in schema if f.name in skip_nested and pa.types.is_nested(f.type)
            ]
            check_flat([f for f in schema if f.name in wanted and f.name not in skipped], path)
            if skipped and not columns:
                columns = [n for n in schema.names if n not in skipped]
            table = pq.read_table(path, columns=list(columns) if columns else None)
        else:
            options = _csv_options(path, delimiter, encoding, missing_tokens, None, None)
            if columns:
                options["convert_options"].include_columns = list(columns)
            table = pacsv.read_csv(path, **options)
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError) as exc:
        raise _translate(exc, path, encoding) from None
    if kind == "csv":
        _check_text(table.schema, path, encoding)
    frame = table.to_pandas()
    text = [c for c in dict.fromkeys(text_columns) if c in frame.columns]
    if kind == "parquet" and missing_tokens:
        rest = frame.columns.difference(text, sort=False)
        frame[rest] = _blank_tokens(frame[rest], missing_tokens)
    elif kind == "csv" and missing_tokens:
        # only where a token was read as missing: other ids keep their inferred type
        text = [c for c in text if frame[c].isna().any()]
        if text:
            frame[text] = _raw_text(path, text, delimiter, encoding)
    return frame


def _raw_text(path: Path, names: list[str], delimiter: str, encoding: str) -> pd.DataFrame:
    """``names`` as written: text, nothing read as missing."""
    options = _csv_options(path, delimiter, encoding, (), dict.fromkeys(names, pa.string()), None)
    options["convert_options"].include_columns = names
    options["convert_options"].strings_can_be_null = False
    try:
        return pacsv.read_csv(path, **options).to_pandas()
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError) as exc:
        raise _translate(exc, path, encoding) from None


def _blank_tokens(frame: pd.DataFrame, tokens: Sequence[str]) -> pd.DataFrame:
    text = frame.select_dtypes(include=["object", "string"]).columns
    if len(text):
        frame[text] = frame[text].mask(frame[text].isin(list(tokens)))
    return frame


def iter_batches(
    path: str | Path,
    *,
    chunk_size: int = 100_000,
    format: str = "auto",
    delimiter: str = "auto",
    encoding: str = "utf-8",
    missing_tokens: Sequence[str] = (),
    column_types: dict[str, pa.DataType] | None = None,
    columns: Sequence[str] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream a CSV or Parquet file as Arrow record batches of at most ``chunk_size`` rows.

    Memory stays flat as the file grows. ``column_types`` pins CSV column types so every
    chunk parses alike (a non-numeric value in a numeric column is then an error).

    Yields
    ------
    pyarrow.RecordBatch
    """
    with LeadFile(path, format=format, delimiter=delimiter, encoding=encoding) as source:
        yield from source.batches(
            chunk_size=chunk_size,
            columns=columns,
            column_types=column_types,
            missing_tokens=missing_tokens,
        )


# pyarrow's CSV stream reads up to 32 blocks ahead of its parser (more when the disk is
# faster than the parsing), so its memory is about 32 blocks, whatever the file's size.
CSV_BLOCK = 1 << 20


def _block_size(chunk_size: int) -> int:
    """A CSV block of about a chunk: column types are inferred from the first block."""
    # ~200 bytes per row is typical of lead tables; pyarrow cuts by bytes, we by rows.
    return int(min(max(chunk_size * 256, CSV_BLOCK), 1 << 30))


def _rechunked(batches: Iterator[pa.RecordBatch], chunk_size: int) -> Iterator[pa.RecordBatch]:
    """The rows of ``batches`` in batches of ``chunk_size`` rows (the last one shorter)."""
    parts: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        start = 0
        while start < batch.num_rows:
            take = min(chunk_size - held, batch.num_rows - start)
            parts.append(batch.slice(start, take))
            held += take
            start += take
            if held == chunk_size:
                yield _joined(parts)
                parts, held = [], 0
    if parts:
        yield _joined(parts)


def _joined(parts: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(parts) == 1:
        return parts[0]
    return pa.Table.from_batches(parts).combine_chunks().to_batches()[0]


def _released(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches, with the memory Arrow's allocator has freed handed back to the system
    after each one is used (mimalloc and jemalloc keep freed pages, so the peak creeps)."""
    pool = pa.default_memory_pool()
    for batch in batches:
        yield batch
        pool.release_unused()


class _Borrowed:
    """A read-only view of an open file that a decompressor may close without closing it."""

    closed = False

    def __init__(self, raw: pa.NativeFile) -> None:
        self.raw = raw

    def read(self, n: int = -1) -> bytes:
        return self.raw.read(n) if n is not None and n >= 0 else self.raw.read()

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _is_text(schema: pa.Schema, name: str) -> bool:
    kind = schema.field(name).type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


class LeadFile:
    r"""A CSV or Parquet file opened once: its header, whole columns and its batches.

    Every read goes through one open file (rewound between passes), so a scoring run
    that needs the header, the id and time columns of every lead (for activity-log
    features) and then the batches opens the input once. Use it as a context manager,
    or call :meth:`close`.

    Parameters
    ----------
    path : str or Path
        The file (``.csv``, ``.csv.gz``, ``.csv.bz2``, ``.tsv``, ``.parquet``, ...).
    format : {"auto", "csv", "parquet"}
        ``auto`` goes by the suffix.
    delimiter : str
        CSV delimiter, or ``"auto"`` to sniff it (from the first 64 KiB).
    encoding : str
        CSV text encoding.

    Raises
    ------
    DataError
        For a missing, empty, undecodable file, an unknown suffix or a file that is not
        the table its suffix says (the message names the file).
    FileError
        When the file cannot be opened (permission, I/O fault).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "leads.csv").write_text("id;visits\n1;3\n2;5\n")
    >>> with LeadFile(folder / "leads.csv") as leads:
    ...     names = leads.names
    ...     rows = [b.num_rows for b in leads.batches(chunk_size=1)]
    >>> names, rows
    (['id', 'visits'], [1, 1])
    """

    def __init__(
        self,
        path: str | Path,
        *,
        format: str = "auto",
        delimiter: str = "auto",
        encoding: str = "utf-8",
    ) -> None:
        self.path = Path(path)
        self.format = detect_format(self.path, format)
        self.encoding = encoding
        _check_file(self.path)
        try:
            self._raw = pa.OSFile(str(self.path))
        except OSError as exc:
            raise file_error(exc, self.path, "read") from None
        try:
            if self.format == "parquet":
                try:
                    self._parquet = self._open_parquet()
                except (pa.ArrowInvalid, OSError) as exc:
                    raise DataError(
                        f"file {str(self.path)!r} must be a Parquet file; reading its footer "
                        f"failed: {str(exc).rstrip('.')}. Export it again."
                    ) from None
                self.schema = self._parquet.schema_arrow
            else:
                if delimiter == "auto":
                    try:
                        delimiter = _sniff(self._text().read(_SNIFF_BYTES), encoding)
                    except (OSError, EOFError) as exc:
                        raise self._translate(exc) from None
                self.delimiter = delimiter
                stream = self._csv_stream({}, (), None, 1 << 20)
                self.schema = stream.schema
        except BaseException:
            self._raw.close()
            raise

    # ---------------------------------------------------------------- opening
    def _text(self):
        """The file's bytes from the start, decompressed (no new open)."""
        self._raw.seek(0)
        kind = compression(self.path)
        if kind == "gzip":
            return gzip.GzipFile(fileobj=_Borrowed(self._raw), mode="rb")
        if kind == "bz2":
            return bz2.BZ2File(_Borrowed(self._raw), mode="rb")
        return self._raw

    def _open_parquet(self, **options) -> pq.ParquetFile:
        """A Parquet reader over the open file whose memory stays flat as the file grows:
        column chunks streamed through :data:`PARQUET_BUFFER` bytes, not pre-buffered."""
        return pq.ParquetFile(self._raw, pre_buffer=False, buffer_size=PARQUET_BUFFER, **options)

    def _opener(self, _path=None):
        return contextlib.nullcontext(self._text())

    def _translate(self, exc: Exception) -> DataError:
        return _translate(exc, self.path, self.encoding, self._opener)

    def _csv_stream(self, column_types, columns, tokens, block_size):
        options = _csv_options(
            None, self.delimiter, self.encoding, tokens or (), column_types, block_size
        )
        if columns:
            options["convert_options"].include_columns = list(columns)
        try:
            stream = pacsv.open_csv(self._text(), **options)
        except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError) as exc:
            if isinstance(exc, FileError):
                raise
            raise self._translate(exc) from None
        _check_text(stream.schema, self.path, self.encoding, self._opener)
        return stream

    # ---------------------------------------------------------------- reading
    @property
    def names(self) -> list[str]:
        """The header: column names in file order (repeats kept)."""
        return list(self.schema.names)

    def _check_flat(self, columns: Sequence[str] | None) -> None:
        wanted = set(columns or self.names)
        check_flat([f for f in self.schema if f.name in wanted], self.path)

    def read(self, columns: Sequence[str]) -> pd.DataFrame:
        """Whole columns of every row as pandas, types as :func:`read_table` infers them."""
        self._check_flat(columns)
        try:
            if self.format == "parquet":
                table = self._parquet.read(columns=list(columns))
            else:
                table = self._csv_stream({}, columns, (), None).read_all()
                _check_text(table.schema, self.path, self.encoding, self._opener)
        except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError) as exc:
            if isinstance(exc, FileError | DataError):
                raise
            raise self._translate(exc) from None
        return table.to_pandas()

    def batches(
        self,
        *,
        chunk_size: int = 100_000,
        columns: Sequence[str] | None = None,
        column_types: dict[str, pa.DataType] | None = None,
        missing_tokens: Sequence[str] = (),
        dictionary: Sequence[str] = (),
    ) -> Iterator[pa.RecordBatch]:
        """The rows as Arrow record batches of at most ``chunk_size`` rows (see
        :func:`iter_batches`); each call starts from the first row.

        ``dictionary`` names Parquet text columns to read as Arrow dictionaries (their
        values decoded once per page, not once per row); ignored for CSV.

        Memory is bounded whatever the file's size: Parquet column chunks are streamed
        through :data:`PARQUET_BUFFER` bytes per column; CSV is parsed in blocks of
        :data:`CSV_BLOCK` bytes when ``column_types`` gives every column read (else of
        about a chunk, the types being inferred from the first block), joined into
        batches of ``chunk_size`` rows. A nested Parquet column among those read is an
        error (:func:`check_flat`), raised here, before any batch is read.
        """
        self._check_flat(columns)
        return self._batches(chunk_size, columns, column_types, missing_tokens, dictionary)

    def _batches(
        self, chunk_size, columns, column_types, missing_tokens, dictionary
    ) -> Iterator[pa.RecordBatch]:
        try:
            if self.format == "parquet":
                names = list(columns) if columns else None
                parquet = self._parquet
                text = [c for c in dictionary if c in self.names and _is_text(self.schema, c)]
                if text:  # the same open file, read with other options
                    parquet = self._open_parquet(metadata=parquet.metadata, read_dictionary=text)
                yield from _released(parquet.iter_batches(batch_size=chunk_size, columns=names))
                return
            # small blocks (little read ahead) where no type is left to infer from the first
            pinned = set(columns or self.names) <= set(column_types or {})
            block = CSV_BLOCK if pinned else _block_size(chunk_size)
            stream = self._csv_stream(column_types or {}, columns, missing_tokens, block)
            empty = True
            for batch in _rechunked(_released(stream), chunk_size):
                empty = False
                yield batch
            if empty:  # a header-only file still has a schema
                yield pa.RecordBatch.from_pylist([], schema=stream.schema)
        except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError) as exc:
            if isinstance(exc, FileError):
                raise
            raise self._translate(exc) from None

    def estimate_rows(self) -> tuple[int | None, bool]:
        """The number of data rows, and whether it is exact, from the open file: a Parquet
        file's metadata, or a plain ``.csv`` file's size and its first megabyte (as
        :func:`estimate_rows`)."""
        if self.format == "parquet":
            return int(self._parquet.metadata.num_rows), True
        if self.path.suffix.lower() != ".csv":
            return None, False
        try:
            size = self.path.stat().st_size
            head = self._text().read(_SAMPLE_BYTES)
        except (OSError, ValueError):
            return None, False
        return _rows_in(head, size)

    def close(self) -> None:
        """Release the file."""
        self._raw.close()

    def __enter__(self) -> LeadFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def binary_label(
    values: pd.Series, *, positive: Sequence[str | int | bool] | None = None
) -> np.ndarray:
    """Turn a label column into 0/1.

    By default yes/no, true/false, y/n and 1/0 (any case) are understood. With
    ``positive``, those values are 1 and every other non-missing value is 0.

    Parameters
    ----------
    values : pandas.Series
        The label column (its name is used in error messages).
    positive : sequence, optional
        The values that count as converted.

    Returns
    -------
    numpy.ndarray of int64

    Raises
    ------
    DataError
        When labels are missing, or (without ``positive``) a value is not one of the
        understood forms; the message names the column and the values.

    Examples
    --------
    >>> binary_label(pd.Series(["yes", "no", "Yes"], name="y")).tolist()
    [1, 0, 1]
    """
    name = values.name
    missing = values.isna()
    if missing.any():
        first = int(np.flatnonzero(missing.to_numpy())[0])
        raise DataError(
            f"label column {name!r} must have a value in every row; {int(missing.sum())} "
            f"rows are missing it (first at row {first + 1}). Drop those leads or fill them."
        )
    text = values.astype(str).str.strip().str.lower()
    if positive is not None:
        wanted = {str(v).strip().lower() for v in positive}
        return text.isin(wanted).to_numpy(dtype=np.int64)
    is_pos, is_neg = text.isin(_POSITIVE), text.isin(_NEGATIVE)
    unknown = ~(is_pos | is_neg)
    if unknown.any():
        bad = sorted(text[unknown].unique().tolist())[:5]
        raise DataError(
            f"label column {name!r} must be 0/1, yes/no or true/false; got {bad}. "
            "List the values that mean converted in columns.positive_labels."
        )
    return is_pos.to_numpy(dtype=np.int64)


_SAMPLE_BYTES = 1 << 20


def estimate_rows(path: str | Path) -> tuple[int | None, bool]:
    """The number of data rows in a leads file, and whether it is exact.

    Parameters
    ----------
    path : str or Path
        A ``.parquet`` file (rows from its metadata) or a plain ``.csv`` file (rows
        estimated from the file size and the mean line length of its first megabyte).

    Returns
    -------
    (int or None, bool)
        The rows (None when unknown: a folder, a compressed or unreadable file) and True
        when exact.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "leads.csv"
    >>> _ = f.write_text("id,x\\n" + "".join(f"{i},1\\n" for i in range(10, 100)))
    >>> estimate_rows(f)
    (90, True)
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".parquet" and path.is_file():
            return int(pq.ParquetFile(path).metadata.num_rows), True
        if path.suffix.lower() != ".csv" or not path.is_file():
            return None, False
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(_SAMPLE_BYTES)
    except (OSError, ValueError):
        return None, False
    return _rows_in(head, size)


def _rows_in(head: bytes, size: int) -> tuple[int | None, bool]:
    """Data rows of a CSV file of ``size`` bytes whose first bytes are ``head``."""
    lines = head.count(b"\n")
    if lines < 2:
        return None, False
    if len(head) == size:  # the whole file was read: count exactly
        return lines - 1 + (0 if head.endswith(b"\n") else 1), True
    header = head.index(b"\n") + 1
    per_line = (len(head) - header) / (lines - 1)
    return max(1, round((size - header) / per_line)), False
