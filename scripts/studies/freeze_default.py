"""#38 step 3: the rule of docs/method.md ("Freezing the default before the external test")
applied to the 8-task and CR matrices pooled (18 targets).

    python scripts/studies/freeze_default.py

Candidates: the 24 ranking-time variants of the shipped recipe (``learned 0.1`` rows); each
against the current default, ρ (rank of the best source, lower is better) paired per target,
exact sign-flip test over the 18 targets, Holm over the 23 comparisons. The default changes only
to a candidate better with a Holm-adjusted p below 0.05 (the lowest mean if several).
"""

from __future__ import annotations

import argparse
import itertools

from zoo_rank.evaluation import evaluate, load_gains, load_predictions
from zoo_rank.evaluation.significance import ALPHA, tested_pairs, verdict_cell

CURRENT = "TuPaTE ensemble learned 0.1 (invariant)"
METHODS = ("bitfit", "lora", "prefix", "ensemble")
SPACES = ("invariant", "tupate", "behaviour")
# the predictions the default was frozen on: the committed files as they were then, before #37's E
# re-measured their ``learned 0.1`` rows (results/predictions-*.json now hold E's)
MATRICES = {"8-task": ("results/transfer-limited.jsonl", "results/sweep/predictions-limited-before-E.json"),
            "CR": ("results/transfer-cr-limited.jsonl", "results/sweep/predictions-cr-limited-before-E.json")}


def candidates() -> list[str]:
    return [f"TuPaTE {method} learned 0.1 ({space}{', centred' if centred else ''})"
            for method, space, centred in itertools.product(METHODS, SPACES, (False, True))]


def pooled_rho(names: list[str]) -> dict[str, dict[str, float]]:
    """{variant: {"<matrix>:<target>": ρ}} over both matrices."""
    pooled: dict[str, dict[str, float]] = {name: {} for name in names}
    for matrix, (gains_path, predictions_path) in MATRICES.items():
        predictions = load_predictions(predictions_path)[0]
        rows = {r.method: r for r in evaluate(load_gains(gains_path), {n: predictions[n] for n in names}).rows}
        for name in names:
            pooled[name].update({f"{matrix}:{t}": v["rho"] for t, v in rows[name].per_target.items()})
    return pooled


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    names = candidates()
    pooled = pooled_rho(names)
    current = pooled[CURRENT]
    others = [n for n in names if n != CURRENT]
    tested = tested_pairs([(pooled[n], current) for n in others])
    mean = sum(current.values()) / len(current)
    counts = ", ".join(f"{m}: {sum(1 for t in current if t.startswith(m + ':'))}" for m in MATRICES)
    print(f"current default ({CURRENT}): mean ρ {mean:.2f} over {len(current)} targets ({counts})")
    print("\n| candidate | mean ρ | − current (exact p, Holm over 23) |\n|---|---:|---|")
    better = []
    for name, (difference, p, adjusted) in sorted(zip(others, tested), key=lambda item: item[1][0]):
        values = pooled[name]
        print(f"| {name.removeprefix('TuPaTE ').replace(' learned 0.1', '')} | {sum(values.values()) / len(values):.2f} "
              f"| {verdict_cell(difference, p, adjusted)} |")
        if difference < 0 and adjusted < ALPHA:
            better.append((difference, name))
    chosen = min(better)[1] if better else CURRENT
    print(f"\nfrozen default: {chosen}" + ("" if better else " (no candidate is significantly better: unchanged)"))


if __name__ == "__main__":
    main()
