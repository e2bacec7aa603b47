"""Read a user's CSV, TSV or JSONL file into a ``Dataset``.

Columns are found by name (``--text-column`` and friends), else by the usual names of the
field (``text``/``sentence``/``sentence1``/``premise``, ``label``/``gold_label``/…). The
file must be UTF-8 (a byte-order mark is accepted); quoted fields may span lines.

The file is streamed: only the chosen columns of each row are kept (a 200 MB file with ten
columns would otherwise be held as a million dicts, ~3 GB), and every check names the line.
"""

from __future__ import annotations

import codecs
import csv
import sys
from functools import cached_property
from pathlib import Path
from collections.abc import Iterator, Sequence

from ..errors import DataError
from ..jsontext import JSONProblem, NotAnArray, array_items, parse
from .base import Dataset, digests
from .collect import Checked, Collector, draw, label_reading
from .records import read_records, record_type

TEXT_NAMES = ("text", "sentence", "sentence1", "text_a", "premise", "question", "question1", "content",
              "review", "document", "tweet")
PAIR_NAMES = ("text_pair", "sentence2", "text_b", "hypothesis", "question2")
LABEL_NAMES = ("label", "labels", "gold_label", "score", "target", "class", "category", "y")
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
MAX_BYTES = 2 << 30
MAX_FIELD = 64 << 20  # one CSV field longer than this is an unclosed quote, not a document
_BOMS = {codecs.BOM_UTF32_LE: "UTF-32", codecs.BOM_UTF32_BE: "UTF-32", codecs.BOM_UTF16_LE: "UTF-16",
         codecs.BOM_UTF16_BE: "UTF-16"}


def read_table(path: str | Path, **options) -> Dataset:
    """Read and check a data file, every example in memory; ``options`` are ``scan_table``'s (the
    columns, the task type, the name). Every problem is one ``DataError`` naming the file and line."""
    return scan_table(path, **options).load()


def scan_table(
    path: str | Path,
    *,
    text_column: str | None = None,
    pair_column: str | None = None,
    label_column: str | None = None,
    task_type: str | None = None,
    name: str | None = None,
) -> DataFile | Dataset:
    """Check a data file in one streamed pass and keep a few bytes per row: what a target or a
    training run reads, whatever the file's size (the examples it trains on are read again).
    A JSON file of multiple-choice or extractive-QA records (``records.py``) is read whole into a
    ``Dataset``: its examples are structured, and such sets are thousands of rows, not millions."""
    path = Path(path)
    kind = check_file(path)
    structured = _record_type(path, kind)
    if structured is not None:
        given = [option for option, value in (("--text-column", text_column), ("--pair-column", pair_column),
                                              ("--label-column", label_column)) if value is not None]
        if given:
            raise DataError(path, f"holds {structured} examples, whose fields have fixed names: {given[0]} does "
                                  "not apply", hint="see docs/training.md (\"Multiple choice and extractive QA\")")
        if task_type not in (None, structured):
            raise DataError(path, f"holds {structured} examples, not {task_type}", hint="drop --task-type")
        return read_records(str(path), structured, _records(path, kind), name or path.stem)
    columns = _columns(path, kind)
    text_col = _column(path, columns, text_column, TEXT_NAMES, "text", "--text-column")
    label_col = _column(path, columns, label_column, LABEL_NAMES, "label", "--label-column")
    pair_col = _column(path, columns, pair_column, PAIR_NAMES, "second text", "--pair-column", required=False)
    if len({text_col, label_col, pair_col} - {None}) < 2 + (pair_col is not None):
        raise DataError(path, "the text, second-text and label columns must be different columns")
    stat = path.stat()
    wanted = (text_col, pair_col, label_col)
    collector = Collector(str(path), task_type, pairs=pair_col is not None)
    for row, text, pair, label in _examples(path, kind, wanted):
        collector.add(row, text, pair, label)
    if not collector.count:
        raise DataError(path, "has no data rows", hint="a header row and at least two labelled rows are needed")
    info = {"columns": {"text": text_col, "pair": pair_col, "label": label_col}}
    return DataFile(name or path.stem, path, kind, wanted, collector.finish(), info, (stat.st_size, stat.st_mtime_ns))


