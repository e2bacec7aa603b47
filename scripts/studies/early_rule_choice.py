"""The early rule, chosen on the 8-task built-in matrix: each TuPaTE variant with the paper's 2
epochs against the same variant ended by the rule (``learned 0.1``), paired over targets.

    python scripts/studies/early_rule_choice.py [--gains results/transfer-limited.jsonl] \
        [--predictions results/sweep/predictions-limited-before-E.json] [--fraction 0.1]

Prints the markdown table of docs/method.md ("The early rule"): exact sign-flip p over targets,
Holm-corrected over the table; then the default (rule, invariant, raw, ensemble) against Random and
TaskEmb in ρ (the primary comparison, Holm over the two).
"""

from __future__ import annotations

import argparse

from zoo_rank.evaluation import evaluate, load_gains, load_predictions
from zoo_rank.evaluation.significance import tested_pairs, verdict_cell


def _tests(pairs: list[tuple[dict, dict]]) -> list[str]:
    """Exact sign-flip p over targets for each (a, b), Holm-corrected over the list."""
    return [verdict_cell(*t) for t in tested_pairs(pairs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gains", default="results/transfer-limited.jsonl")
    # the rule was chosen with the model's dropout: the committed predictions before #37's E re-measured them
    parser.add_argument("--predictions", nargs="+", default=["results/sweep/predictions-limited-before-E.json"])
    parser.add_argument("--fraction", default="0.1")
    args = parser.parse_args()
    predictions = {}
    for path in args.predictions:
        predictions.update(load_predictions(path)[0])
    rows = {r.method: r for r in evaluate(load_gains(args.gains), predictions).rows}

    def per(name: str, key: str, scale: float = 1.0) -> dict[str, float]:
        return {t: v[key] * scale for t, v in rows[name].per_target.items()}

    learned = f"learned {args.fraction}"
    print(f"| variant | ρ 2 epochs | ρ {learned} | {learned} − 2 epochs, ρ (exact p, Holm over the table) | "
          f"NDCG (papers') 2 epochs | NDCG (papers') {learned} |")
    print("|---|---|---|---|---|---|")
    variants = [(f"{method} ({embedder}{centred})", f"TuPaTE {method} ({embedder}{centred})",
                 f"TuPaTE {method} {learned} ({embedder}{centred})")
                for method in ("bitfit", "lora", "prefix", "ensemble") for embedder in ("invariant", "tupate", "behaviour")
                for centred in ("", ", centred")]
    variants = [v for v in variants if v[1] in rows and v[2] in rows]
    for (label, old, new), cell in zip(variants, _tests([(per(new, "rho"), per(old, "rho")) for _, old, new in variants])):
        print(f"| {label} | {rows[old].rho:.2f} | {rows[new].rho:.2f} | {cell} | "
              f"{rows[old].ndcg_paper * 100:.1f} | {rows[new].ndcg_paper * 100:.1f} |")
    default = f"TuPaTE ensemble {learned} (invariant)"
    print(f"\n{default}: ρ {rows[default].rho:.2f}, NDCG (papers') {rows[default].ndcg_paper * 100:.1f}")
    references = ("Random", "TaskEmb")
    cells = _tests([(per(default, "rho"), per(r, "rho")) for r in references])
    for reference, cell in zip(references, cells):
        print(f"- against {reference} (ρ {rows[reference].rho:.2f}): ρ {cell} (Holm over the two)")


if __name__ == "__main__":
    main()
