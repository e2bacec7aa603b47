"""Commands that build the shipped registry and measure how well rankings predict transfer:
builtin build, bench transfer|predict|prior, evaluate."""

from __future__ import annotations

import click

from .common import (DROPOUT, PATIENCE, console, dropout_default, echo_json, make_table, patience_default, say, setting,
                     split_list, warn)
from .root import cli
from ..evaluation import TASK_LIST_EXAMPLES
from ..pipeline.builtin import MIN_EXAMPLES
from ..training.config import DEFAULT_UNTIL_LEARNED


@cli.group()
def builtin():
    """The built-in default registry shipped with zoo-rank."""


@builtin.command(name="build")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Where to write it [default: the package's].")
@click.option("--method", "-m", default="bitfit,lora,prefix", show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--fresh", is_flag=True, help="Retrain every task, instead of keeping the shipped runs whose data, model "
                                            "and settings are unchanged.")
@click.option("--tasks-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help=f"Also build in every task of this folder of <task>/{{train,validation}}.jsonl folders with at least "
                   f"{MIN_EXAMPLES} labelled examples (their embeddings ship, their data does not).")
@click.pass_context
def build_builtin(ctx, output, method, device, fresh, tasks_dir):
    """Train every built-in task with each method (default settings, train split) and write the
    shipped registry. Deterministic: the same zoo-rank, data and device give the same vectors,
    so a shipped run whose training key (data, model, settings) still matches is kept as it is
    and only new or changed tasks are trained (--fresh retrains all); a run trained anew
    replaces the shipped one under its name. Interrupted, it resumes where it stopped: the
    runs it finished stay registered under <home>/builtin-build."""
    from .. import build_builtin
    from .progress import training_bars

    with training_bars() as progress:
        out = build_builtin(ctx.obj["home"], methods=tuple(split_list(method)), device=device, fresh=fresh,
                            output=output, tasks_dir=tasks_dir or ctx.obj.get("tasks_dir"), progress=progress,
                            warn=warn, announce=say)
    click.echo(f"wrote {out}", err=True)


@cli.group()
def bench():
    """Measure what the rankings are judged against."""


@bench.command(name="transfer")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default="results/transfer-limited.jsonl",
              show_default=True, help="Results file (JSON lines); a rerun resumes it.")
@click.option("--tasks", default=None,
              help="Comma-separated tasks [default: eight built-in tasks, or every task of --tasks-dir].")
@click.option("--tasks-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Draw the tasks from this folder of <task>/{train,validation}.jsonl folders.")
@click.option("--seeds", default="0,1,2", show_default=True)
@click.option("--source-examples", default="1000", show_default=True,
              help="Source training examples per run, or 'full' for the whole train split.")
@click.option("--target-examples", default=256, show_default=True, type=int)
@click.option("--test-examples", default=400, show_default=True, type=int)
@click.option("--epochs", "epochs", default="2,2", show_default=True, help="Source,target epochs.")
@click.option("--lr", default=1e-4, show_default=True, type=float)
@click.option("--max-length", default=64, show_default=True, type=int)
@click.option("--base-model", default=None, help="Base model folder or hub id [default: all-MiniLM-L6-v2].")
@click.option("--device", default="auto", show_default=True)
@click.option("--fisher-dir", type=click.Path(file_okay=False), default="results/work/fisher", show_default=True,
              help="Where the TaskEmb Fisher vectors of --fisher-seed's models go.")
