"""Read a user's CSV, TSV or JSONL file into a ``Dataset``.

Columns are found by name (``--text-column`` and friends), else by the usual names of the
field (``text``/``sentence``/``sentence1``/``premise``, ``label``/``gold_label``/…). The
file must be UTF-8 (a byte-order mark is accepted); quoted fields may span lines.

The file is streamed: only the chosen columns of each row are kept (a 200 MB file with ten
columns would otherwise be held as a million dicts, ~3 GB), and every check names the line.
"""

from __future__ import annotations

import codecs
from array import array
import csv
import sys
from pathlib import Path
from typing import Iterator

from ..jsontext import JSONProblem, parse
from ..errors import DataError
from .base import Dataset, build_dataset

TEXT_NAMES = ("text", "sentence", "sentence1", "text_a", "premise", "question", "question1", "content",
              "review", "document", "tweet")
PAIR_NAMES = ("text_pair", "sentence2", "text_b", "hypothesis", "question2")
LABEL_NAMES = ("label", "labels", "gold_label", "score", "target", "class", "category", "y")
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
MAX_BYTES = 2 << 30
MAX_FIELD = 64 << 20  # one CSV field longer than this is an unclosed quote, not a document
_BOMS = {codecs.BOM_UTF32_LE: "UTF-32", codecs.BOM_UTF32_BE: "UTF-32", codecs.BOM_UTF16_LE: "UTF-16",
         codecs.BOM_UTF16_BE: "UTF-16"}


def read_table(
    path: str | Path,
    *,
    text_column: str | None = None,
    pair_column: str | None = None,
    label_column: str | None = None,
    task_type: str | None = None,
    name: str | None = None,
) -> Dataset:
    """Read and check a data file; every problem is one ``DataError`` naming the file and line."""
    path = Path(path)
    kind = check_file(path)
    columns = _columns(path, kind)
    text_col = _column(path, columns, text_column, TEXT_NAMES, "text", "--text-column")
    label_col = _column(path, columns, label_column, LABEL_NAMES, "label", "--label-column")
    pair_col = _column(path, columns, pair_column, PAIR_NAMES, "second text", "--pair-column", required=False)
    if len({text_col, label_col, pair_col} - {None}) < 2 + (pair_col is not None):
        raise DataError(path, "the text, second-text and label columns must be different columns")
    wanted = (text_col, pair_col, label_col)
    texts, pairs, labels, rows = [], [] if pair_col else None, [], array("q")  # rows: 8 bytes each, not 36
    pool: dict = {}
    for row, record in _records(path, kind):
        values = [_cell(path, row, record.get(column), what) if column else None
                  for column, what in zip(wanted, ("text", "second text", "label"))]
        if all(v in (None, "") for v in values) and kind in ("csv", "tsv"):
            continue  # a blank line
        texts.append(values[0])
        if pairs is not None:
            pairs.append(values[1])
        labels.append(pool.setdefault(values[2], values[2]))  # one object per distinct label, not per row
        rows.append(row)
    if not texts:
        raise DataError(path, "has no data rows", hint="a header row and at least two labelled rows are needed")
    return build_dataset(
        name or path.stem, str(path), texts, labels, pairs=pairs, task_type=task_type, rows=rows,
        info={"columns": {"text": text_col, "pair": pair_col, "label": label_col}},
    )


def check_file(path: Path) -> str:
    """The format of a data file, after the checks that need no parsing (and no heavy import):
    suffix, existence, size, and an encoding sniffed from the first bytes."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(path, f"unknown data format {path.suffix or '(no suffix)'!r}",
                        hint=f"use one of {', '.join(sorted(SUFFIXES))}")
    if not path.is_file():
        raise DataError(path, "is not a file" if path.exists() else "not found")
    if path.stat().st_size > MAX_BYTES:
        raise DataError(path, "is larger than 2 GiB", hint="sample it first; a task embedding needs ~1,000 examples")
    with path.open("rb") as handle:
        head = handle.read(4096)
    for bom, encoding in _BOMS.items():  # UTF-32 first: its LE mark starts with UTF-16's
        if head.startswith(bom):
            raise DataError(path, f"is {encoding} (it starts with a {encoding} byte-order mark), not UTF-8",
                            hint=f"re-encode it, e.g. `iconv -f {encoding} -t UTF-8 IN > OUT`")
    if head.count(b"\x00") > len(head) // 4 and len(head) >= 16:
        even = head[0::2].count(b"\x00") > head[1::2].count(b"\x00")
        raise DataError(path, "looks like UTF-16 without a byte-order mark (every other byte is 0), not UTF-8",
                        hint=f"re-encode it, e.g. `iconv -f UTF-16{'BE' if even else 'LE'} -t UTF-8 IN > OUT`")
    return kind


def _lines(path: Path) -> Iterator[str]:
    """The file's text, streamed; a byte that is not UTF-8 is reported with its line."""
    handle = path.open("r", encoding="utf-8-sig", newline="")
    try:
        yield from handle
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    finally:
        handle.close()


