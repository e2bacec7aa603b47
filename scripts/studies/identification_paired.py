"""Did a training recipe change same-task identification? A paired test over the same zoo layout.

    python scripts/studies/identification_paired.py results/work/ident-120 results/work/ident-learned

Both folders are zoos that ``scripts/studies/identification.py`` trained (the same tasks and variants,
with different recipes) and embedded (its cached ``behaviour-deltas.npy``). For each adapter,
and each embedding (the behaviour embedder as shipped; the invariant embedder within its
family), whether its nearest other adapter is one of its task, under each recipe; then an exact
McNemar test on the adapters whose outcome changed (two-sided binomial test of the discordant
pairs), Holm-corrected over the table's rows, so a difference is called significant only when the
changed outcomes say so.
"""

from __future__ import annotations

import sys
from math import comb
from pathlib import Path

import numpy as np

from zoo_rank.embedders import EMBEDDERS
from zoo_rank.evaluation.significance import ALPHA, holm
from zoo_rank.embedders.behaviour import reduce
from zoo_rank.readers import read_checkpoint


def zoo(work: Path) -> dict[tuple[str, str], Path]:
    folders = sorted(p for p in (work / "checkpoints").iterdir() if p.is_dir() and not p.name.endswith(".partial"))
    return {tuple(p.name.split("--", 1)): p for p in folders}


def nearest_hits(vectors: np.ndarray, tasks: list[str], groups: list[str] | None = None) -> np.ndarray:
    """Per adapter: is its nearest other adapter (within its group, if given) of its task? Adapters
    with no other adapter of their task in their group are left out (as identification.py does)."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    allowed = np.ones_like(similarity, dtype=bool)
    if groups is not None:
        allowed = np.array(groups)[:, None] == np.array(groups)[None, :]
    np.fill_diagonal(allowed, False)
    same_task = np.array(tasks)[:, None] == np.array(tasks)[None, :]
    askable = (allowed & same_task).any(axis=1)
    nearest = np.where(allowed, similarity, -np.inf).argmax(axis=1)
    return np.array([tasks[int(j)] == tasks[i] for i, j in enumerate(nearest)])[askable]


def mcnemar(before: np.ndarray, after: np.ndarray) -> tuple[int, int, float]:
    """(gained, lost, exact two-sided p) over the adapters whose outcome changed."""
    gained, lost = int((~before & after).sum()), int((before & ~after).sum())
    n = gained + lost
    if n == 0:
        return gained, lost, 1.0
    tail = sum(comb(n, k) for k in range(min(gained, lost) + 1)) / 2 ** n
    return gained, lost, min(1.0, 2 * tail)


def outcomes(work: Path, keys: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    found = zoo(work)
    tasks = [task for task, _ in keys]
    behaviour = np.stack([reduce(np.load(found[k] / "behaviour-deltas.npy")) for k in keys])
    weights = [read_checkpoint(found[k]) for k in keys]
    invariant = [EMBEDDERS["invariant"].embed(w) for w in weights]
    families = [w.family for w in weights]
    width = max(e.vector.size for e in invariant)
    matrix = np.zeros((len(keys), width))
    for i, e in enumerate(invariant):
        matrix[i, : e.vector.size] = e.vector
    return {"behaviour, any method": nearest_hits(behaviour, tasks),
            "behaviour, within method": nearest_hits(behaviour, tasks, families),
            "invariant, within method": nearest_hits(matrix, tasks, families)}


def main() -> None:
    first, second = Path(sys.argv[1]), Path(sys.argv[2])
    keys = sorted(set(zoo(first)) & set(zoo(second)))
    a, b = outcomes(first, keys), outcomes(second, keys)
    print(f"{len(keys)} adapters in both zoos; {first.name} → {second.name}\n")
    print(f"| top-1 same task | {first.name} | {second.name} | gained | lost | exact McNemar p (Holm over the table) |")
    print("|---|---|---|---|---|---|")
    tests = {name: mcnemar(a[name], b[name]) for name in a}
    adjusted = dict(zip(tests, holm([p for _, _, p in tests.values()])))
    for name, (gained, lost, p) in tests.items():
        verdict = f"{p:.3f} (Holm {adjusted[name]:.3f})" + ("" if adjusted[name] < ALPHA else " not significant")
        n = len(a[name])
        print(f"| {name} | {a[name].sum()}/{n} | {b[name].sum()}/{n} | {gained} | {lost} | {verdict} |")


if __name__ == "__main__":
    main()
