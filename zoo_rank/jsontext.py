"""JSON from files that users, hubs and catalogs write: every way a text can fail to be JSON zoo-rank
can use is one ``JSONProblem`` whose message says which, so each reader turns it into its one line.

``json.loads`` fails in three ways: malformed text (``JSONDecodeError``), nesting deeper than the
interpreter's recursion limit (``RecursionError``: a 1 MB file of ``[`` is enough), and an integer
longer than Python converts (``ValueError``, over 4,300 digits).
"""

from __future__ import annotations

import json


class JSONProblem(ValueError):
    """Why a text is not JSON zoo-rank can read, in words for a one-line error."""


def parse(text: str | bytes):
    """The value of ``text``, or a ``JSONProblem``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JSONProblem(f"{exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise JSONProblem("nested too deeply (over ~1,000 levels of arrays or objects)") from None
    except UnicodeDecodeError as exc:  # bytes that are no UTF-8 (a ValueError too: said before the last case)
        raise JSONProblem(f"not UTF-8 text (byte {exc.object[exc.start:exc.start + 1]!r} at {exc.start})") from None
    except ValueError as exc:  # an integer too long to convert
        raise JSONProblem(f"holds a number too long to read ({str(exc).split(':')[0]})") from None
