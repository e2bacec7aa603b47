"""The local registry: one SQLite file of spaces, entries and float32 vectors.

SQLite is the single source of truth: every write is one ``BEGIN IMMEDIATE`` transaction
(WAL mode, so readers never block and concurrent writers queue rather than fail), and the
same content (sha256 of config and weight files) is never stored twice. What is derived from
it for ranking (each space's memory-mappable matrix, the faiss indexes) belongs to the space
cache (``space_cache.py``), keyed by the space's generation, which every write here draws anew
at random.

Vectors are stored as float32, or as float16 once the registry's ``vector_dtype`` is set to
it (``ZOO_RANK_VECTOR_DTYPE=float16`` when a command writes, remembered by the registry):
half the disk and memory, and cosines within ~1e-3 of float32's (``docs/scale.md``). A blob's
length tells its type, so one registry may hold both.
"""

from __future__ import annotations

import json
import random
import secrets
import sqlite3
import time
import urllib.parse
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

import numpy as np

from . import settings
from .entries import ENTRY_COLUMNS, Entry, NewEntry, entry_from_row
from .errors import RegistryError
from .migrations import SCHEMA_VERSION, migrate
from .settings import default_home
from .space_cache import SpaceCache, SpaceMatrix
from .spaces import Space, TaskEmbedding

DB_NAME = "registry.db"
CORRUPT_HINT = ("move it aside (keep it for `sqlite3 registry.db .recover`), then rebuild: `zoo-rank refresh "
                "--offline` re-registers what the hub cache holds, `zoo-rank add` your own folders")
VECTOR_DTYPES = ("float32", "float16")


