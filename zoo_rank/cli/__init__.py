"""``zoo-rank``: the command line, thin commands over the public API (``zoo_rank``).

One module per group of commands: ``rank`` (the default command, ``zoo-rank --target T``),
``entries`` (add, embed, list, show, remove, spaces), ``training`` (train, datasets, fetch),
``hub`` (search, pull, refresh, catalog) and ``bench`` (builtin build, bench, evaluate);
``root`` holds the group and ``common`` the options and output they share.
"""

from __future__ import annotations

from . import bench, entries, hub, rank, training  # noqa: F401  (each registers its commands on `cli`)
from .root import cli, main

__all__ = ["cli", "main"]
