"""Synthetic data that needs only numpy: labelled rows, CSV files, unit vectors in registry
spaces. The fast core tier (`pytest -m core`) uses these; factories.py adds checkpoints
written by torch, peft and adapters."""

from __future__ import annotations

from pathlib import Path

import numpy as np

WORDS = ("good great fine happy love nice bad awful poor sad hate terrible the a film movie plot story it was is "
         "and but not very really quite maybe perhaps may might seems clearly certainly team game win lose market "
         "price stock vote party election song actor phone software").split()


def sentiment_rows(n: int, seed: int = 0, *, regression: bool = False) -> list[dict]:
    """Template sentences whose label follows the words used (learnable, so training moves)."""
    rng = np.random.default_rng(seed)
    positive, negative = WORDS[:6], WORDS[6:12]
    rows = []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(positive if label else negative, 3)) + list(rng.choice(WORDS[12:22], 3))
        rng.shuffle(words)
        score = float(label) * 2 - 1 + float(rng.normal(0, 0.3))
        rows.append({"text": " ".join(words) + ".", "label": round(score, 3) if regression else ("pos" if label else "neg")})
    return rows


def write_csv(path: Path, rows: list[dict], *, delimiter: str = ",") -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def clustered_unit_vectors(n: int, dim: int, *, clusters: int = 50, spread: float = 0.6, seed: int = 0) -> np.ndarray:
    """Unit vectors around ``clusters`` random centres, like task embeddings of related tasks:
    uniform random vectors would make every neighbour equally far and any index look perfect
    or hopeless."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 50_000):
        size = min(50_000, n - start)
        noise = rng.standard_normal((size, dim)).astype(np.float32) * (spread / np.sqrt(dim))
        block = centres[rng.integers(0, clusters, size)] + noise
        out[start : start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def register_vectors(registry, vectors: np.ndarray, *, method: str = "lora", prefix: str = "a", methods=None):
    """Register each row as an entry of one synthetic space (base model ``m``)."""
    from zoo_rank.spaces import Space, TaskEmbedding
    from zoo_rank.registry import NewEntry

    space = Space("m", "lora", "invariant", 1, vectors.shape[1])
    items = [NewEntry(name=f"{prefix}{i}", source="synthetic", content_sha256=f"{prefix}-{i}", files={},
                      method=(methods[i] if methods is not None else method), format="peft", base_model="m",
                      embeddings=[TaskEmbedding(space, row, 1.0)], task=f"task-{prefix}{i}")
             for i, row in enumerate(vectors)]
    registry.insert(items)
    return space
