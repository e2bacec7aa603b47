"""The early rule, chosen on the 8-task built-in matrix: each TuPaTE variant with the paper's 2
epochs against the same variant ended by the rule (``learned 0.1``), paired over targets.

    python scripts/studies/early_rule_choice.py [--gains results/transfer-limited.jsonl] \
        [--predictions results/predictions-limited.json] [--fraction 0.1]

Prints the markdown table of docs/method.md ("The early rule"), then the default (rule,
invariant, raw, ensemble) against Random and TaskEmb, in ρ and NDCG.
"""

from __future__ import annotations

import argparse

from zoo_rank.evaluation import evaluate, load_gains, load_predictions
from zoo_rank.evaluation.significance import paired_bootstrap


def _verdict(comparison) -> str:
    return f"{comparison.difference} {'**significant**' if comparison.significant else 'not significant'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gains", default="results/transfer-limited.jsonl")
    parser.add_argument("--predictions", nargs="+", default=["results/predictions-limited.json"])
    parser.add_argument("--fraction", default="0.1")
    args = parser.parse_args()
    predictions = {}
    for path in args.predictions:
        predictions.update(load_predictions(path)[0])
    rows = {r.method: r for r in evaluate(load_gains(args.gains), predictions).rows}

    def per(name: str, key: str, scale: float = 1.0) -> dict[str, float]:
        return {t: v[key] * scale for t, v in rows[name].per_target.items()}

    learned = f"learned {args.fraction}"
    print(f"| variant | ρ 2 epochs | ρ {learned} | {learned} − 2 epochs, ρ [95% CI] | NDCG 2 epochs | NDCG {learned} |")
    print("|---|---|---|---|---|---|")
    for method in ("bitfit", "lora", "prefix", "ensemble"):
        for embedder in ("invariant", "tupate", "behaviour"):
            for centred in ("", ", centred"):
                old, new = f"TuPaTE {method} ({embedder}{centred})", f"TuPaTE {method} {learned} ({embedder}{centred})"
                if old in rows and new in rows:
                    print(f"| {method} ({embedder}{centred}) | {rows[old].rho:.2f} | {rows[new].rho:.2f} | "
                          f"{_verdict(paired_bootstrap(per(new, 'rho'), per(old, 'rho')))} | "
                          f"{rows[old].ndcg_score * 100:.1f} | {rows[new].ndcg_score * 100:.1f} |")
    default = f"TuPaTE ensemble {learned} (invariant)"
    print(f"\n{default}: ρ {rows[default].rho:.2f}, NDCG {rows[default].ndcg_score * 100:.1f}")
    for reference in ("Random", "TaskEmb"):
        rho = paired_bootstrap(per(default, "rho"), per(reference, "rho"))
        ndcg = paired_bootstrap(per(default, "ndcg_score", 100), per(reference, "ndcg_score", 100))
        print(f"- against {reference} (ρ {rows[reference].rho:.2f}, NDCG {rows[reference].ndcg_score * 100:.1f}): "
              f"ρ {_verdict(rho)} (p {rho.p:.3f}); NDCG {_verdict(ndcg)}")


if __name__ == "__main__":
    main()
