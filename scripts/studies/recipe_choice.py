"""#37's cheaper recipe: each candidate's default predictor (ensemble, invariant, raw cosine)
against the committed default, paired over targets, and the rule of docs/method.md ("A cheaper
recipe") applied to them.

    python scripts/studies/recipe_choice.py --gains results/transfer-limited.jsonl \
        --committed results/predictions-limited.json \
        --candidate C=results/sweep/predictions-limited-C.json --candidate B=results/sweep/predictions-limited-B.json

ρ is the rank of the best source (lower is better); the test is the exact sign-flip test over
targets (two-sided). The cheapest candidate is listed first: the rule keeps it unless its mean ρ
is worse than another eligible candidate's by more than 0.5; a candidate is eligible when it is
not significantly worse than the committed default (p >= 0.05 or better in mean).
"""

from __future__ import annotations

import argparse

from zoo_rank.evaluation import evaluate, load_gains, load_predictions
from zoo_rank.evaluation.significance import sign_flip

COMMITTED = "TuPaTE ensemble learned 0.1 (invariant)"
MARGIN = 0.5
ALPHA = 0.05


def default_row(path: str, gains):
    """The row marked ``"default": true`` in a predictions file, else the ensemble of the rule's
    invariant raw variant it holds."""
    predictions = load_predictions(path)[0]
    name = next((n for n, p in predictions.items() if p.details.get("default")), None)
    if name is None:
        name = next(n for n, p in predictions.items() if n.startswith("TuPaTE ensemble learned")
                    and n.endswith("(invariant)"))
    rows = {r.method: r for r in evaluate(gains, {name: predictions[name]}).rows}
    return name, rows[name], predictions[name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gains", default="results/transfer-limited.jsonl")
    parser.add_argument("--committed", default="results/predictions-limited.json")
    parser.add_argument("--candidate", action="append", default=[], metavar="LABEL=FILE",
                        help="cheapest first")
    args = parser.parse_args()
    gains = load_gains(args.gains)
    committed = {r.method: r for r in evaluate(gains, load_predictions(args.committed)[0]).rows}[COMMITTED]
    base = {t: v["rho"] for t, v in committed.per_target.items()}
    print(f"committed default ({COMMITTED}): ρ {committed.rho:.2f} over {len(base)} targets")
    print("| candidate | ρ | ρ − committed | sign-flip p | eligible | CPU s / embedding (ensemble) |")
    print("|---|---:|---:|---:|---|---:|")
    results = []
    for spec in args.candidate:
        label, path = spec.split("=", 1)
        _, row, prediction = default_row(path, gains)
        per = {t: v["rho"] for t, v in row.per_target.items()}
        p = sign_flip(per, base)
        eligible = row.rho <= committed.rho or p >= ALPHA
        results.append((label, row.rho, eligible))
        cpu = prediction.cpu_seconds_per_embedding
        print(f"| {label} | {row.rho:.2f} | {row.rho - committed.rho:+.2f} | {p:.3f} | {'yes' if eligible else 'no'} | "
              f"{'-' if cpu is None else f'{cpu:.0f}'} |")
    eligible = [(label, rho) for label, rho, ok in results if ok]
    if not eligible:
        print("chosen: none (no candidate is eligible: the recipe stays)")
        return
    best = min(rho for _, rho in eligible)
    chosen = next(label for label, rho in eligible if rho - best <= MARGIN)  # the cheapest within the margin
    print(f"chosen: {chosen}")


if __name__ == "__main__":
    main()