class Registry:
    """Open (creating and migrating if needed) the registry under ``home``."""

    def __init__(self, home: str | Path | None = None, *, builtin: bool | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.path = self.home / DB_NAME
        # builtin: copy the shipped built-in task embeddings in on first open (builtin_registry.py)
        self.builtin = settings.builtin_default() if builtin is None else builtin
        self._db: sqlite3.Connection | None = None
        self.read_only = False  # set on open: True where the file can be read but not written
        self.notes: list[str] = []  # said to the user beside a result (a cache that could not be written)
        self.committed = 0  # entries this object has registered (what a Ctrl-C after the commit must report)
        self.cache = SpaceCache(self.home)  # the derived files: ranking matrices and indexes

    # -- connection -----------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                db = self._open_writable()
            except (OSError, sqlite3.Error) as exc:
                self._refuse_if_damaged(exc)
                db = self._open_read_only(exc)
            self._db = db
            self._instance = None
            _ = self.instance  # named before any read transaction needs it (it may have to write it)
            wanted = settings.vector_dtype()
            if wanted:
                if wanted not in VECTOR_DTYPES:
                    raise RegistryError(f"{settings.VECTOR_DTYPE}={wanted!r} is not a vector type",
                                        hint=f"use one of: {', '.join(VECTOR_DTYPES)}")
                if self.get_meta("vector_dtype") != wanted and not self.read_only:
                    self.set_meta("vector_dtype", wanted)
            if self.builtin and not self.read_only:
                from .builtin_registry import seed

                try:
                    seed(self)
                except sqlite3.OperationalError:  # a read-only registry still ranks, without them
                    pass
        return self._db

    def _open_writable(self) -> sqlite3.Connection:
        self.home.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout = 60000")
            _enable_wal(db)
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA synchronous = NORMAL")
            migrate(db)
        except BaseException:
            db.close()
            raise
        self.read_only = False
        return db

    def _open_read_only(self, cause: Exception) -> sqlite3.Connection:
        """A registry on a read-only mount, or in a folder the user may read but not write, still
        lists and ranks (every write then fails with one line). ``immutable`` is the fallback where
        SQLite cannot even create the lock file that WAL readers share."""
        if not self.path.is_file():
            raise RegistryError(f"{self.path}: cannot create the registry ({cause})",
                                hint="set ZOO_RANK_HOME (or --home) to a folder you can write") from cause
        uri = f"file:{urllib.parse.quote(str(self.path.resolve()))}"
        for mode in ("?mode=ro", "?mode=ro&immutable=1"):
            wal = self.path.with_name(self.path.name + "-wal")
            if "immutable" in mode and wal.is_file() and wal.stat().st_size:
                # immutable reads the main file only: the entries still in the WAL would silently be missing
                raise RegistryError(f"{wal}: holds writes not yet in {self.path.name}, and this read-only folder "
                                    f"cannot hold the index SQLite needs to read them ({self.path.name}-shm)",
                                    hint="copy the registry folder somewhere writable (or open it once where it can "
                                         "be written, which folds the WAL into the database)") from cause
            db = sqlite3.connect(uri + mode, uri=True, timeout=60, isolation_level=None, check_same_thread=False)
            try:
                found = db.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.Error as exc:
                db.close()
                self._refuse_if_damaged(exc)
                continue
            if found != SCHEMA_VERSION:
                db.close()
                raise RegistryError(f"{self.path}: is read-only and has schema version {found}, not {SCHEMA_VERSION}",
                                    hint="open it once where it can be written, so that it can be upgraded")
            self.read_only, self._read_only_uri = True, uri + mode
            return db
        raise RegistryError(f"{self.path}: cannot open the registry ({cause})",
                            hint="check ZOO_RANK_HOME and its permissions") from cause

    def _refuse_if_damaged(self, exc: BaseException) -> None:
        if _is_corrupt(exc):
            raise RegistryError(f"{self.path}: is damaged ({exc})", hint=CORRUPT_HINT) from exc

    def _connect_again(self) -> sqlite3.Connection:
        """A second connection to the same file, opened the way the first one was."""
        if not self.read_only:
            return sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        return sqlite3.connect(self._read_only_uri, uri=True, timeout=60, check_same_thread=False)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _transaction(self):
        return _Transaction(self.db, self.path if self.read_only else None)

    # -- reads ----------------------------------------------------------------------
    def _entries(self, where: str = "", args: Iterable = ()) -> list[Entry]:
        rows = self.db.execute(f"SELECT {ENTRY_COLUMNS} FROM entries {where} ORDER BY name", tuple(args)).fetchall()
        entries = [entry_from_row(row) for row in rows]
        if entries and where:
            for entry in entries:
                entry.spaces = self._spaces_of(entry.id)
        elif entries:
            by_id = {e.id: e for e in entries}
            for entry_id, space_id in self.db.execute("SELECT entry_id, space_id FROM vectors ORDER BY space_id"):
                by_id[entry_id].spaces.append(space_id)
        return entries

    def _spaces_of(self, entry_id: int) -> list[str]:
        rows = self.db.execute("SELECT space_id FROM vectors WHERE entry_id = ? ORDER BY space_id", (entry_id,))
        return [row[0] for row in rows]

    def entries(self) -> list[Entry]:
        return self._entries()

    def get(self, name: str) -> Entry | None:
        found = self._entries("WHERE name = ?", (name,))
        return found[0] if found else None

    def require(self, name: str) -> Entry:
        entry = self.get(name)
        if entry is None:
            raise RegistryError(f"no entry named {name!r} in {self.path}", hint="run `zoo-rank list` to see the names")
        return entry

    def by_task(self, task: str) -> list[Entry]:
        return self._entries("WHERE task = ?", (task,))

    def by_content(self, content_sha256: str) -> Entry | None:
        found = self._entries("WHERE content_sha256 = ?", (content_sha256,))
        return found[0] if found else None

    def by_train_key(self, key: str) -> Entry | None:
        """The entry a training run with this key (``TrainConfig.key``) registered, if any."""
        found = self._entries("WHERE json_extract(metadata, '$.train_key') = ?", (key,))
        return found[0] if found else None

    def by_data(self, data_sha256: str) -> list[Entry]:
        """Entries trained on exactly this data (``Dataset.sha256``), newest first."""
        return self._newest_with("data_sha256", data_sha256)

    def by_examples(self, examples_sha256: str) -> list[Entry]:
        """Entries trained on these examples under either task type (``Dataset.examples_sha256``), newest first."""
        return self._newest_with("examples_sha256", examples_sha256)

    def _newest_with(self, key: str, value: str) -> list[Entry]:
        found = self._entries(f"WHERE json_extract(metadata, '$.{key}') = ?", (value,))
        return sorted(found, key=lambda e: (e.created_at, e.id), reverse=True)

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       (key, value))

    def by_source_prefix(self, prefix: str) -> dict[str, Entry]:
        """``{source: entry}`` for sources starting with ``prefix`` (e.g. ``hf://``)."""
        found = self._entries("WHERE source >= ? AND source < ?", (prefix, prefix + "\uffff"))
        return {entry.source: entry for entry in found}

    def hub_models(self, base_model: str | None = None) -> list[dict]:
        """Hub metadata stored by `search` and `pull` (``HubModel.to_dict()`` each), by repo id."""
        sql = "SELECT info FROM hub_models" + (" WHERE base_model = ?" if base_model else "") + " ORDER BY repo_id"
        return [json.loads(row[0]) for row in self.db.execute(sql, (base_model,) if base_model else ())]

    def save_hub_models(self, models: list[dict]) -> None:
        """Insert or update hub metadata (one transaction)."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._transaction() as db:
            for info in models:
                db.execute(
                    "INSERT INTO hub_models (repo_id, sha, library, base_model, info, fetched_at) VALUES (?,?,?,?,?,?) "
                    "ON CONFLICT(repo_id) DO UPDATE SET sha = excluded.sha, library = excluded.library, "
                    "base_model = excluded.base_model, info = excluded.info, fetched_at = excluded.fetched_at",
                    (info["repo_id"], info.get("sha"), info.get("library"), info.get("base_model"),
                     json.dumps(info, default=str), now),
                )

    def embeddings_of(self, entry: Entry) -> list[TaskEmbedding]:
        rows = self.db.execute("SELECT space_id, vector, norm, crc FROM vectors WHERE entry_id = ?", (entry.id,))
        embeddings = []
        for space_id, blob, norm, crc in rows:
            space = Space.from_id(space_id)
            _, vectors = _intact(self.db, space_id, [(entry.id, blob, crc)], space.dim)
            embeddings.append(TaskEmbedding(space, vectors[0], norm, {"entry": entry.name}))
        return embeddings

    def spaces(self) -> list[tuple[Space, int]]:
        rows = self.db.execute("SELECT id, size FROM spaces ORDER BY id")  # size: kept by triggers
        return [(Space.from_id(space_id), count) for space_id, count in rows]

    # -- writes ---------------------------------------------------------------------
    def insert(self, items: list[NewEntry]) -> list[tuple[str, Entry]]:
        """Register ``items`` in one transaction: all of them, or (on error) none.

        Returns ``("added", entry)`` or ``("exists", entry)`` per item; content that is already
        registered (by sha256) is not stored again, under any name.
        """
        return self.commit(items)[0]

    def replace_embeddings(self, entry: Entry, embeddings: list[TaskEmbedding]) -> Entry:
        """Swap an entry's vectors from the embedders of ``embeddings`` for these (after an embedder
        version change), atomically; vectors from other embedders (``zoo-rank embed``'s) stay."""
        return self.commit([], [(entry, embeddings)])[1][0]

    def commit(self, items: list[NewEntry], renewed: list[tuple[Entry, list[TaskEmbedding]]] = (), *,
               retired: Iterable[Entry] = ()) -> tuple[list[tuple[str, Entry]], list[Entry]]:
        """One transaction for what an ingestion brings: ``items`` registered (see ``insert``) and, for
        each ``(entry, embeddings)`` of ``renewed``, the entry's vectors from those embedders swapped
        for these (other embedders' vectors stay); the ``retired`` entries removed first (what a new
        shipped set replaces). All of it, or on error none of it."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        statuses: list[tuple[str, int]] = []
        dtype = self.get_meta("vector_dtype") or "float32"
        with self._transaction() as db:
            touched: set[str] = set()
            for entry in retired:
                db.execute("DELETE FROM entries WHERE id = ?", (entry.id,))
                touched |= set(entry.spaces)
            for item in items:
                row = db.execute("SELECT id FROM entries WHERE content_sha256 = ?", (item.content_sha256,)).fetchone()
                if row:
                    statuses.append(("exists", row[0]))
                    continue
                if db.execute("SELECT 1 FROM entries WHERE name = ?", (item.name,)).fetchone():
                    raise RegistryError(
                        f"name {item.name!r} is already taken by other content in {self.path}",
                        hint="pass --name to register it under another name, or `zoo-rank remove` the old one",
                    )
                cursor = db.execute(
                    "INSERT INTO entries (name, source, revision, content_sha256, files, method, format, base_model, "
                    "task, task_type, train_size, metadata, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (item.name, item.source, item.revision, item.content_sha256, json.dumps(item.files), item.method,
                     item.format, item.base_model, item.task, item.task_type, item.train_size,
                     json.dumps(item.metadata, default=str), now),
                )
                for emb in item.embeddings:
                    _insert_vector(db, cursor.lastrowid, emb, now, dtype)
                    touched.add(emb.space.id)
                statuses.append(("added", cursor.lastrowid))
            for entry, embeddings in renewed:
                touched |= _swap_vectors(db, entry.id, embeddings, now, dtype)
            _bump(db, touched)
        self.committed += sum(status == "added" for status, _ in statuses)
        by_id = lookup(self, [entry_id for _, entry_id in statuses])
        for entry in by_id.values():
            entry.spaces = self._spaces_of(entry.id)
        return [(status, by_id[entry_id]) for status, entry_id in statuses], [self.require(e.name) for e, _ in renewed]

    def put_embedding(self, entry: Entry, embedding: TaskEmbedding) -> Entry:
        """Give an entry its vector from ``embedding``'s embedder, replacing any it had from
        another version of that embedder; atomic, and the entry's other vectors stay."""
        return self.replace_embeddings(entry, [embedding])

    def remove(self, name: str) -> Entry:
        entry = self.require(name)
        with self._transaction() as db:
            db.execute("DELETE FROM entries WHERE id = ?", (entry.id,))
            _bump(db, set(entry.spaces))
        return entry

    # -- ranking matrices -------------------------------------------------------------
    def space_info(self, space_id: str) -> tuple[str, int, int]:
        """(generation token, dimension, number of vectors) of a space; see ``generation_token``."""
        row = self.db.execute("SELECT generation, dim, size FROM spaces WHERE id = ?", (space_id,)).fetchone()
        if row is None:
            raise RegistryError(f"no space {space_id!r} in {self.path}", hint="run `zoo-rank spaces`")
        return self.generation_token(row[0]), row[1], row[2]

    @property
    def instance(self) -> str:
        """A random id this registry database got when it was created (kept in ``meta``).

        Derived files are named after it as well as the space's generation: a registry deleted
        and made anew restarts its generation counters, and a cache keyed by the counter alone
        would hand the new registry the old one's vectors (a target found as its own candidate).
        """
        if getattr(self, "_instance", None) is None:
            found = self.get_meta("instance")
            if found is None:
                found = secrets.token_hex(8)
                try:
                    self.set_meta("instance", found)
                except (sqlite3.Error, RegistryError):  # read-only: the file's identity instead, stable while it exists
                    st = self.path.stat()
                    found = f"ro{st.st_ino:x}{st.st_ctime_ns:x}"
            self._instance = found
        return self._instance

    def generation_token(self, generation: int) -> str:
        """What derived files of a space are named after: this registry's instance and the space's generation."""
        return f"{self.instance}-{generation}"

    def space_ids(self, space_id: str) -> np.ndarray:
        rows = self.db.execute("SELECT entry_id FROM vectors WHERE space_id = ? ORDER BY entry_id", (space_id,))
        return np.fromiter((row[0] for row in rows), dtype=np.int64)

    def vectors_for(self, space_id: str, entry_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """(entry ids, float32 rows) of these entries' vectors in a space (for re-scoring a shortlist)."""
        found: list[tuple[int, bytes, int | None]] = []
        for chunk in _chunks([int(i) for i in entry_ids]):
            marks = ",".join("?" * len(chunk))
            found += self.db.execute(f"SELECT entry_id, vector, crc FROM vectors WHERE space_id = ? AND entry_id IN "
                                     f"({marks})", (space_id, *chunk)).fetchall()
        return _intact(self.db, space_id, found, Space.from_id(space_id).dim)

    def iter_space(self, space_id: str, rows: int = 32_768):
        """Yield (entry ids, float32 block) over a space in entry order, from one read snapshot."""
        db = self._connect_again()  # its own snapshot, not our transaction
        try:
            yield from _vector_blocks(db, space_id, Space.from_id(space_id).dim, rows)
        finally:
            db.close()

    def space_matrix(self, space_id: str) -> SpaceMatrix:
        """All vectors of a space as a (memory-mapped where possible) float32 matrix, from the
        space cache when it holds the current generation, else read in one snapshot and cached."""
        db = self.db
        db.execute("BEGIN")  # one read snapshot: generation and rows agree
        try:
            row = db.execute("SELECT generation, dim, size FROM spaces WHERE id = ?", (space_id,)).fetchone()
            if row is None:
                raise RegistryError(f"no space {space_id!r} in {self.path}", hint="run `zoo-rank spaces`")
            generation, dim, count = row
            token = self.generation_token(generation)
            found = self.cache.load(space_id, token)
            if found is None:
                found = self.cache.build(space_id, token, (count, dim), _vector_blocks(db, space_id, dim, 16_384),
                                         float16=self.get_meta("vector_dtype") == "float16",
                                         writable=not self.read_only, notes=self.notes)
        finally:
            db.execute("COMMIT")
        return found


def _enable_wal(db: sqlite3.Connection, attempts: int = 600) -> None:
    """Switch a new database to WAL. Two processes creating the registry at once can both hold a
    read lock while asking for the write lock; SQLite then answers "database is locked" at once,
    without waiting on busy_timeout (it would otherwise deadlock), so the switch is retried here."""
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 + 0.05 * random.random())


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; rolls back on any exception, Ctrl-C included."""

    def __init__(self, db: sqlite3.Connection, read_only: Path | None = None) -> None:
        self.db = db
        self.read_only = read_only

    def __enter__(self) -> sqlite3.Connection:
        if self.read_only is not None:
            raise RegistryError(f"{self.read_only}: the registry is read-only here; it can rank but not change",
                                hint="point ZOO_RANK_HOME (or --home) at a writable copy to add, remove or train")
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _is_corrupt(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text)


def _swap_vectors(db: sqlite3.Connection, entry_id: int, embeddings: list[TaskEmbedding], now: str,
                  dtype: str) -> set[str]:
    """Inside a transaction: an entry's vectors from the embedders of ``embeddings`` replaced by
    these; returns the spaces touched."""
    embedders = sorted({emb.space.embedder for emb in embeddings})
    old = {row[0] for row in db.execute(
        "SELECT v.space_id FROM vectors v JOIN spaces s ON s.id = v.space_id WHERE v.entry_id = ? "
        f"AND s.embedder IN ({','.join('?' * len(embedders))})", (entry_id, *embedders))}
    db.executemany("DELETE FROM vectors WHERE entry_id = ? AND space_id = ?", [(entry_id, space_id) for space_id in old])
    for emb in embeddings:
        _insert_vector(db, entry_id, emb, now, dtype)
    return old | {emb.space.id for emb in embeddings}


def decode(blob: bytes, dim: int) -> np.ndarray:
    """A stored vector as float32, whichever type it was stored in."""
    if len(blob) == 4 * dim:
        return np.frombuffer(blob, dtype=np.float32)
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


def _vector_blocks(db: sqlite3.Connection, space_id: str, dim: int, rows: int):
    """(entry ids, float32 block) over a space's vectors in entry order, ``rows`` at a time."""
    cursor = db.execute("SELECT entry_id, vector, crc FROM vectors WHERE space_id = ? ORDER BY entry_id", (space_id,))
    while batch := cursor.fetchmany(rows):
        yield _intact(db, space_id, batch, dim)


def _intact(db: sqlite3.Connection, space_id: str, rows: list[tuple[int, bytes, int | None]],
            dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(entry ids, float32 matrix) of stored ``(entry id, blob, crc32)`` rows, each checked against the checksum
    it was written with and for finite values: random bytes in a blob pass SQLite's integrity check, and would
    otherwise rank as NaN or, worse, as a plausible wrong score. One error names the damaged entries."""
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    changed = np.array([crc is not None and zlib.crc32(blob) != crc for _, blob, crc in rows], dtype=bool)
    matrix = _decode_rows([blob for _, blob, _ in rows], dim) if rows else np.empty((0, dim), np.float32)
    bad = changed | ~np.isfinite(matrix).all(axis=1)
    if not bad.any():
        return ids, matrix
    names = [row[0] for i in ids[bad][:3]
             for row in db.execute("SELECT name FROM entries WHERE id = ?", (int(i),)).fetchall()]
    listed = ", ".join(repr(n) for n in names) + (f" and {int(bad.sum()) - 3} more" if bad.sum() > 3 else "")
    what = "does not match the checksum it was stored with" if changed.any() else "holds NaN or infinite values"
    raise RegistryError(f"the registry's stored vector of {listed} in space {space_id} {what} "
                        "(the database file is damaged)",
                        hint=f"`zoo-rank remove {names[0] if names else 'NAME'}` and add it again (`zoo-rank refresh` "
                             "for pulled adapters), or restore registry.db from a backup")


def _decode_rows(blobs: list[bytes], dim: int) -> np.ndarray:
    """Stored vectors as one float32 matrix (one pass when they share a type)."""
    if blobs and all(len(b) == 2 * dim for b in blobs):
        return np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), dim).astype(np.float32)
    if all(len(b) == 4 * dim for b in blobs):
        return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)
    return np.stack([decode(b, dim) for b in blobs])


def _insert_vector(db: sqlite3.Connection, entry_id: int, emb: TaskEmbedding, now: str, dtype: str = "float32") -> None:
    space = emb.space
    db.execute(
        "INSERT OR IGNORE INTO spaces (id, base_model, family, embedder, embedder_version, dim, layout, created_at) "
        "VALUES (?,?,?,?,?,?,?,?)",
        (space.id, space.base_model, space.family, space.embedder, space.version, space.dim, space.layout, now),
    )
    blob = np.ascontiguousarray(emb.vector, dtype).tobytes()
    db.execute("INSERT INTO vectors (entry_id, space_id, vector, norm, crc) VALUES (?,?,?,?,?)",
               (entry_id, space.id, blob, emb.norm, zlib.crc32(blob)))


def _bump(db: sqlite3.Connection, space_ids: set[str]) -> None:
    """Give each written space a new generation, drawn at random rather than counted: a registry
    restored from a backup counts from the backup's numbers again, and a counter would then reach
    the numbers of cache files written after the backup (other content, the same name). A random
    generation names one content: a cache file of the restored state is still right, and none
    written since can be taken for a new one."""
    for space_id in space_ids:
        db.execute("UPDATE spaces SET generation = ? WHERE id = ?", (secrets.randbits(62), space_id))


def _chunks(values: list, size: int = 900):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def lookup(registry: Registry, ids: Iterable[int]) -> dict[int, Entry]:
    """Entries by id (without their space lists): cheap for the top of a large ranking."""
    found: dict[int, Entry] = {}
    for chunk in _chunks([int(i) for i in ids]):
        marks = ",".join("?" * len(chunk))
        for row in registry.db.execute(f"SELECT {ENTRY_COLUMNS} FROM entries WHERE id IN ({marks})", chunk):
            found[row[0]] = entry_from_row(row)
    return found


def column(registry: Registry, name: str, **where: str | None) -> dict[int, object]:
    """``{entry id: value of column name}`` for entries matching the given column values."""
    allowed = {"task", "task_type", "method", "base_model", "name"}
    if name not in allowed or not set(where) <= allowed:
        raise ValueError(f"unknown column in {name!r}, {sorted(where)}")
    filters = {k: v for k, v in where.items() if v is not None}
    clause = " AND ".join(f"{k} = ?" for k in filters)
    sql = f"SELECT id, {name} FROM entries" + (f" WHERE {clause}" if clause else "")
    return dict(registry.db.execute(sql, tuple(filters.values())).fetchall())
