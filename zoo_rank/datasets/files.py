"""Read a user's CSV, TSV or JSONL file into a ``Dataset``.

Columns are found by name (``--text-column`` and friends), else by the usual names of the
field (``text``/``sentence``/``sentence1``/``premise``, ``label``/``gold_label``/…). The
file must be UTF-8 (a byte-order mark is accepted); quoted fields may span lines.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ..errors import DataError
from .base import Dataset, build_dataset

TEXT_NAMES = ("text", "sentence", "sentence1", "text_a", "premise", "question", "question1", "content",
              "review", "document", "tweet")
PAIR_NAMES = ("text_pair", "sentence2", "text_b", "hypothesis", "question2")
LABEL_NAMES = ("label", "labels", "gold_label", "score", "target", "class", "category", "y")
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
MAX_BYTES = 2 << 30


def read_table(
    path: str | Path,
    *,
    text_column: str | None = None,
    pair_column: str | None = None,
    label_column: str | None = None,
    task_type: str | None = None,
    name: str | None = None,
) -> Dataset:
    path = Path(path)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(path, f"unknown data format {path.suffix or '(no suffix)'!r}",
                        hint=f"use one of {', '.join(sorted(SUFFIXES))}")
    if not path.is_file():
        raise DataError(path, "is not a file")
    if path.stat().st_size > MAX_BYTES:
        raise DataError(path, "is larger than 2 GiB", hint="sample it first; a task embedding needs ~1,000 examples")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(path, f"is not UTF-8 (byte 0x{raw[exc.start]:02x} on line {line})",
                        hint="re-encode it, e.g. `iconv -f latin1 -t utf-8 IN > OUT`") from None
    if "\x00" in text:
        raise DataError(path, "contains NUL bytes", hint="is it a binary file? save it as UTF-8 text")
    records, rows, columns = _records(path, kind, text)
    if not records:
        raise DataError(path, "has no data rows", hint="a header row and at least two labelled rows are needed")
    text_col = _column(path, columns, text_column, TEXT_NAMES, "text", "--text-column")
    label_col = _column(path, columns, label_column, LABEL_NAMES, "label", "--label-column")
    pair_col = _column(path, columns, pair_column, PAIR_NAMES, "second text", "--pair-column", required=False)
    if len({text_col, label_col, pair_col} - {None}) < 2 + (pair_col is not None):
        raise DataError(path, "the text, second-text and label columns must be different columns")
    return build_dataset(
        name or path.stem,
        str(path),
        [r.get(text_col) for r in records],
        [r.get(label_col) for r in records],
        pairs=[r.get(pair_col) for r in records] if pair_col else None,
        task_type=task_type,
        rows=rows,
        info={"columns": {"text": text_col, "pair": pair_col, "label": label_col}},
    )


def _records(path: Path, kind: str, text: str) -> tuple[list[dict], list[int], list[str]]:
    """(records, the line each starts on, column names)."""
    if kind in ("csv", "tsv"):
        import io

        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="," if kind == "csv" else "\t")
        try:
            columns = [c.strip() for c in (reader.fieldnames or []) if c is not None]
            reader.fieldnames = columns
            records, rows, start = [], [], 2
            for record in reader:
                if None in record:  # more fields than the header names
                    raise DataError(path, f"line {start} has more fields than the header",
                                    hint="quote fields that contain the delimiter")
                if any(v not in (None, "") for v in record.values()):  # skip blank lines
                    records.append(record)
                    rows.append(start)
                start = reader.line_num + 1
        except csv.Error as exc:
            raise DataError(path, f"is not valid {kind.upper()} near line {reader.line_num} ({exc})",
                            hint="check its quoting") from None
        return records, rows, columns
    if kind == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"is not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise DataError(path, "must hold a JSON array of objects", hint="or use JSON lines (.jsonl)")
        return data, list(range(1, len(data) + 1)), _keys(data)
    records, rows = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"line {number} is not valid JSON ({exc.msg})",
                            hint="each line must be one JSON object") from None
        if not isinstance(record, dict):
            raise DataError(path, f"line {number} is not a JSON object")
        records.append(record)
        rows.append(number)
    return records, rows, _keys(records)


def _keys(records: list[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for record in records:
        seen.update(dict.fromkeys(record))
    return list(seen)


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
        raise DataError(path, f"has no {what} column (columns: {', '.join(columns) or 'none'})",
                        hint=f"name it with {option}")
    return None
