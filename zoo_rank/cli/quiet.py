"""Keeping the libraries' own chatter off a user's terminal.

torch, transformers, peft, huggingface_hub and Ray print deprecation notices, load reports,
progress bars and pickle-protocol warnings that say nothing to a zoo-rank user and push the
one line that matters (the answer, or the one-line error) out of view. The CLI silences them
before any of those libraries is imported; ``--debug`` leaves everything as the libraries want
it. zoo-rank's own warnings are not Python warnings (they are returned and printed as lines),
so ignoring the ``warnings`` module loses none of them. The Python API never calls this.
"""

from __future__ import annotations

import os
import warnings

_ENVIRONMENT = {
    "TRANSFORMERS_VERBOSITY": "error",  # load reports, "some weights were not initialised" notes
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # transformers' "Loading weights" bar and hub download bars
    "HF_HUB_DISABLE_IMPLICIT_TOKEN_WARNING": "1",
    "TOKENIZERS_PARALLELISM": "false",  # the fork warning of the tokenizers library
    "RAY_DEDUP_LOGS": "1",
    "RAY_DISABLE_IMPORT_WARNING": "1",
    "PYTHONWARNINGS": "ignore",  # the same for worker processes (Ray) started from here
}


_SET: list[str] = []  # the variables silence_libraries set (not those the user had)
_FILTERS: list = []  # the warning filters before it


def silence_libraries() -> None:
    """Set the libraries' quiet switches (a variable the user set wins) and ignore Python warnings."""
    for name, value in _ENVIRONMENT.items():
        if name not in os.environ:
            os.environ[name] = value
            _SET.append(name)
    if not _FILTERS:
        _FILTERS.append(list(warnings.filters))
    warnings.filterwarnings("ignore")


def unsilence_libraries() -> None:
    """Undo ``silence_libraries``: a ``--debug`` written after the command's first options
    (``zoo-rank --target T --debug``) is only read once the group has silenced them; no library
    is imported by then, so what they print is as if ``--debug`` had come first."""
    for name in _SET:
        os.environ.pop(name, None)
    _SET.clear()
    if _FILTERS:
        warnings.filters[:] = _FILTERS.pop()
        warnings.simplefilter("default", append=True)  # the implicit last rule, added to mark the filters changed
