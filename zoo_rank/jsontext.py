"""JSON from files that users, hubs and catalogs write: every way a text can fail to be JSON zoo-rank
can use is one ``JSONProblem`` whose message says which, so each reader turns it into its one line.

``json.loads`` fails in three ways: malformed text (``JSONDecodeError``), nesting deeper than the
interpreter's recursion limit (``RecursionError``: a 1 MB file of ``[`` is enough), and an integer
longer than Python converts (``ValueError``, over 4,300 digits).
"""

from __future__ import annotations

import json
from collections.abc import Iterator


class JSONProblem(ValueError):
    """Why a text is not JSON zoo-rank can read, in words for a one-line error."""


def parse(text: str | bytes):
    """The value of ``text``, or a ``JSONProblem``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JSONProblem(f"{exc.msg} at line {exc.lineno}") from None
    except UnicodeDecodeError as exc:  # bytes that are no UTF-8 (a ValueError too: said before the last case)
        raise JSONProblem(f"not UTF-8 text (byte {exc.object[exc.start:exc.start + 1]!r} at {exc.start})") from None
    except (RecursionError, ValueError) as exc:
        raise _beyond_the_parser(exc) from None


def _beyond_the_parser(exc: RecursionError | ValueError) -> JSONProblem:
    """What the parser cannot take: nesting past the recursion limit, an integer too long to convert."""
    if isinstance(exc, RecursionError):
        return JSONProblem("nested too deeply (over ~1,000 levels of arrays or objects)")
    return JSONProblem(f"holds a number too long to read ({str(exc).split(':')[0]})")


class NotAnArray(JSONProblem):
    """The text is not a JSON array (an object, say): a reader may say what it wants instead."""


MAX_ITEM = 64 << 20  # one item of a streamed array longer than this (in characters) is refused
_SPACE = " \t\n\r"


def array_items(handle, chunk: int = 1 << 20) -> Iterator[tuple[int, object]]:
    """(line, value) for each item of the JSON array a text file holds, read ``chunk`` characters at
    a time: memory follows the largest item, not the file. A file that is not one array, or an
    item over ``MAX_ITEM`` characters, is a ``JSONProblem``."""
    decoder = json.JSONDecoder()
    text, at, ended = "", 0, False
    line, counted = 1, 0  # the line of text[counted]: counted forward only, never from the start again

    def line_of(position: int) -> int:
        nonlocal line, counted
        if position >= counted:
            line += text.count("\n", counted, position)
            counted = position
            return line
        return line - text.count("\n", position, counted)

    def more(size: int = chunk) -> bool:
        nonlocal text, at, ended, counted
        if ended:
            return False
        line_of(at)
        read = handle.read(size)
        ended = not read
        text, at, counted = text[at:] + read, 0, 0
        return bool(read)

    def too_long() -> JSONProblem:
        size = f"{MAX_ITEM >> 20} MiB" if MAX_ITEM >= 1 << 20 else f"{MAX_ITEM:,} characters"
        return JSONProblem(f"an item at line {line_of(at)} is over {size}")

    def skip_space() -> str:
        nonlocal at
        while True:
            while at < len(text) and text[at] in _SPACE:
                at += 1
            if at < len(text) or not more():
                return text[at:at + 1]

    start = skip_space()
    if start != "[":
        if start and start in '{"-0123456789tfn':
            raise NotAnArray("not an array (the file must start with [)")
        raise JSONProblem("Expecting value at line 1" if start else "empty")
    at += 1
    first = True
    while True:
        mark = skip_space()
        if mark == "]" and first:
            at += 1
            break
        if not first:
            if mark == "]":
                at += 1
                break
            if mark != ",":
                raise JSONProblem(f"expected , or ] at line {line_of(at)}"
                                  if mark else "the array is never closed")
            at += 1
            skip_space()
        first = False
        while True:
            try:
                value, end = decoder.raw_decode(text, at)
            except json.JSONDecodeError as exc:
                if len(text) - at > MAX_ITEM:
                    raise too_long() from None
                if more(max(chunk, len(text) - at)):  # the item goes on: read as much again, not chunk by chunk
                    continue
                raise JSONProblem(f"{exc.msg} at line {line_of(exc.pos)}") from None
            except (RecursionError, ValueError) as exc:
                raise _beyond_the_parser(exc) from None
            if end == len(text) and more():  # a number may go on in the next chunk
                continue
            if end - at > MAX_ITEM:
                raise too_long()
            break
        yield line_of(at), value
        at = end
    if skip_space():
        raise JSONProblem(f"extra data after the array at line {line_of(at)}")