class DataFile:
    """A data file checked once and held as its labels: the ``Dataset`` interface without the
    texts in memory. ``sample`` and ``load`` read the file again for the examples they return;
    the content hashes are one more pass, made once. A file changed between two reads is refused."""

    def __init__(self, name: str, path: Path, kind: str, wanted: tuple, checked: Checked, info: dict,
                 stamp: tuple[int, int]) -> None:
        self.name, self.path, self.source = name, path, str(path)
        self.task_type, self.label_names = checked.task_type, checked.label_names
        self.info, self.warnings = info, checked.warnings
        self._kind, self._wanted, self._checked, self._stamp = kind, wanted, checked, stamp
        self._digests: tuple[str, str] | None = None

    def __len__(self) -> int:
        return len(self._checked)

    @property
    def num_labels(self) -> int:
        return 1 if self.task_type == "regression" else len(self.label_names or ())

    def label_reading(self) -> str:
        values = self._checked.values
        if values is not None:
            return label_reading(self.task_type, None, float(values.min()), float(values.max()))
        return label_reading(self.task_type, self.label_names)

    @property
    def labels(self) -> list:
        return self._checked.labels()

    @property
    def texts(self) -> list[str]:
        """Every text: the file is read into memory once, on first use (``load`` says so)."""
        return self._loaded.texts

    @property
    def pairs(self) -> list[str] | None:
        return self._loaded.pairs if self._wanted[1] else None

    @cached_property
    def _loaded(self) -> Dataset:
        return self.load()

    def sha256(self) -> str:
        return self.content_hashes()[0]

    def examples_sha256(self) -> str:
        return self.content_hashes()[1]

    def content_hashes(self) -> tuple[str, str]:
        """(``sha256()``, ``examples_sha256()``): one more pass over the file, made once."""
        if self._digests is None:
            self._digests = digests(self.task_type, ((t, p, y) for _, t, p, y in self._read(None)))
        return self._digests

    def sample(self, n: int | None, seed: int = 0) -> Dataset:
        """At most ``n`` examples, drawn as ``Dataset.sample`` draws them (the same rows)."""
        if not n or n >= len(self):
            return self.load()
        return self.subset(draw(len(self), n, seed, self._checked.members()))

    def subset(self, indices: Sequence[int], name: str | None = None) -> Dataset:
        texts, pairs, labels = [], [] if self._wanted[1] else None, []
        for _, text, pair, label in self._read(set(indices)):
            texts.append(text)
            labels.append(label)
            if pairs is not None:
                pairs.append(pair)
        return Dataset(name or self.name, self.source, self.task_type, texts, labels, pairs, self.label_names,
                       dict(self.info), list(self.warnings))

    def load(self) -> Dataset:
        """Every example, in memory."""
        return self.subset(range(len(self)))

    def split(self, test_fraction: float = 0.2, salt: str = "") -> tuple[Dataset, Dataset]:
        """As ``Dataset.split``; it needs every example in memory."""
        return self.load().split(test_fraction, salt)

    def _read(self, keep: set[int] | range | None):
        """(index, text, pair, label) of the rows in ``keep`` (all when None), labels as checked."""
        if self._stamp != ((stat := self.path.stat()).st_size, stat.st_mtime_ns):
            raise DataError(self.path, "changed since it was read", hint="run the command again")
        labels = self._checked.labels_of()
        index = -1
        for index, (_, text, pair, _) in enumerate(_examples(self.path, self._kind, self._wanted)):
            if keep is None or index in keep:
                yield index, str(text), None if pair is None else str(pair), labels(index)
        if index + 1 != len(self):
            raise DataError(self.path, "changed since it was read", hint="run the command again")


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


def _record_type(path: Path, kind: str) -> str | None:
    """The task type the first JSON record's fields say (multiple choice, extractive QA), else None."""
    if kind not in ("json", "jsonl"):
        return None
    first = next(_records(path, kind), None)
    return record_type(first[1]) if first is not None else None


def _csv_rows(path: Path, kind: str) -> Iterator[tuple[int, list[str]]]:
    previous = csv.field_size_limit()
    csv.field_size_limit(min(MAX_FIELD, sys.maxsize))
    row_lines: list[str] = []  # the raw lines of the row being read: the reader takes just as many as it needs

    def lines() -> Iterator[str]:
        for number, line in enumerate(_lines(path), 1):
            if "\x00" in line:
                raise DataError(path, f"line {number} contains NUL bytes",
                                hint="is it a binary file? save it as UTF-8 text")
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


def _examples(path: Path, kind: str, wanted: tuple) -> Iterator[tuple[int, object, object, object]]:
    """(line, text, pair, label) for every data row, in file order; blank lines are skipped."""
    names = ("text", "second text", "label")
    if kind not in ("csv", "tsv"):
        for line, record in _records(path, kind):
            text, pair, label = (_cell(path, line, record.get(c), what) if c else None for c, what in zip(wanted, names))
            yield line, text, pair, label
        return
    rows = _csv_rows(path, kind)
    header = [c.strip() for c in next(rows, (1, []))[1]]
    width = len(header)
    at = [header.index(c) if c else None for c in wanted]
    for line, fields in rows:
        if len(fields) > width:
            raise DataError(path, f"line {line} has more fields than the header",
                            hint="quote fields that contain the delimiter")
        text, pair, label = (fields[i] if i is not None and i < len(fields) else None for i in at)
        if text in (None, "") and pair in (None, "") and label in (None, ""):
            continue  # a blank line
        yield line, text, pair, label


def _records(path: Path, kind: str) -> Iterator[tuple[int, dict]]:
    """(line, record) for every record of a JSON or JSON-lines file."""
    if kind == "json":
        handle = path.open("r", encoding="utf-8-sig", newline="")
        try:
            for line, record in array_items(handle):
                if not isinstance(record, dict):
                    raise DataError(path, "must hold a JSON array of objects", hint="or use JSON lines (.jsonl)")
                yield line, record
        except NotAnArray:
            raise DataError(path, "must hold a JSON array of objects", hint="or use JSON lines (.jsonl)") from None
        except JSONProblem as exc:
            raise DataError(path, f"is not valid JSON ({exc})") from None
        except UnicodeDecodeError:
            raise _not_utf8(path) from None
        finally:
            handle.close()
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
