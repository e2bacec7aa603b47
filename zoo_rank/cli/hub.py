"""Commands that talk to the Hugging Face hub or its cache: search, pull, refresh, catalog."""

from __future__ import annotations

import click

from .common import (console, echo_json, executor_context, executor_options, grouped_failures, make_table,
                     open_registry, report_added)
from .root import cli


def hub_options(f):
    """Where the hub is and how hard to try (shared by search, pull and refresh)."""
    for decorator in reversed((
        click.option("--endpoint", envvar="HF_ENDPOINT", metavar="URL",
                     help="Hub URL [default: $HF_ENDPOINT or https://huggingface.co]."),
        click.option("--retries", type=click.IntRange(min=1), default=4, show_default=True,
                     help="Attempts per request in all, on 5xx, 429, timeouts and cut connections."),
        click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
                     help="Seconds to wait for a connection or for the next bytes; a failing request gives up "
                          "within retries x timeout plus backoff (1, 2, 4 ... s)."),
    )):
        f = decorator(f)
    return f


def retry_policy(retries: int, timeout: float):
    """One retry policy for every request: ``retries`` attempts, each cut after ``timeout`` seconds of silence."""
    from .. import RetryPolicy

    return RetryPolicy(attempts=retries, timeout=timeout)


@cli.command()
@click.option("--base-model", metavar="MODEL", help="Only adapters of this base model (hub tag base_model:adapter:MODEL).")
@click.option("--library", type=click.Choice(["peft", "adapters"]), help="Only peft or only AdapterHub adapters.")
@click.option("--query", metavar="TEXT", help="Only repo ids containing TEXT.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@hub_options
@click.pass_context
def search(ctx, base_model, library, query, limit, as_json, endpoint, retries, timeout):
    """List adapter repos on the hub, most downloaded first; their metadata is kept in the registry."""
    from .. import search_hub

    found = search_hub(base_model=base_model, library=library, query=query, limit=limit, registry=open_registry(ctx),
                       endpoint=endpoint, policy=retry_policy(retries, timeout))
    if as_json:
        echo_json([m.to_dict() for m in found])
        return
    table = make_table("", "repo", "library", "base model", "task / datasets", "licence", "downloads", "modified")
    for m in found:
        table.add_row(m.repo_id, m.library or "", m.base_model or "", ", ".join(m.tasks or m.datasets)[:40],
                      m.license or "", str(m.downloads or 0), (m.last_modified or "")[:10])
    console().print(table)


@cli.command()
@click.argument("repo_ids", nargs=-1)
@click.option("--base-model", metavar="MODEL", help="Pull the most downloaded adapters of MODEL (see `search`).")
@click.option("--library", type=click.Choice(["peft", "adapters"]), help="With --base-model: only this library.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="With --base-model.")
@click.option("--revision", metavar="REV", help="Branch, tag or commit for all REPO_IDS (or write owner/name@REV).")
@click.option("--workers", type=click.IntRange(min=1, max=32), default=4, show_default=True,
              help="Repos downloaded at once.")
@click.option("--keep-going/--all-or-nothing", default=None,
              help="Register the good repos when some fail [default: all-or-nothing for named repos, "
                   "keep going for --base-model].")
@click.option("--with-base-model", is_flag=True,
              help="Also fetch the base model each adapter names (config, tokenizer, safetensors weights), which "
                   "the behaviour embedder needs (`zoo-rank embed`).")
@click.option("--json", "as_json", is_flag=True, help="Print what was added as JSON.")
@hub_options
@executor_options
@click.pass_context
def pull(ctx, repo_ids, base_model, library, limit, revision, workers, keep_going, with_base_model, as_json, endpoint,
         retries, timeout, executor, ray_address):
    """Download adapter files (weights and configs only, pinned to the commit seen) into the
    Hugging Face cache, then embed and register them.

    An interrupted download resumes on the next run; nothing is registered until every repo
    has been fetched and embedded.
    """
    from .. import pull as pull_repos
    from .progress import download_bar

    with executor_context(executor, ray_address) as runner, download_bar("pulling", enabled=not as_json) as progress:
        result = pull_repos(repo_ids, base_model=base_model, library=library, limit=limit, revision=revision,
                            registry=open_registry(ctx), workers=workers, keep_going=keep_going, endpoint=endpoint,
                            policy=retry_policy(retries, timeout), progress=progress, executor=runner,
                            with_base_model=with_base_model)
    report_added(result, as_json)
    if result.failed and not (result.added or result.existing or result.skipped):
        ctx.exit(1)


@cli.command()
@click.option("--offline", is_flag=True, help="Use only the Hugging Face cache: no network call at all.")
@click.option("--catalog", "catalog_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="A catalog in the registry.json schema [default: the one shipped with zoo-rank].")
@click.option("--workers", type=click.IntRange(min=1, max=32), default=4, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print what was added as JSON.")
@hub_options
@executor_options
@click.pass_context
def refresh(ctx, offline, catalog_path, workers, as_json, endpoint, retries, timeout, executor, ray_address):
    """Embed every adapter in the Hugging Face cache that the registry lacks (or holds with an
    older embedder version); without --offline, first pull what the catalog lists.

    Cache entries that cannot be read (deleted or corrupted files) are reported and skipped;
    `zoo-rank pull REPO` fetches them again.
    """
    from .. import load_catalog
    from .. import refresh as refresh_registry
    from .progress import download_bar

    catalog = load_catalog(catalog_path)
    with executor_context(executor, ray_address) as runner, \
            download_bar("pulling catalog", enabled=not (as_json or offline)) as progress:
        result = refresh_registry(offline=offline, registry=open_registry(ctx), catalog=catalog, endpoint=endpoint,
                                  workers=workers, policy=retry_policy(retries, timeout), progress=progress,
                                  executor=runner)
    sources = len(catalog.sources)
    unreachable = not offline and sources and len(result.failed) >= sources
    if unreachable:  # every catalog source failed: one line, not one per source, and a failing exit
        failed, result.failed = result.failed, []
    report_added(result, as_json)
    if not as_json and result.scanned == 0:
        click.echo(f"0 adapters found in {result.cache} (the Hugging Face cache: HF_HUB_CACHE, else HF_HOME/hub)",
                   err=True)
    if unreachable:
        reasons = grouped_failures(failed, at_least=1)
        why = reasons[0] if len(reasons) == 1 else f"{len(reasons)} different reasons; first: {reasons[0]}"
        raise click.ClickException(f"none of the {sources} catalog sources could be pulled ({why}); "
                                   "`zoo-rank refresh --offline` registers what the Hugging Face cache holds")


@cli.command(name="catalog")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the validated catalog as JSON.")
def show_catalog(path, as_json):
    """Validate and show a catalog (default: the registry.json shipped with zoo-rank)."""
    from dataclasses import asdict

    from .. import load_catalog

    catalog = load_catalog(path)
    if as_json:
        echo_json({"path": catalog.path, "sources": [asdict(s) for s in catalog.sources],
                    "builtin": [asdict(b) for b in catalog.builtin]})
        return
    table = make_table(str(catalog.path), "source", "task", "type", "train size", "base model", "methods", "revision")
    for s in catalog.sources:
        table.add_row(s.repo_id + (f"/{s.subfolder}" if s.subfolder else ""), s.task, s.task_type or "",
                      f"{s.train_size:,}" if s.train_size else "", s.base_model, s.method or "",
                      (s.revision or "main")[:8])
    for b in catalog.builtin:
        table.add_row(f"builtin:{b.task}", b.task, b.task_type or "", f"{b.train_size:,}" if b.train_size else "",
                      b.base_model, ",".join(b.methods), "shipped")
    console().print(table)