@click.option("--fisher-seed", type=int, default=None, help="Save the TaskEmb Fisher of this seed's models.")
@click.option("--reverse", is_flag=True, help="Work from the end of the plan (a second process on the same file).")
@click.pass_context
def bench_transfer(ctx, out, tasks, tasks_dir, seeds, source_examples, target_examples, test_examples, epochs, lr,
                   max_length, base_model, device, fisher_dir, fisher_seed, reverse):
    """Fine-tune the base model on each source, then on each target, and on each target alone:
    the measured gains every ranking is evaluated against. Resumable; one line per run."""
    from pathlib import Path

    from .. import TaskCollection
    from ..evaluation import DEFAULT_TASKS, FisherCapture, TransferConfig, TransferError, run_transfer

    default_tasks = tuple(TaskCollection(tasks_dir).names()) if tasks_dir else DEFAULT_TASKS
    try:
        source_epochs, target_epochs = (int(x) for x in epochs.split(","))
        config = TransferConfig(
            tasks=tuple(split_list(tasks)) or default_tasks, seeds=tuple(int(s) for s in split_list(seeds)),
            source_examples=None if source_examples == "full" else int(source_examples),
            target_examples=target_examples, test_examples=test_examples, source_epochs=source_epochs,
            target_epochs=target_epochs, learning_rate=lr, max_length=max_length, base_model=base_model,
            tasks_dir=tasks_dir)
    except ValueError as exc:
        raise TransferError(f"bad number in the options ({exc})", hint="e.g. --seeds 0,1,2 --epochs 2,2") from exc

    def report(run, done, total):
        source = run.source or "(target only)"
        click.echo(f"[{done}/{total}] seed {run.seed} {source} -> {run.target}: {run.score:.2f} {run.metric} "
                   f"({run.seconds:.0f} s)", err=True)

    fisher = FisherCapture(Path(fisher_dir), fisher_seed) if fisher_seed is not None else None
    runs = run_transfer(config, out, device=device, home=ctx.obj["home"], report=report, fisher=fisher,
                        reverse=reverse)
    click.echo(f"{len(runs)} runs in {out}", err=True)


@bench.command(name="predict")
@click.option("--gains", "gains_file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="The transfer results whose tasks and samples to predict for [default: "
                   "results/transfer-limited.jsonl, unless --tasks is given].")
@click.option("--tasks", default=None,
              help="Predict for these tasks of --tasks-dir (comma-separated) without transfer results: every ordered "
                   f"pair; each task's target embedding is made from the same {TASK_LIST_EXAMPLES:,}-example training "
                   "sample as its source embedding, as `zoo-rank --target` embeds a data file.")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default="results/predictions-limited.json",
              show_default=True)
@click.option("--work", type=click.Path(file_okay=False), default="results/work", show_default=True,
              help="Registry and checkpoints of the targets' trained embeddings.")
@click.option("--methods", default=f"random,datasize,textemb,curvegrad,tupate,tupate:{DEFAULT_UNTIL_LEARNED:g},taskemb",
              show_default=True,
              help="Comma-separated method groups: random, datasize, textemb, curvegrad, tupate, taskemb, "
                   "tupate-best, behaviour, tupate:F, behaviour:F. tupate-best also trains every source in best mode "
                   "(~3 CPU-hours for the default eight tasks); behaviour trains every source in early mode (its "
                   "checkpoints are needed; ~20 CPU-minutes); tupate:F and behaviour:F train sources and targets with "
                   "--until-learned F (one set of checkpoints for both); groups already in --out are kept.")
@click.option("--force", is_flag=True,
              help="Recompute the requested groups even if --out has them (registered embeddings are reused).")
@click.option("--device", default="auto", show_default=True)
@click.option("--tasks-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Where the task folders of --gains are now [default: where its runs recorded them]; with "
                   "--tasks, the folder of those tasks.")
@click.option("--fisher-dir", type=click.Path(file_okay=False), default=None,
              help="Where `bench transfer --fisher-dir` saved TaskEmb's Fisher vectors; what is missing there is "
                   "fine-tuned and saved [default: WORK/fisher].")
@click.option("--max-length", type=click.IntRange(min=8), default=None,
              help="Tokens per example in the TuPaTE groups' training runs [default: 128, as `zoo-rank train`]; "
                   "recorded in the predictions' provenance.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Batch size of the TuPaTE groups' training runs [default: `zoo-rank train`'s]; recorded in the "
                   "provenance.")
@click.option("--learned-cap", type=click.IntRange(min=1), default=None,
              help="The early rule's cap in steps for tupate:F and behaviour:F [default: `zoo-rank train`'s]; "
                   "recorded in the provenance.")
@click.option("--dropout", type=DROPOUT, default=None, metavar="RATE|model",
              help=f"Dropout rate of the TuPaTE groups' training runs, as `zoo-rank train --dropout` [default: "
                   f"{dropout_default()}]; recorded in the provenance when given.")
