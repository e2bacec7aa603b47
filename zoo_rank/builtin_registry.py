"""The built-in default: embeddings of the built-in tasks, shipped inside the package.

``zoo_rank/data/builtin.db`` is an ordinary zoo-rank registry holding, for the default base
model, a BitFit, a LoRA and a prefix-tuning embedding of every built-in task (trained on its
train split). It is made by ``zoo-rank builtin build`` and copied into each user registry the
first time that registry is opened (and again when a newer zoo-rank ships a different set),
so a fresh install ranks against it with no download. Copied entries are ordinary entries:
``zoo-rank remove`` deletes them and they are not copied back until the shipped set changes.
Set ``ZOO_RANK_BUILTIN=0`` (or ``--no-builtin``) for a registry without them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np

from .spaces import Space, TaskEmbedding

SHIPPED_DB = Path(__file__).parent / "data" / "builtin.db"
VERSION_KEY = "builtin_version"
TASKS_KEY = "builtin_tasks"  # the cards of the tasks built in from a task collection (their data does not ship)
SEEDED_KEY = "builtin_seeded"
SOURCE_PREFIX = "builtin:"


def _connect_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)


def shipped_version(path: Path | None = None) -> str | None:
    path = path or SHIPPED_DB
    if not path.is_file():
        return None
    db = _connect_read_only(path)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (VERSION_KEY,)).fetchone()
    except sqlite3.Error:
        return None
    finally:
        db.close()
    return row[0] if row else None


def shipped_entries(path: Path | None = None, *, vectors: bool = True) -> list:
    """The shipped entries as ``NewEntry`` objects, ready for ``Registry.insert``; ``vectors=False``:
    their metadata only (what an estimate reads), without decoding every vector."""
    path = path or SHIPPED_DB
    from .entries import ENTRY_COLUMNS, as_new, entry_from_row

    db = _connect_read_only(path)
    try:
        rows = db.execute(f"SELECT {ENTRY_COLUMNS} FROM entries ORDER BY name").fetchall()
        stored: dict[int, list[TaskEmbedding]] = {}
        for entry_id, space_id, blob, norm in (db.execute("SELECT entry_id, space_id, vector, norm FROM vectors")
                                               if vectors else ()):
            stored.setdefault(entry_id, []).append(
                TaskEmbedding(Space.from_id(space_id), np.frombuffer(blob, dtype=np.float32).copy(), norm, {}))
    finally:
        db.close()
    return [as_new(entry, stored.get(entry.id, [])) for entry in map(entry_from_row, rows)]


def seed(registry, path: Path | None = None) -> int:
    """Copy the shipped entries into ``registry`` once per shipped version; returns how many were added.

    Entries whose content is already there are skipped, and so are names the user has taken
    for other content: the user's registry always wins. Copies of an earlier shipped set that
    this one no longer holds (its runs retrained with another recipe, a task dropped) are
    replaced in the same transaction: left beside the new set, they would be ranked as
    candidates of another recipe than the shipped default's targets.
    """
    path = path or SHIPPED_DB
    version = shipped_version(path)
    if version is None or registry.get_meta(SEEDED_KEY) == version:
        return 0
    shipped = shipped_entries(path)
    contents = {item.content_sha256 for item in shipped}
    present = registry.entries()
    retired = [e for e in present if e.source.startswith(SOURCE_PREFIX) and e.content_sha256 not in contents]
    gone = {e.id for e in retired}
    taken = {e.name for e in present if e.id not in gone}
    items = [item for item in shipped if item.name not in taken]
    added = sum(status == "added" for status, _ in registry.commit(items, retired=retired)[0]) if items or retired else 0
    registry.set_meta(SEEDED_KEY, version)
    return added


def shipped_cards(path: Path | None = None) -> dict[str, dict]:
    """{task: card} of the tasks built in from a task collection (``zoo-rank builtin build
    --tasks-dir``): type, size, provenance and licence, for a listing without their data."""
    path = path or SHIPPED_DB
    if not path.is_file():
        return {}
    db = _connect_read_only(path)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (TASKS_KEY,)).fetchone()
    except sqlite3.Error:
        return {}
    finally:
        db.close()
    return json.loads(row[0]) if row else {}


def finish(home: Path, out: Path, cards: dict[str, dict] | None = None) -> Path:
    """Write a compact copy of the registry under ``home`` to ``out``, stamped with a version,
    with the ``cards`` of the tasks built in from a collection.

    The copy's sources read ``builtin:<name>``; the registry under ``home`` is left as it is.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(home / "registry.db")
    try:
        source.execute("VACUUM INTO ?", (str(tmp),))
    finally:
        source.close()
    db = sqlite3.connect(tmp)
    try:
        digest = hashlib.sha256()
        for sha, spaces in db.execute(
            "SELECT e.content_sha256, group_concat(v.space_id, ' ') FROM entries e JOIN vectors v ON v.entry_id = e.id "
            "GROUP BY e.id ORDER BY e.content_sha256"
        ):
            digest.update(json.dumps([sha, sorted(spaces.split(" "))]).encode())
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (VERSION_KEY, digest.hexdigest()[:16]))
        db.execute("DELETE FROM meta WHERE key IN (?, 'instance')", (SEEDED_KEY,))  # each copy gets its own id
        if cards:
            kept = {task: {k: v for k, v in card.items() if k != "source_folder"} for task, card in cards.items()}
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                       (TASKS_KEY, json.dumps(kept, sort_keys=True)))
        db.execute("UPDATE entries SET source = ? || name", (SOURCE_PREFIX,))
        db.commit()
        db.execute("PRAGMA journal_mode = DELETE")
        db.execute("VACUUM")
    finally:
        db.close()
    tmp.replace(out)
    return out
