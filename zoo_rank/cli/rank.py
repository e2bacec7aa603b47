"""``zoo-rank [rank] --target T``: rank candidate sources for a target (the default command)."""

from __future__ import annotations

import click

from .. import backend_names  # light: no faiss until a large space is searched
from .common import (DROPOUT, EMBEDDER_CHOICES, PATIENCE, console, data_columns, data_options, echo_json, known_methods, open_registry,
                     say, split_list, make_table, train_config, warn, dropout_default, patience_default)
from .root import cli, global_options, set_globals
from ..training.config import DEFAULT_UNTIL_LEARNED, LEARNED_MAX_STEPS, LEARNED_MIN_STEPS


@cli.command(name="rank")
@click.option("--target", "-t", metavar="T",
              help="What to rank sources for: a registry name, a data file (.csv/.tsv/.jsonl, trained on the fly), "
                   "a checkpoint folder, or a task name.")
@click.option("--top", "-n", default=10, show_default=True, help="How many candidates to show (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, best first.")
@click.option("--embedder", type=click.Choice(("auto", *EMBEDDER_CHOICES)), default="auto", show_default=True,
              help="auto: invariant for what zoo-rank trained, behaviour for adapters from elsewhere when their base "
                   "model is here; invariant: weights, comparable across ranks; tupate: the paper's raw layer average; "
                   "behaviour: what an adapter does to the base model.")
@click.option("--fetch-base-model", is_flag=True,
              help="For an adapter zoo-rank did not train: download its base model (config, tokenizer, weights; "
                   "pinned and verified) so that it is ranked by behaviour.")
@click.option("--centred/--no-centred", "--center/--no-center", "center", default=False, show_default=True,
              help="Subtract the space's mean vector before the cosine (--center: the same).")
@click.option("--task-type", help="Only candidates of this task type; for a data target, also how its labels are "
                                  "read (classification, regression) [default: inferred from the labels].")
@click.option("--method", help="Only candidates of these methods or families, comma-separated (bitfit, lora, prefix, "
                               "...); for a data target, the methods to train [default: bitfit].")
@click.option("--mode", type=click.Choice(["early", "best"]), help="Data target: how to train (see `zoo-rank train "
                                                                   "--help`) [default: early].")
@click.option("--max-examples", type=click.IntRange(min=0), help="Data target: train on a seeded sample of at most "
                                                                 "this many examples (0: all) [default: 1000].")
@click.option("--max-length", type=click.IntRange(min=8), help="Data target: tokens per example [default: 128].")
@click.option("--until-learned", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), metavar="FRACTION",
              help=f"Data target, early mode: train until the smoothed loss is FRACTION below chance "
                   f"({LEARNED_MIN_STEPS} to {LEARNED_MAX_STEPS} steps) [default: {DEFAULT_UNTIL_LEARNED:g}].")
@click.option("--dropout", type=DROPOUT, metavar="RATE|model",
              help=f"Data target: dropout rate of its training run, as `zoo-rank train --dropout` [default: "
                   f"{dropout_default()}, as the shipped registry was trained].")
@click.option("--patience", type=PATIENCE, metavar="STEPS|off",
              help=f"Data target: stop its run once the smoothed loss has gone STEPS steps without progress, as "
                   f"`zoo-rank train --patience` [default: {patience_default()}].")
@click.option("--force", is_flag=True, help="Data target: train its embedding again even if one with the same "
                                            "data and settings is registered.")
@click.option("--base-model", help="Only this base model's spaces; for a data target, the model to train on; for a "
                                   "checkpoint folder whose config names none, its base model.")
@click.option("--ensemble/--no-ensemble", default=None,
              help="Average scores over methods per candidate task (default: when the target has several methods).")