@click.option("--patience", type=PATIENCE, default=None, metavar="STEPS|off",
              help=f"The early rule's no-progress stop for the TuPaTE groups' runs, as `zoo-rank train --patience` "
                   f"[default: {patience_default()}]; recorded in the provenance when given.")
@click.pass_context
def bench_predict(ctx, gains_file, tasks, out, work, methods, force, device, tasks_dir, fisher_dir, max_length,
                  batch_size, learned_cap, dropout, patience):
    """Score every source for every target with TuPaTE's variants and the paper's baselines
    (DataSize, TextEmb, CurveGrad, TaskEmb, random), from the same samples the transfer runs used
    (--gains), or from a task list alone (--tasks, with --tasks-dir)."""
    from ..evaluation import config_from_results, predict_all, task_list_config

    if tasks and gains_file:
        raise click.UsageError("give --gains (predict for a transfer experiment) or --tasks (a task list), not both")
    if tasks:
        if not tasks_dir:
            raise click.UsageError("--tasks needs --tasks-dir, the folder its tasks are in")
        config = task_list_config(tuple(split_list(tasks)), tasks_dir)
    else:
        config = config_from_results(gains_file or "results/transfer-limited.jsonl", tasks_dir)
    done = predict_all(config, out, work=work, groups=tuple(split_list(methods)), device=device, home=ctx.obj["home"],
                       progress=lambda message: click.echo(message, err=True), force=force, fisher_dir=fisher_dir,
                       max_length=max_length, batch_size=batch_size, learned_cap=learned_cap,
                       dropout=setting("dropout", dropout), patience=setting("patience", patience))
    click.echo(f"{len(done)} methods in {out}", err=True)


@bench.command(name="prior")
@click.option("--gains", "gains_file", type=click.Path(dir_okay=False, exists=True),
              default="results/transfer-limited.jsonl", show_default=True,
              help="Transfer results among built-in tasks (`zoo-rank bench transfer`).")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default="zoo_rank/data/prior.json", show_default=True)
def bench_prior(gains_file, out):
    """Write the source prior that `--prior` blends in: each measured (source, target) pair's mean gain."""
    from ..evaluation import load_gains, write_json
    from .. import prior_document

    gains = load_gains(gains_file)
    write_json(out, prior_document(gains, {"gains_file": gains_file, "commits": sorted(gains.commits)}))
    click.echo(f"wrote {out} ({len(gains.tasks)} tasks)", err=True)


def _transfer_command(gains, gains_file: str) -> str:
    """The `bench transfer` command that resumes or redoes ``gains_file``, from its runs' own
    provenance (TaskEmb's predictions also need `--fisher-seed` on one seed, not recorded there)."""
    prov, settings = gains.provenance, gains.provenance.get("settings", {})
    parts = ["zoo-rank bench transfer", f"--out {gains_file}"]
    if prov.get("tasks_dir"):
        parts.append(f"--tasks-dir {prov['tasks_dir']}")
    if settings.get("base_model"):
        parts.append(f"--base-model {settings['base_model']}")
    parts.append(f"--tasks {','.join(gains.tasks)} --seeds {','.join(map(str, gains.seeds))}")
    flags = (("source_examples", "--source-examples"), ("target_examples", "--target-examples"),
             ("test_examples", "--test-examples"), ("max_length", "--max-length"), ("learning_rate", "--lr"))
    parts += [f"{flag} {settings[key] or 'full'}" for key, flag in flags if key in settings]
    if "source_epochs" in settings:
        parts.append(f"--epochs {settings['source_epochs']},{settings.get('target_epochs')}")
    return " ".join(parts)


def _predict_command(gains_file: str, predictions_file: str, predictions: dict, provenance: dict) -> str:
    """The `bench predict` command that remakes ``predictions_file``: its groups, and the work and
    Fisher folders it was made with (another --work would train its embeddings again)."""
    groups = ",".join(dict.fromkeys(p.details.get("group", "?") for p in predictions.values()))
    parts = [f"zoo-rank bench predict --gains {gains_file} --out {predictions_file}"]
    parts += [f"{flag} {provenance[key]}" for key, flag in (("work", "--work"), ("fisher_dir", "--fisher-dir"),
                                                            ("embedding_max_length", "--max-length"))
              if provenance.get(key)]
    return " ".join([*parts, f"--methods {groups}"])


