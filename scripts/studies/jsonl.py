"""The resumable JSON-lines files the training scripts in scripts/studies/ append to, one run a line."""

from __future__ import annotations

import json
from pathlib import Path


def done_runs(path: str | Path, *fields: str) -> tuple[Path, set[tuple]]:
    """The file (its folder created) and the ``fields`` of every run already in it, so a rerun skips them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        return path, set()
    with path.open() as handle:
        return path, {tuple(row[f] for f in fields) for row in map(json.loads, handle)}


def append_run(path: Path, row: dict) -> None:
    with path.open("a") as handle:
        handle.write(json.dumps(row) + "\n")
