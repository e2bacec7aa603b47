"""Numbered, in-place schema migrations for the registry (``PRAGMA user_version``).

Append a function to ``MIGRATIONS`` to change the schema; never edit one that has shipped.
Each runs inside the transaction that bumps ``user_version``, so a crash leaves the old
schema intact and the next open retries.
"""

from __future__ import annotations

import sqlite3


def _run(db: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT the surrounding transaction; run statement by statement.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _m001_initial(db: sqlite3.Connection) -> None:
    _run(
        db,
        """
        CREATE TABLE spaces (
            id TEXT PRIMARY KEY,
            base_model TEXT NOT NULL,
            family TEXT NOT NULL,
            embedder TEXT NOT NULL,
            embedder_version INTEGER NOT NULL,
            dim INTEGER NOT NULL,
            layout TEXT,
            generation INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            revision TEXT,
            content_sha256 TEXT NOT NULL UNIQUE,
            files TEXT NOT NULL,
            method TEXT NOT NULL,
            format TEXT NOT NULL,
            base_model TEXT NOT NULL,
            task TEXT,
            task_type TEXT,
            train_size INTEGER,
            metadata TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );
        CREATE INDEX entries_task ON entries(task);
        CREATE TABLE vectors (
            entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            space_id TEXT NOT NULL REFERENCES spaces(id),
            vector BLOB NOT NULL,
            norm REAL NOT NULL,
            PRIMARY KEY (entry_id, space_id)
        );
        CREATE INDEX vectors_space ON vectors(space_id, entry_id);
        """
    )


def _m002_meta_and_training(db: sqlite3.Connection) -> None:
    """Key/value facts about the registry (which built-in set was seeded), and lookups of
    trained entries by their training key and by the data they were trained on."""
    _run(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE INDEX entries_train_key ON entries(json_extract(metadata, '$.train_key'));
        CREATE INDEX entries_data_sha ON entries(json_extract(metadata, '$.data_sha256'))
        """,
    )


def _m003_hub_models(db: sqlite3.Connection) -> None:
    """What the hub said about adapter repos (search and pull results), kept for offline use;
    and lookups of entries by source (``hf://repo@sha/sub`` keys of pulled checkpoints)."""
    _run(
        db,
        """
        CREATE TABLE hub_models (
            repo_id TEXT PRIMARY KEY,
            sha TEXT,
            library TEXT,
            base_model TEXT,
            info TEXT NOT NULL,
            fetched_at TEXT NOT NULL
        );
        CREATE INDEX hub_models_base ON hub_models(base_model);
        CREATE INDEX entries_source ON entries(source)
        """,
    )


def _m004_space_sizes(db: sqlite3.Connection) -> None:
    """Each space's number of vectors, kept by triggers: counting a million rows on every
    ranking cost more than the search itself."""
    db.execute("ALTER TABLE spaces ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE spaces SET size = (SELECT COUNT(*) FROM vectors WHERE vectors.space_id = spaces.id)")
    db.execute("CREATE TRIGGER vectors_added AFTER INSERT ON vectors "
               "BEGIN UPDATE spaces SET size = size + 1 WHERE id = NEW.space_id; END")
    db.execute("CREATE TRIGGER vectors_removed AFTER DELETE ON vectors "
               "BEGIN UPDATE spaces SET size = size - 1 WHERE id = OLD.space_id; END")


def _m005_canonical_base_models(db: sqlite3.Connection) -> None:
    """One spelling per base model: `refresh` once registered catalog adapters under the catalog's
    literal ``bert-base-uncased`` while `add` and `pull` used ``google-bert/bert-base-uncased``, two
    spaces that never met. Entries, spaces and vectors move to the canonical name; a space that
    exists under both names is merged, and every space touched gets a new generation (its cached
    matrix is stale)."""
    import secrets

    from .spaces import Space
    from .weights import canonical_base_model

    for (name,) in db.execute("SELECT DISTINCT base_model FROM entries").fetchall():
        canonical = canonical_base_model(name) or name
        if canonical != name:
            db.execute("UPDATE entries SET base_model = ? WHERE base_model = ?", (canonical, name))
    for space_id, base_model in db.execute("SELECT id, base_model FROM spaces").fetchall():
        canonical = canonical_base_model(base_model) or base_model
        if canonical == base_model:
            continue
        old = Space.from_id(space_id)
        new = Space(canonical, old.family, old.embedder, old.version, old.dim, old.layout).id
        if db.execute("SELECT 1 FROM spaces WHERE id = ?", (new,)).fetchone() is None:
            db.execute("INSERT INTO spaces (id, base_model, family, embedder, embedder_version, dim, layout, "
                       "created_at) SELECT ?, ?, family, embedder, embedder_version, dim, layout, created_at "
                       "FROM spaces WHERE id = ?",
                       (new, canonical, space_id))
        db.execute("UPDATE OR IGNORE vectors SET space_id = ? WHERE space_id = ?", (new, space_id))
        db.execute("DELETE FROM vectors WHERE space_id = ?", (space_id,))  # an entry already in both: keep one
        db.execute("DELETE FROM spaces WHERE id = ?", (space_id,))
        db.execute("UPDATE spaces SET size = (SELECT COUNT(*) FROM vectors WHERE space_id = ?), generation = ? "
                   "WHERE id = ?", (new, secrets.randbits(62), new))


def _m006_vector_checksums(db: sqlite3.Connection) -> None:
    """A CRC-32 of each stored vector, checked on every read: random bytes inside a blob pass SQLite's
    integrity check and would rank as a wrong score (or NaN)."""
    import zlib

    if "crc" not in {row[1] for row in db.execute("PRAGMA table_info(vectors)")}:
        db.execute("ALTER TABLE vectors ADD COLUMN crc INTEGER")
    db.create_function("zoo_rank_crc32", 1, lambda blob: zlib.crc32(blob), deterministic=True)
    db.execute("UPDATE vectors SET crc = zoo_rank_crc32(vector)")


MIGRATIONS = [_m001_initial, _m002_meta_and_training, _m003_hub_models, _m004_space_sizes,
              _m005_canonical_base_models, _m006_vector_checksums]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection) -> int:
    """Bring the schema up to ``SCHEMA_VERSION``; returns the version found before."""
    from .errors import RegistryError

    found = db.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise RegistryError(
            f"registry schema version {found} is newer than this zoo-rank understands ({SCHEMA_VERSION})",
            hint="upgrade zoo-rank (`pip install -U zoo-rank`)",
        )
    if found == SCHEMA_VERSION:
        return found
    if found == 0 and db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'").fetchone():
        where = db.execute("PRAGMA database_list").fetchone()[2] or "the registry"
        raise RegistryError(
            f"{where}: holds zoo-rank's tables but says schema version 0 (its version number was reset)",
            hint="restore registry.db from a backup, or move it aside and start a new registry; zoo-rank will not "
                 "guess which migrations it has had",
        )
    db.execute("BEGIN IMMEDIATE")
    try:
        current = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
        for number in range(current, SCHEMA_VERSION):
            MIGRATIONS[number](db)
            db.execute(f"PRAGMA user_version = {number + 1}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found