@cli.command()
@click.option("--gains", "gains_file", type=click.Path(dir_okay=False), default="results/transfer-limited.jsonl",
              show_default=True, help="Transfer results from `zoo-rank bench transfer`.")
@click.option("--predictions", "predictions_file", type=click.Path(dir_okay=False),
              default="results/predictions-limited.json", show_default=True,
              help="Method scores from `zoo-rank bench predict`.")
@click.option("--targets", default=None, help="Comma-separated targets [default: every task].")
@click.option("--seeds", default=None,
              help="Comma-separated seeds whose runs to use [default: every seed in --gains].")
@click.option("--write", "write", type=click.Path(dir_okay=False), default=None,
              help="Also write the report (markdown + heatmap PNG), e.g. docs/results.md.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate(gains_file, predictions_file, targets, seeds, write, as_json):
    """How well each method's ranking predicts the measured transfer gains: ρ, NDCG, Regret@k
    (the paper's Table 2, for the tasks every input covers)."""
    from pathlib import Path

    from ..evaluation import TransferError, load_gains, load_predictions
    from ..evaluation import evaluate as run_evaluation

    for path, make in ((gains_file, "bench transfer"), (predictions_file, "bench predict")):
        if not Path(path).is_file():
            raise TransferError(f"{path}: no such file", hint=f"create it with `zoo-rank {make}`")
    try:
        chosen = [int(seed) for seed in split_list(seeds)]
    except ValueError as exc:
        raise TransferError(f"--seeds {seeds}: not a list of whole numbers", hint="e.g. --seeds 0,1") from exc
    gains = load_gains(gains_file, seeds=chosen or None)
    predictions, prediction_provenance = load_predictions(predictions_file)
    result = run_evaluation(gains, predictions, targets=split_list(targets) or None)
    if result.dropped:
        click.echo("evaluated on the tasks every input covers; dropped: " + "; ".join(
            f"{t} (not in {', '.join(who)})" for t, who in result.dropped.items()), err=True)
    if as_json:
        echo_json({"tasks": result.tasks, "targets": result.targets, "dropped": result.dropped,
                    "methods": [vars(r) for r in result.rows]})
    else:
        table = make_table(f"{gains.provenance.get('setting', '')}: {len(result.targets)} targets, "
                            f"{len(result.tasks) - 1} candidates each, seeds {gains.seeds_text()}")
        for column in ("method", "rho", "NDCG papers'", "NDCG score", *(f"Regret@{k}" for k in result.ks), "s/emb",
                       "CPU s/emb"):
            table.add_column(column, justify="left" if column == "method" else "right")
        for row in sorted(result.rows, key=lambda r: (r.family, r.method)):
            table.add_row(row.method, f"{row.rho:.2f}", f"{row.ndcg_paper:.3f}", f"{row.ndcg_score:.3f}",
                          *(f"{row.regret[k]:.2f}" for k in result.ks),
                          "" if row.seconds_per_embedding is None else f"{row.seconds_per_embedding:.1f}",
                          "" if row.cpu_seconds_per_embedding is None else f"{row.cpu_seconds_per_embedding:.1f}")
        console().print(table)
    if write:
        from ..evaluation import write_report

        commands = {"gains_file": gains_file, "predictions_file": predictions_file,
                    "transfer": _transfer_command(gains, gains_file),
                    "predict": _predict_command(gains_file, predictions_file, predictions, prediction_provenance),
                    "evaluate": f"zoo-rank evaluate --gains {gains_file} --predictions {predictions_file} "
                                + (f"--seeds {seeds} " if seeds else "") + f"--write {write}"}
        from ..evaluation import write_csv

        click.echo(f"wrote {write_report(write, result, gains, predictions, commands, prediction_provenance)}",
                   err=True)
        csv_path = Path(gains_file).with_suffix(".gains.csv")
        click.echo(f"wrote {write_csv(gains, csv_path)}", err=True)

