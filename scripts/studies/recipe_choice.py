"""#37's cheaper recipe: each candidate's default predictor (ensemble, invariant, raw cosine)
against the committed default, paired over targets, and the rule of docs/method.md ("A cheaper
recipe") applied to them.

    python scripts/studies/recipe_choice.py --gains results/transfer-limited.jsonl \
        --committed results/sweep/predictions-limited-before-E.json \
        --candidate C=results/sweep/predictions-limited-C.json --candidate B=results/sweep/predictions-limited-B.json

On a matrix the candidates are only reported on (``--report``), no choice is made: each
candidate against the committed default and each ``--pair A:B`` are tested, Holm-corrected
together, and per-target ρ is printed:

    python scripts/studies/recipe_choice.py --gains results/transfer-cr-limited.jsonl \
        --committed results/sweep/predictions-cr-limited-before-E.json --report --pair E:D \
        --candidate D=results/sweep/predictions-cr-limited-D.json --candidate E=results/sweep/predictions-cr-limited-E.json

ρ is the rank of the best source (lower is better); the test is the exact sign-flip test over
targets (two-sided). The cheapest candidate is listed first: the rule keeps it unless its mean ρ
is worse than another eligible candidate's by more than 0.5; a candidate is eligible when it is
not significantly worse than the committed default (p >= 0.05 or better in mean).
"""

from __future__ import annotations

import argparse

from zoo_rank.evaluation import evaluate, load_gains, load_predictions
from zoo_rank.evaluation.significance import sign_flip, tested_pairs, verdict_cell

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
    # the default the candidates were chosen against: the committed predictions before E replaced its rows
    parser.add_argument("--committed", default="results/sweep/predictions-limited-before-E.json")
    parser.add_argument("--candidate", action="append", default=[], metavar="LABEL=FILE",
                        help="cheapest first")
    parser.add_argument("--report", action="store_true",
                        help="a matrix to report on, not to choose on: tests (Holm over the table) and per-target ρ")
    parser.add_argument("--pair", action="append", default=[], metavar="A:B",
                        help="with --report: also test candidate A against candidate B")
    args = parser.parse_args()
    gains = load_gains(args.gains)
    committed = {r.method: r for r in evaluate(gains, load_predictions(args.committed)[0]).rows}[COMMITTED]
    base = {t: v["rho"] for t, v in committed.per_target.items()}
    print(f"committed default ({COMMITTED}): ρ {committed.rho:.2f} over {len(base)} targets")
    if args.report:
        report(gains, base, args.candidate, args.pair)
        return
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


def report(gains, base: dict, candidates: list[str], pairs: list[str]) -> None:
    """Each candidate against the committed default, and each pair, Holm over all of them."""
    per, cpu = {"committed": base}, {}
    for spec in candidates:
        label, path = spec.split("=", 1)
        _, row, prediction = default_row(path, gains)
        per[label] = {t: v["rho"] for t, v in row.per_target.items()}
        cpu[label] = prediction.cpu_seconds_per_embedding
    comparisons = [(label, "committed") for label in per if label != "committed"]
    comparisons += [tuple(pair.split(":", 1)) for pair in pairs]
    tests = tested_pairs([(per[a], per[b]) for a, b in comparisons])
    print("| comparison | ρ a | ρ b | a − b (exact sign-flip p, Holm over the table) |\n|---|---:|---:|---|")
    mean = {label: sum(values.values()) / len(values) for label, values in per.items()}
    for (a, b), (difference, p, adjusted) in zip(comparisons, tests):
        print(f"| {a} vs {b} | {mean[a]:.2f} | {mean[b]:.2f} | {verdict_cell(difference, p, adjusted)} |")
    targets = sorted(base)
    print("\n| target | " + " | ".join(per) + " |\n|---|" + "---:|" * len(per))
    for target in targets:
        print(f"| {target} | " + " | ".join(f"{per[label].get(target, float('nan')):g}" for label in per) + " |")
    print("\nCPU s / embedding (ensemble): " + ", ".join(f"{label} {'-' if c is None else f'{c:.0f}'}"
                                                        for label, c in cpu.items()))


if __name__ == "__main__":
    main()