@click.option("--prior", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Weight of the shipped source prior (each built-in task's mean measured gain on the other "
                   "built-in tasks) against similarity, both standardised over the candidates; 0: similarity only.")
@click.option("--index", type=click.Choice(backend_names()), default="auto",
              show_default=True, help="How spaces are searched; auto: numpy's exact scan, faiss-ivf (zoo-rank[faiss]) "
                                      "past $ZOO_RANK_FAISS_MIN vectors (100000). faiss shortlists, scores are exact.")
@data_options
@global_options(hidden=True)
@click.pass_context
def rank_command(ctx, target, top, as_json, embedder, fetch_base_model, center, task_type, method, mode, max_examples,
                 max_length, until_learned, dropout, patience, force, base_model, ensemble, prior, index, text_column, pair_column,
                 label_column, device, home, builtin, tasks_dir, debug):
    """Rank candidate sources for --target T (`zoo-rank --target T` runs this).

    The score is the cosine similarity (-1..1) of the target's task embedding and a
    candidate's, within one space (base model x method); with several methods, the mean over
    the methods a candidate has of each cosine minus that method's average over the candidates
    (the paper's ensemble, on one scale: 0 is an average candidate). The order is the advice;
    the size is not a predicted gain.
    """
    set_globals(ctx, home=home, builtin=builtin, tasks_dir=tasks_dir, debug=debug)
    if not target:
        click.echo(ctx.find_root().get_help())
        return
    from .. import rank
    from .progress import training_bars

    methods = known_methods(split_list(method), "--method")
    with training_bars(enabled=not as_json) as progress:
        training = {"columns": data_columns(text_column, pair_column, label_column, task_type), "progress": progress,
                    "warn": warn, "announce": say, "tasks_dir": ctx.find_root().obj["tasks_dir"],
                    "config": train_config(device=device, mode=mode, max_length=max_length,
                                           max_examples=max_examples, until_learned=until_learned, dropout=dropout,
                                           patience=patience)}
        if methods:
            training["methods"] = methods
        if force:
            training["reuse"] = "never"
        ranking = rank(target, registry=open_registry(ctx), embedder=embedder, center=center, top=top or None,
                       task_type=task_type, method=methods or None, base_model=base_model, ensemble=ensemble,
                       training=training, index=index, prior=prior, fetch_base_model=fetch_base_model,
                       progress=say)
    for warning in ranking.warnings:
        warn(warning)
    if as_json:
        echo_json(ranking.to_list())
        return
    _print_ranking(ranking)


def _print_ranking(ranking) -> None:
    mode = "ensemble over methods" if ranking.ensemble else "per adapter"
    table = make_table(f"Sources for {ranking.target} ({ranking.embedder}, {'centred' if ranking.centred else 'raw'} "
                       f"cosine, {mode})", title_justify="left", caption=_caption(ranking), caption_justify="left")
    table.add_column("#", justify="right")
    table.add_column("candidate")
    table.add_column("score", justify="right")
    families = ranking.families if ranking.ensemble and len(ranking.families) > 1 else []
    for family in families:
        table.add_column(family + (" (alike)" if family in ranking.alike else ""), justify="right")
    if ranking.prior_weight:
        table.add_column("similarity", justify="right")
        table.add_column("prior (gain)", justify="right")
    table.add_column("task")
    if not ranking.ensemble:
        table.add_column("method")
    sections = not ranking.ensemble and len(ranking.families) > 1  # one list per method, never interleaved
    number = 0
    for i, c in enumerate(ranking.candidates):
        following = ranking.candidates[i + 1] if i + 1 < len(ranking.candidates) else None
        number = 1 if i == 0 or (sections and ranking.candidates[i - 1].methods != c.methods) else number + 1
        row = [str(number), c.name, f"{c.score:+.4f}" if ranking.levels else f"{c.score:.4f}"]
        row += [f"{c.scores[f]:.4f}" if f in c.scores else "–" for f in families]
        if ranking.prior_weight:
            row += [f"{c.similarity:.4f}", "–" if c.prior is None else f"{c.prior:+.2f}"]
        row += [c.task or "–"] + ([] if ranking.ensemble else [c.method or "–"])
        table.add_row(*row, end_section=sections and following is not None and following.methods != c.methods)
    console().print(table)


def _caption(ranking) -> str:
    """What the numbers are, in the words a user needs to act on them."""
    families = ", ".join(ranking.families) or "one method"
    if ranking.families == ["any"]:
        families = "every method in one behaviour space"
    centred = " (after subtracting the space's mean vector)" if ranking.centred else ""
    if ranking.ensemble and ranking.levels:
        levels = ", ".join(f"{f} {level:.3f}" for f, level in sorted(ranking.levels.items()))
        what = (f"the mean over methods ({families}) of each method's cosine similarity{centred} minus that method's "
                f"average over these candidates ({levels}), each cosine computed in that method's own space (base "
                "model x method); 0 is an average candidate, above 0 more similar than average. A candidate without "
                "some method is scored over the methods it has (columns with –)")
        scale = " The"
    elif ranking.ensemble:
        what = (f"the mean of each candidate task's cosine similarity{centred} ({families}) between the target's "
                "task embedding and its adapters'")
        scale = " Higher = more similar, from -1 to 1; the"
    elif len(ranking.families) > 1:
        what = (f"cosine similarity{centred} in each adapter's own space, listed apart per method ({families}): "
                "cosines of different spaces are not on one scale, so compare within a method")
        scale = " Higher = more similar, from -1 to 1; the"
    else:
        what = f"cosine similarity ({families}){centred} between the target's task embedding and the candidate's"
        scale = " Higher = more similar, from -1 to 1; the"
    notes = "".join(f" {note}" for note in ranking.notes)
    if ranking.prior_weight:
        w = ranking.prior_weight
        return (f"score: {1 - w:.2f} x the similarity's z-score + {w:.2f} x the source prior's z-score (its mean "
                f"measured gain on other built-in tasks; unmeasured: 0). Similarity: {what}. The "
                f"order is the advice (docs/method.md: how the prior was measured and how well it predicts).{notes}")
    return (f"score: {what}.{scale} order is the advice, the size is not a "
            f"predicted gain (how well orders predict transfer: docs/results.md).{notes}")