def _not_utf8(path: Path) -> DataError:
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line += chunk[: exc.start].count(b"\n")
                byte = chunk[exc.start]
                return DataError(path, f"is not UTF-8 (byte 0x{byte:02x} on line {line})",
                                 hint="re-encode it, e.g. `iconv -f latin1 -t utf-8 IN > OUT` (or cp1252, the "
                                      "Windows spelling of Western European text)")
            line += chunk.count(b"\n")
    return DataError(path, "is not UTF-8")


def _columns(path: Path, kind: str) -> list[str]:
    """Column names: the CSV header, else the keys of every JSON record (one streaming pass)."""
    if kind in ("csv", "tsv"):
        header = next(_csv_rows(path, kind), (1, []))[1]
        columns = [c.strip() for c in header]
        seen: set[str] = set()
        for column in columns:
            if column in seen:
                raise DataError(path, f"line 1 names the column {column!r} twice",
                                hint="rename one of them; zoo-rank will not guess which is meant")
            seen.add(column)
        return columns
    keys: dict[str, None] = {}
    for _, record in _records(path, kind):
        keys.update(dict.fromkeys(record))
    return list(keys)


def _csv_rows(path: Path, kind: str) -> Iterator[tuple[int, list[str]]]:
    previous = csv.field_size_limit()
    csv.field_size_limit(min(MAX_FIELD, sys.maxsize))
    row_lines: list[str] = []  # the raw lines of the row being read: the reader takes just as many as it needs

    def lines() -> Iterator[str]:
        for line in _lines(path):
            row_lines.append(line)
            yield line

    reader = csv.reader(lines(), delimiter="," if kind == "csv" else "\t")
    start = 1
    try:
        for fields in reader:
            if reader.line_num > start and "".join(row_lines).count('"') % 2:
                raise DataError(path, f"a quote on line {start} is never closed: the field runs on to line "
                                      f"{reader.line_num}", hint="close the quote, or double it (\"\") inside a field")
            row_lines.clear()
            yield start, fields
            start = reader.line_num + 1
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise DataError(path, f"a field starting on line {start} is longer than {MAX_FIELD >> 20} MiB",
                            hint="a quote that opens a field is probably never closed") from None
        raise DataError(path, f"is not valid {kind.upper()} near line {reader.line_num} ({exc})",
                        hint="check its quoting") from None
    finally:
        csv.field_size_limit(previous)


def _records(path: Path, kind: str) -> Iterator[tuple[int, dict]]:
    """(line, record) for every data row."""
    if kind in ("csv", "tsv"):
        rows = _csv_rows(path, kind)
        header = [c.strip() for c in next(rows, (1, []))[1]]
        for line, fields in rows:
            if len(fields) > len(header):
                raise DataError(path, f"line {line} has more fields than the header",
                                hint="quote fields that contain the delimiter")
            if "\x00" in "".join(fields):
                raise DataError(path, f"line {line} contains NUL bytes", hint="is it a binary file? save it as UTF-8 text")
            yield line, dict(zip(header, fields))
        return
    if kind == "json":
        text = "".join(_lines(path))
        try:
            data = parse(text)
        except JSONProblem as exc:
            raise DataError(path, f"is not valid JSON ({exc})") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise DataError(path, "must hold a JSON array of objects", hint="or use JSON lines (.jsonl)")
        yield from enumerate(data, 1)
        return
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            record = parse(line)
        except JSONProblem as exc:
            raise DataError(path, f"line {number} is not valid JSON ({exc})",
                            hint="each line must be one JSON object") from None
        if not isinstance(record, dict):
            raise DataError(path, f"line {number} is not a JSON object")
        yield number, record


def _cell(path: Path, row: int, value, what: str):
    """A scalar cell as it is (str, number, bool, None); a list or object is refused, not stringified."""
    if isinstance(value, (list, dict)):
        raise DataError(path, f"line {row}: the {what} is a JSON {'array' if isinstance(value, list) else 'object'}, "
                              "not a single value", hint=f"give each row one {what}")
    return value


def _column(path: Path, columns: list[str], given: str | None, names: tuple[str, ...], what: str, option: str,
            required: bool = True) -> str | None:
    if given is not None:
        if given in columns:
            return given
        raise DataError(path, f"has no column {given!r} (columns: {', '.join(columns) or 'none'})",
                        hint=f"pass the right name with {option}")
    lowered = {c.lower(): c for c in columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    if required:
        if not columns:
            raise DataError(path, "has no data rows", hint="a header row and at least two labelled rows are needed")
        raise DataError(path, f"has no {what} column (columns: {', '.join(columns) or 'none'})",
                        hint=f"name it with {option}")
    return None
