"""``docs/results.md``: the measured comparison, its heatmaps, its provenance and its commands.

The file is regenerated from the committed results; a hand-written analysis between the
``<!-- analysis -->`` markers survives regeneration (numbers change, the reading of them is
written by a person who looked).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DependencyError
from .gains import GainMatrix
from .predict import Prediction, tupate_name
from .significance import ALPHA, verdict_cell, tested_pairs
from .table import Evaluation, Row, seed_noise

ANALYSIS = re.compile(r"<!-- analysis -->.*?<!-- /analysis -->", re.S)
# The paper's own setting (BitFit, its tupate mode, uncentred) early and best, fixed before any result
HEATMAP_METHODS = ("TuPaTE bitfit (tupate)", "TuPaTE bitfit best (tupate)", "TextEmb", "TaskEmb")
PER_TARGET_METHODS = ("Random", "DataSize (full split)", "TextEmb", "TaskEmb", "CurveGrad",
                      "TuPaTE bitfit (tupate)", "TuPaTE bitfit best (tupate)",
                      "TuPaTE ensemble (tupate)", "TuPaTE ensemble best (tupate)")


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}f}"


def _commits(predictions: dict[str, Prediction], provenance: dict) -> str:
    """Which commit computed which method group (groups are added to the file one at a time)."""
    by_commit: dict[str, list[str]] = {}
    for p in predictions.values():
        commit = p.details.get("git_commit") or provenance.get("git_commit")
        groups = by_commit.setdefault(str(commit), [])
        if p.details.get("group", "?") not in groups:
            groups.append(p.details.get("group", "?"))
    return "; ".join(f"commit `{c}` ({', '.join(sorted(g))})" for c, g in by_commit.items())


def _run_commits(gains: GainMatrix) -> str:
    """Every commit the transfer runs were made at (a long run spans several), with its count."""
    return ", ".join(f"`{commit}` ({count} runs)" for commit, count in gains.commits.items()) or "an unknown commit"


def _test_sizes(gains: GainMatrix, tasks: list[str]) -> str:
    sizes = {t: gains.test_sizes[t] for t in tasks if t in gains.test_sizes}
    full = max(sizes.values(), default=0)
    fewer = [f"{t} {n}" for t, n in sorted(sizes.items()) if n < full]
    return f"{full} for every task" if not fewer else f"{full}; fewer where the test split is smaller: {', '.join(fewer)}"


def _metrics(gains: GainMatrix, tasks: list[str]) -> str:
    by_metric: dict[str, list[str]] = {}
    for t in tasks:
        by_metric.setdefault(gains.metric.get(t, "?"), []).append(t)
    names = {"accuracy": "accuracy", "pearson": "Pearson r", "mcc": "Matthews correlation", "f1": "F1",
             "spearman": "Spearman"}
    return "; ".join(f"{names.get(m, m)}: {', '.join(ts)}" for m, ts in sorted(by_metric.items()))


def _paper_section(evaluation: Evaluation, gains: GainMatrix) -> str:
    """The side-by-side with the paper, for a ground truth on task folders (the paper's CR tasks)."""
    if not gains.provenance.get("tasks_dir"):
        return ""
    return ("## Beside the paper (Table 2, LIMITED → LIMITED, CR, in-class)\n\n"
            "The paper fine-tunes BERT-base on 11 CR tasks; here the base model and the task list are this run's "
            "(SciTail could not be obtained). NDCG here is computed the papers' way (relevance N − true rank, gain "
            "2^relevance − 1); the paper's rows are not re-measured and its base model and samples differ, so "
            "the columns are set side by side, not tested against each other.\n\n" + paper_markdown(evaluation)
            + "\n\n")


def table_markdown(evaluation: Evaluation) -> str:
    ks = evaluation.ks
    head = ("| method | ρ ↓ | NDCG (papers' convention) ↑ | NDCG (score relevance) ↑ | "
            + " | ".join(f"Regret@{k} ↓" for k in ks) + " | s / embedding | CPU s / embedding |")
    lines = [head, "|" + "---|" * (6 + len(ks))]
    for family in ("baseline", "tupate"):
        for row in sorted((r for r in evaluation.rows if r.family == family), key=lambda r: r.method):
            lines.append(f"| {row.method} | {_fmt(row.rho)} | {_fmt(_points(row.ndcg_paper), 1)} | "
                         f"{_fmt(_points(row.ndcg_score), 1)} | " + " | ".join(_fmt(row.regret[k]) for k in ks)
                         + f" | {_fmt(row.seconds_per_embedding, 1)} | {_fmt(row.cpu_seconds_per_embedding, 1)} |")
    return "\n".join(lines)


def _points(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _per_target(row: Row, key: str) -> dict[str, float]:
    """A row's metric per target; NDCG in points (× 100), as the tables print it."""
    return {t: v[key] * (100 if key.startswith("ndcg") else 1) for t, v in row.per_target.items()}


def primary_markdown(evaluation: Evaluation, predictions: dict[str, Prediction]) -> str:
    """The one comparison a report stands on, named before its numbers: the default that
    `zoo-rank --target` uses against TaskEmb and against Random, in ρ, exact sign-flip test over
    targets, Holm over the two."""
    rows = {r.method: r for r in evaluation.rows}
    shipped = shipped_row(evaluation, predictions)
    refs = [m for m in ("TaskEmb", "Random") if m in rows]
    head = ("**Primary comparison** (named before the numbers): the default that `zoo-rank --target` uses (the row "
            "marked `\"default\": true`) against TaskEmb and against Random, in ρ over the "
            f"{len(evaluation.targets)} targets; exact paired sign-flip test (every assignment of signs to the "
            "per-target differences), Holm-corrected over these comparisons, significant at 0.05. Every other "
            "comparison in this report is secondary.")
    if shipped is None or not refs:
        return head + "\n\nNot available: the predictions file marks no default, or lacks the references."
    tested = tested_pairs([(_per_target(shipped, "rho"), _per_target(rows[r], "rho")) for r in refs])
    lines = [head, "", "| default | ρ | reference | ρ reference | default − reference (p, Holm) |",
             "|---|---:|---|---:|---|"]
    for ref, (mean, p, adjusted) in zip(refs, tested):
        lines.append(f"| {shipped.method} | {_fmt(shipped.rho)} | {ref} | {_fmt(rows[ref].rho)} | "
                     f"{verdict_cell(mean, p, adjusted)} |")
    floor = 2 / 2 ** len(evaluation.targets)
    lines.append(f"\nA negative difference is better (a lower ρ). With {len(evaluation.targets)} targets the exact "
                 f"test cannot go below p {floor:.4f} (higher where targets tie: a tie is no evidence either way).")
    return "\n".join(lines)


def early_vs_best_markdown(evaluation: Evaluation, predictions: dict[str, Prediction]) -> str:
    """Each best-checkpoint variant beside the early variant it differs from only in mode, with a
    paired bootstrap over targets of the difference in ρ (best costs several times the training: a
    reader needs to know whether it buys anything real)."""
    rows = {r.method: r for r in evaluation.rows}
    pairs = []
    for name, p in sorted(predictions.items()):
        d = p.details
        if p.family == "tupate" and d.get("mode") == "best" and name in rows:
            early = tupate_name(d["method"], d["embedder"], d["centred"], "early")
            if early in rows:
                pairs.append((early.removeprefix("TuPaTE "), rows[early], rows[name]))
    if not pairs:
        return ("Not measured yet: `zoo-rank bench predict --methods tupate-best` trains every source and "
                "target in best mode and adds these rows.")
    lines = ["| variant | ρ early | ρ best | ρ best − early (p, Holm) | NDCG (papers') early | NDCG (papers') best "
             "| Regret@1 early | Regret@1 best | s / embedding early | s / embedding best |", "|---|" + "---|" * 9]
    significant = []
    tested = tested_pairs([(_per_target(b, "rho"), _per_target(e, "rho")) for _, e, b in pairs])
    for (variant, e, b), test in zip(pairs, tested):
        if test[2] < ALPHA:
            significant.append(variant)
        cells = [_fmt(e.rho), _fmt(b.rho), verdict_cell(*test),
                 _fmt(_points(e.ndcg_paper), 1), _fmt(_points(b.ndcg_paper), 1), _fmt(e.regret.get(1)),
                 _fmt(b.regret.get(1)), _fmt(e.seconds_per_embedding, 1), _fmt(b.seconds_per_embedding, 1)]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    better = sum(b.rho < e.rho for _, e, b in pairs)
    worse = sum(b.rho > e.rho for _, e, b in pairs)
    early_rho, best_rho = (sum(r.rho for r in side) / len(pairs) for side in zip(*[(e, b) for _, e, b in pairs]))
    lines.append(f"\nMean ρ over these {len(pairs)} variants: early {_fmt(early_rho)}, best {_fmt(best_rho)}; "
                 f"best checkpoints rank better in {better}, worse in {worse}, equal in {len(pairs) - better - worse}. "
                 + (f"The difference is significant for {len(significant)} ({', '.join(significant)}) and not "
                    f"significant for the other {len(pairs) - len(significant)}."
                    if significant else "No difference is significant (exact sign-flip over targets, Holm over "
                    f"the {len(pairs)} pairs)."))
    return "\n".join(lines)


def significance_markdown(evaluation: Evaluation, gains: GainMatrix, references: tuple[str, ...] = ("TaskEmb", "Random")
                          ) -> str:
    """Every method's mean ρ and NDCG (papers' convention) with a 95% bootstrap interval over
    targets (descriptive), and its paired differences from the reference methods: exact sign-flip
    p over targets, Holm-corrected across every comparison of the table, called significant or not."""
    from .significance import bootstrap_mean

    rows = {r.method: r for r in evaluation.rows}
    refs = [m for m in references if m in rows]
    compared = [(label, key, ref) for label, key in (("ρ", "rho"), ("NDCG", "ndcg_paper")) for ref in refs]
    head = "| method | ρ [95% CI] | NDCG (papers') [95% CI] | " + " | ".join(
        f"{label} − {ref} (p, Holm)" for label, _, ref in compared) + " |"
    lines = [head, "|---|---|---|" + "---|" * len(compared)]
    ordered = [row for family in ("baseline", "tupate")
               for row in sorted((r for r in evaluation.rows if r.family == family), key=lambda r: r.method)]
    cells_of = [(row, key, ref) for row in ordered for _, key, ref in compared if ref != row.method]
    tested = dict(zip([(row.method, key, ref) for row, key, ref in cells_of],
                      tested_pairs([(_per_target(row, key), _per_target(rows[ref], key)) for row, key, ref in cells_of])))
    for row in ordered:
        cells = [str(bootstrap_mean(list(_per_target(row, "rho").values()))),
                 str(bootstrap_mean(list(_per_target(row, "ndcg_paper").values())))]
        for _, key, ref in compared:
            cells.append("·" if ref == row.method else verdict_cell(*tested[(row.method, key, ref)]))
        lines.append(f"| {row.method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\n{len(cells_of)} comparisons, Holm-corrected together."


def separability_markdown(gains: GainMatrix, targets: list[str], tasks: list[str]) -> str:
    """Per target: is the best source's gain distinguishable from the runner-up's, over seeds (paired t)?"""
    from .significance import paired_t, split_half

    lines = ["| target | best source | runner-up | gains (mean) | paired t | p | separable at 5%? |",
             "|---|---|---|---|---|---|---|"]
    separable = 0
    for target in targets:
        ranked = sorted((s for s in tasks if s != target), key=lambda s: -gains.cells[(s, target)].mean)
        best, second = ranked[0], ranked[1]
        seeds = sorted(set(gains.per_seed[(best, target)]) & set(gains.per_seed[(second, target)]))
        t, p = paired_t([gains.per_seed[(best, target)][k] for k in seeds],
                        [gains.per_seed[(second, target)][k] for k in seeds])
        ok = p == p and p < 0.05
        separable += ok
        lines.append(f"| {target} | {best} | {second} | {gains.cells[(best, target)].mean:+.1f} vs "
                     f"{gains.cells[(second, target)].mean:+.1f} | {_fmt(t)} | {_fmt(p, 3)} | "
                     f"{'yes' if ok else 'no'} |")
    reliability = split_half({c: v for c, v in gains.per_seed.items() if c[1] in targets and c[0] in tasks},
                             gains.seeds)
    lines.append(f"\nThe best source is separable from the runner-up on {separable} of {len(targets)} targets. "
                 f"Split-half reliability of the gain matrix (seeds split in two, Spearman–Brown corrected, "
                 f"averaged over splits): **{_fmt(reliability)}**.")
    return "\n".join(lines)


# Zhou, Xu & McAuley (EMNLP 2022), Table 2: LIMITED → LIMITED, CR tasks, in-class (10 candidates), BERT-base:
# (paper's row, this project's method, ρ, NDCG). The paper's P-tuning is deep prompt tuning, our prefix tuning.
PAPER_TABLE2 = (("CurveGrad", "CurveGrad", 5.9, 50.8), ("TextEmb", "TextEmb", 4.8, 61.4),
                ("TaskEmb", "TaskEmb", 4.2, 62.6), ("P-tuning", "TuPaTE prefix (tupate)", 3.9, 64.6),
                ("LoRA", "TuPaTE lora (tupate)", 4.0, 64.2), ("BitFit", "TuPaTE bitfit (tupate)", 3.8, 64.9),
                ("3-method ensemble", "TuPaTE ensemble (tupate)", 3.8, 65.1))
PAPER_CANDIDATES = 10


def paper_markdown(evaluation: Evaluation) -> str:
    """This project's numbers beside the paper's Table 2 (CR, LIMITED → LIMITED, in-class).

    ρ is shown as measured and relative to a random ranking ((N + 1) / 2 for N candidates: 5.5
    there, with 10 candidates; here N is the number of other tasks), so that lists of different
    lengths compare; NDCG × 100 as the paper prints it."""
    rows = {r.method: r for r in evaluation.rows}
    here = len(evaluation.tasks) - 1
    random_here, random_paper = (here + 1) / 2, (PAPER_CANDIDATES + 1) / 2
    lines = [f"| method | paper ρ | paper ρ / random ({random_paper:.1f}) | ρ here | ρ here / random ({random_here:.1f}) "
             "| paper NDCG | NDCG here (papers' convention) × 100 |", "|---|---|---|---|---|---|---|"]
    for label, method, rho, ndcg in PAPER_TABLE2:
        row = rows.get(method)
        mine = (_fmt(row.rho), _fmt(row.rho / random_here), _fmt(_points(row.ndcg_paper), 1)) if row else ("–",) * 3
        lines.append(f"| {label} (here: {method}) | {rho:.1f} | {rho / random_paper:.2f} | {mine[0]} | {mine[1]} | "
                     f"{ndcg:.1f} | {mine[2]} |")
    return "\n".join(lines)


def gains_markdown(gains: GainMatrix, tasks: list[str]) -> str:
    lines = ["| source ↓ / target → | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks),
             "| *target only* | " + " | ".join(f"{gains.baseline[t][0]:.1f} ± {gains.baseline[t][1]:.1f}"
                                                for t in tasks) + " |"]
    for s in tasks:
        cells = [("·" if s == t else f"{gains.cells[(s, t)].mean:+.1f} ± {gains.cells[(s, t)].std:.1f}") for t in tasks]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def shipped_row(evaluation: Evaluation, predictions: dict[str, Prediction]) -> Row | None:
    """The row of what `zoo-rank --target` does by default (marked ``"default"`` in the
    predictions file), or None where the file marks none."""
    return next((r for r in evaluation.rows if predictions[r.method].details.get("default")), None)


def per_target_methods(evaluation: Evaluation, predictions: dict[str, Prediction]) -> list[str]:
    """The per-target table's columns: the paper's baselines and settings that were evaluated, then
    the shipped default, so a reader can see where the default wins and loses."""
    shipped = shipped_row(evaluation, predictions)
    evaluated = {r.method for r in evaluation.rows}
    columns = [m for m in PER_TARGET_METHODS if m in evaluated]
    return list(dict.fromkeys([*columns, *([shipped.method] if shipped else [])]))


def per_target_markdown(evaluation: Evaluation, methods: list[str]) -> str:
    """One row per target, one column per method (each must be evaluated: ``per_target_methods``)."""
    rows = {r.method: r for r in evaluation.rows}
    lines = ["| target | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for t in evaluation.targets:
        lines.append(f"| {t} | " + " | ".join(_fmt(rows[m].per_target[t]["rho"], 1) for m in methods) + " |")
    return "\n".join(lines)


def heatmaps(gains: GainMatrix, predictions: dict[str, Prediction], tasks: list[str], path: Path,
             report: Path | None = None) -> Path:
    """True gains beside predicted similarities (rows: targets, columns: sources), one PNG
    (drawn for ``report``, the markdown file the user asked for, which a missing matplotlib names)."""
    try:
        import matplotlib
    except ImportError:
        raise DependencyError(f"{report or path}: drawing the report's heatmaps needs matplotlib",
                              hint="install it: pip install 'zoo-rank[eval]', or evaluate without --write") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    panels = [("measured gain (points, mean over seeds)",
               {t: {s: gains.cells[(s, t)].mean for s in tasks if s != t} for t in tasks}, "RdBu")]
    panels += [(name, predictions[name].scores, "viridis") for name in HEATMAP_METHODS if name in predictions]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.6), squeeze=False)
    short = [t.replace("-sentiment", "-sent") for t in tasks]
    for ax, (title, scores, cmap) in zip(axes[0], panels):
        grid = np.full((len(tasks), len(tasks)), np.nan)
        for i, t in enumerate(tasks):
            for j, s in enumerate(tasks):
                if s != t:
                    grid[i, j] = scores[t][s]
        if cmap == "RdBu":
            bound = np.nanmax(np.abs(grid))
            image = ax.imshow(grid, cmap=cmap, vmin=-bound, vmax=bound)
        else:  # each target's row on its own scale: only the order within a row matters for ranking
            low, high = np.nanmin(grid, axis=1, keepdims=True), np.nanmax(grid, axis=1, keepdims=True)
            image = ax.imshow((grid - low) / np.where(high > low, high - low, 1), cmap=cmap, vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(len(tasks)), short, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(tasks)), short, fontsize=7)
        ax.set_xlabel("source", fontsize=8)
        ax.set_ylabel("target", fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(path: str | Path, evaluation: Evaluation, gains: GainMatrix, predictions: dict[str, Prediction],
                 commands: dict[str, str], prediction_provenance: dict) -> Path:
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    kept = ANALYSIS.search(old)
    analysis = kept.group(0) if kept else "<!-- analysis -->\n*(not written yet)*\n<!-- /analysis -->"
    image = heatmaps(gains, predictions, evaluation.tasks, path.parent / "results" / f"{path.stem}-heatmaps.png", path)
    noise = seed_noise(gains, evaluation.targets, evaluation.tasks)
    prov = gains.provenance
    settings = prov.get("settings", {})
    tupate = min((r for r in evaluation.rows if r.family == "tupate"), key=lambda r: r.rho, default=None)
    baseline = min((r for r in evaluation.rows if r.family == "baseline"), key=lambda r: r.rho, default=None)
    dropped = ("; ".join(f"{t} (missing from {', '.join(who)})" for t, who in evaluation.dropped.items())
               if evaluation.dropped else "none")
    ranked = [r.method for r in sorted(evaluation.rows, key=lambda r: r.rho)]
    verdict = ""
    if tupate and baseline:
        variants = sum(r.family == "tupate" for r in evaluation.rows)
        verdict = (f"Lowest ρ among the {variants} TuPaTE variants, **picked after the fact** (the best of many on "
                   f"the same data, so its ρ flatters it): **{tupate.method}** ({tupate.rho:.2f}); best baseline: "
                   f"**{baseline.method}** ({baseline.rho:.2f}). "
                   + ("That variant's ρ is below every baseline's here; the default's is what a user gets (the "
                      "primary comparison above)." if tupate.rho < baseline.rho else
                      "**Not even the best TuPaTE variant beats the best baseline on ρ here.**"))
    shipped = shipped_row(evaluation, predictions)
    if shipped is not None:
        verdict += (f"\n\nWhat `zoo-rank --target` does by default (marked `\"default\": true` in the predictions "
                    f"file): **{shipped.method}**, ρ {shipped.rho:.2f}, NDCG (score) {shipped.ndcg_score:.3f}.")
    text = f"""# Do the rankings predict transfer? Table 2 in miniature ({prov.get('setting', '')})

Generated by `{commands['evaluate']}` from `{commands['gains_file']}` (every fine-tuning run, with
its provenance) and `{commands['predictions_file']}` (every method's scores). Regenerate the data
with the commands at the end; the analysis section is written by hand and kept on regeneration.

## Setup

* Base model `{settings.get('base_model') or 'sentence-transformers/all-MiniLM-L6-v2'}`, full fine-tuning, AdamW,
  lr {settings.get('learning_rate')}, batch {settings.get('batch_size')}, max length {settings.get('max_length')} tokens.
* Source: {settings.get('source_examples') or 'the whole train split'} training examples, {settings.get('source_epochs')} epochs.
  Target: {settings.get('target_examples')} training examples, {settings.get('target_epochs')} epochs; test score on
  up to {settings.get('test_examples')} held-out examples ({_test_sizes(gains, evaluation.tasks)}), by each
  task's metric ({_metrics(gains, evaluation.tasks)}; × 100).
* Gain of source → target = test score after source then target, minus the score of the target
  alone, paired within each seed (same target sample, head initialisation, data order and test
  set). Seeds: {gains.seeds_text()}.
* Tasks ({len(evaluation.tasks)}): {', '.join(evaluation.tasks)}. Each target's candidates are the other
  {len(evaluation.tasks) - 1}; a task is never its own candidate. Tasks dropped because a method or
  the gain matrix lacks them: {dropped}.
* Machine and versions of the transfer runs: {prov.get('machine')}, device {prov.get('device')}, torch
  {prov.get('torch')}, transformers {prov.get('transformers')}, peft {prov.get('peft')}, Python
  {prov.get('python')}, zoo-rank {prov.get('zoo_rank')}; runs made at {_run_commits(gains)}. Predictions:
  {_commits(predictions, prediction_provenance)}.

## Table 2 in miniature

{primary_markdown(evaluation, predictions)}

Mean over the {len(evaluation.targets)} targets. ρ: position of the truly best source in the predicted
ranking (1 is perfect, {(len(evaluation.tasks)) / 2:.1f} is random here). NDCG over the whole list, × 100: in the
papers' convention (relevance = N − true rank, gain 2^relevance − 1; the one to set beside Zhou et al.
and Vu et al.), and, secondary, with relevance = score after transfer (a linear gain on scores that
differ little, so every method lands near 100). Regret@k: points lost by
taking the best of the top k instead of the best source. Ties in a prediction count as random
order (exact expectation), which is what Random and DataSize get. Seconds per embedding: one
task embedding on this machine (TuPaTE: training the target's embedding on its
{settings.get('target_examples')} examples, "best": in best mode; TaskEmb: fine-tuning plus Fisher;
CurveGrad: the source's fine-tuning; TextEmb: one pass of the base model).

{table_markdown(evaluation)}

By ρ, best first: {', '.join(ranked)}.

{verdict}

{_paper_section(evaluation, gains)}## Early vs best checkpoints

Early: the paper's two epochs at the method's first learning rate (the registry's default until
zoo-rank's early rule; the "learned F" rows end by that rule at F instead, docs/method.md). Best: five epochs at
each learning rate of the paper's grid, keeping the state with the best score on held-out
training examples (`--validation-examples`, 500 by default), as the paper's "best" embeddings. Sources and targets are
embedded in the same mode.

{early_vs_best_markdown(evaluation, predictions)}

## Ground truth: measured gains

Points (mean ± standard deviation over seeds); first row: the target-only score.

{gains_markdown(gains, evaluation.tasks)}

![true gains and predicted similarities]({image.relative_to(path.parent).as_posix()})

*Left: measured gains. Right: predicted scores, each target's row rescaled to [0, 1] (only the
order within a row matters for a ranking).*

## What the noise between seeds allows one to conclude

* Median standard deviation of a gain over seeds: **{_fmt(noise['median_std'])} points**; median
  spread (standard deviation) of the mean gains across the sources of one target:
  **{_fmt(noise['spread'])} points**.
* Using one seed's gains to predict the mean of the other seeds gives ρ = **{_fmt(noise['rho'])}**, and
  one seed picks the same best source as the mean in **{_fmt(100 * noise['agreement'], 0)}%** of
  (target, seed) cases. That is the ceiling a ranking method can be held to with this many seeds:
  a method within that distance of 1 is as good as rerunning the experiment.
* With {len(evaluation.targets)} targets, a difference in mean ρ smaller than about one position is
  within what a different choice of targets would change; per-target values are below.

### Which differences are real

Intervals: 95% percentile bootstrap over the {len(evaluation.targets)} targets (10,000 resamples,
seeded), to describe the spread only: with this few targets they cover less than they say. The
columns on the right are the tests: each target's ρ (or NDCG, papers' convention) of the method
minus that of the reference, the exact sign-flip p over targets, and that p Holm-corrected across
every comparison this table makes; "significant" only where the corrected p is below 0.05. A
negative ρ difference is better (a lower ρ), a positive NDCG difference is better.

{significance_markdown(evaluation, gains)}

Best source against the runner-up, per target (paired t-test over seeds; with 3 seeds it needs
a large, consistent difference):

{separability_markdown(gains, evaluation.targets, evaluation.tasks)}

Per-target ρ of selected methods{' and of the default (last column)' if shipped else ''}:

{per_target_markdown(evaluation, per_target_methods(evaluation, predictions))}

## Analysis

{analysis}

## Commands

```bash
{commands['transfer']}      # ground truth: every run appended to {commands['gains_file']} (resumable; add --fisher-seed S for TaskEmb's Fisher vectors)
{commands['predict']}       # every method's scores → {commands['predictions_file']}
{commands['evaluate']}      # this file and {image.relative_to(path.parent).as_posix()}
```
"""
    path.write_text(text, encoding="utf-8")
    return path
