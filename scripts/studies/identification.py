"""Same-task identification: do adapters of one task, trained differently, find each other?

    python scripts/studies/identification.py [--work results/work/ident] [--tasks snli,subjectivity,bbc-topic,movie-sentiment]
    python scripts/studies/identification.py --until-learned 0.1 --work results/work/ident-learned   # zoo-rank's early rule
    python scripts/studies/identification.py --until-learned 0.1 --prefix-steps 400 --work results/work/ident-prefix400

Trains a zoo on the default base model (resumable: finished checkpoints are kept under
``--work``): per task, LoRA r8 on query/value with seeds 0 and 1, LoRA r4 (seed 2) and r16
(seed 3) on query/value, LoRA r8 on query/key/value/attention-output (seed 4), BitFit seeds 0
and 1, prefix tuning seeds 0 and 1. Then embeds every checkpoint with every embedder and reports, per
embedder, top-1 same-task retrieval (is the nearest other adapter one of the same task?) and
the silhouette of the task clusters (cosine distance), within one method family and, where the
embedder has one space for every method, across methods. Behaviour embeddings are reported
raw and centred on the zoo mean, and for two reductions over the probe set (kept per probe and
sketched, as the embedder ships; averaged over probes). Needs torch, transformers, peft and `zoo-rank fetch`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from zoo_rank.datasets import load_data
from zoo_rank.embedders import EMBEDDERS
from zoo_rank.embedders.behaviour import behaviour_deltas, reduce
from zoo_rank.readers import read_checkpoint
from zoo_rank.training import TrainConfig, train_checkpoint
from zoo_rank.training.config import EARLY_HEAD_LR, family_settings
from zoo_rank.training.models import resolve_base_model

QV, QKVO = ("query", "value"), ("query", "key", "value", "attention.output.dense")
VARIANTS = {  # name -> TrainConfig overrides
    "lora-r8-qv-s0": dict(method="lora", seed=0),
    "lora-r8-qv-s1": dict(method="lora", seed=1),
    "lora-r4-qv-s2": dict(method="lora", seed=2, family_settings=family_settings(lora_r=4, lora_alpha=4)),
    "lora-r16-qv-s3": dict(method="lora", seed=3, family_settings=family_settings(lora_r=16, lora_alpha=16)),
    "lora-r8-qkvo-s4": dict(method="lora", seed=4, family_settings=family_settings(lora_target_modules=QKVO)),
    "bitfit-s0": dict(method="bitfit", seed=0),
    "bitfit-s1": dict(method="bitfit", seed=1),
    "prefix-s0": dict(method="prefix", seed=0),
    "prefix-s1": dict(method="prefix", seed=1),
}


def train_zoo(work: Path, tasks: list[str], steps: int | None, max_length: int,
              until_learned: float | None = None, prefix_steps: int | None = None) -> list[tuple[str, str, Path]]:
    """Train (or reuse) every task x variant checkpoint under ``work``. ``prefix_steps``: the prefix
    variants train that many fixed steps instead (head at the early rule's rate, on the rule's
    sample), to see whether a prefix's seed fingerprint fades as it learns."""
    base = resolve_base_model()
    zoo = []
    for task in tasks:
        dataset = load_data(task, split="train")
        for variant, overrides in VARIANTS.items():
            out = work / "checkpoints" / f"{task}--{variant}"
            if not out.exists():
                if prefix_steps and overrides["method"] == "prefix":
                    config = TrainConfig(steps=prefix_steps, head_lr=EARLY_HEAD_LR, max_length=max_length,
                                         device="cpu", **overrides)
                elif until_learned:  # the default early recipe: ends by progress (head at 1e-2), capped
                    config = TrainConfig(until_learned=until_learned, max_length=max_length, device="cpu", **overrides)
                else:  # a fixed number of steps at the paper's learning rates
                    config = TrainConfig(steps=steps, max_length=max_length, max_examples=steps * 32, device="cpu",
                                         **overrides)
                scratch = out.with_name(out.name + ".partial")
                shutil.rmtree(scratch, ignore_errors=True)
                started = time.perf_counter()
                result = train_checkpoint(dataset, scratch, config, base)
                scratch.rename(out)
                loss = result.metrics.get("smoothed_loss", result.metrics.get("train_loss", float("nan")))
                what = "smoothed loss (the rule's)" if "smoothed_loss" in result.metrics else "mean loss"
                print(f"trained {out.name} in {time.perf_counter() - started:.0f} s, {result.steps} steps, "
                      f"{what} {loss:.3f}", file=sys.stderr, flush=True)
            zoo.append((task, variant, out))
    return zoo


def silhouette(vectors: np.ndarray, labels: list[str]) -> float:
    """Mean silhouette with cosine distance (Rousseeuw 1987); singletons count 0."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    distance = 1.0 - unit @ unit.T
    labels = np.asarray(labels)
    scores = []
    for i, label in enumerate(labels):
        same = (labels == label) & (np.arange(len(labels)) != i)
        if not same.any():
            scores.append(0.0)
            continue
        a = distance[i, same].mean()
        b = min(distance[i, labels == other].mean() for other in set(labels) - {label})
        scores.append((b - a) / max(a, b))
    return float(np.mean(scores))


def top1(vectors: np.ndarray, labels: list[str], groups: list[str] | None = None) -> tuple[int, int]:
    """(hits, queries): the nearest other adapter (within the query's group, if given) has its task."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    hits = queries = 0
    for i in range(len(labels)):
        allowed = np.ones(len(labels), bool) if groups is None else np.asarray(groups) == groups[i]
        allowed[i] = False
        if not any(labels[j] == labels[i] for j in np.flatnonzero(allowed)):
            continue
        j = int(np.argmax(np.where(allowed, similarity[i], -np.inf)))
        hits += labels[j] == labels[i]
        queries += 1
    return hits, queries


def wilson(hits: int, n: int) -> str:
    """95% Wilson interval of a proportion."""
    if not n:
        return "n/a"
    z, p = 1.96, hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{hits}/{n} = {p:.0%} [{centre - half:.0%}, {centre + half:.0%}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="results/work/ident")
    parser.add_argument("--tasks", default="snli,subjectivity,bbc-topic,movie-sentiment")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--until-learned", type=float, default=None,
                        help="train by zoo-rank's early rule at this fraction (e.g. 0.1) instead of --steps")
    parser.add_argument("--prefix-steps", type=int, default=None,
                        help="train the prefix variants this many fixed steps instead (the others as above)")
    parser.add_argument("--json", default=None, help="also write the table as JSON here")
    args = parser.parse_args()
    work = Path(args.work)
    zoo = train_zoo(work, args.tasks.split(","), None if args.until_learned else args.steps, args.max_length,
                    args.until_learned, args.prefix_steps)
    weights = [read_checkpoint(path) for _, _, path in zoo]
    tasks = [task for task, _, _ in zoo]
    families = [w.family for w in weights]

    views: dict[str, list[np.ndarray | None]] = {}
    for name, embedder in EMBEDDERS.items():
        if name == "behaviour":
            continue
        vectors = []
        for w in weights:
            embedding = embedder.embed(w)
            vectors.append((embedding.space.id, embedding.vector))
        views[name] = vectors
    started = time.perf_counter()
    deltas = []
    for (task, variant, path), w in zip(zoo, weights):
        cached = path / "behaviour-deltas.npy"
        if not cached.exists():
            np.save(cached, behaviour_deltas(w))
        deltas.append(np.load(cached))
    print(f"behaviour deltas: {len(deltas)} adapters, {time.perf_counter() - started:.1f} s", file=sys.stderr)
    per_probe = np.stack([reduce(d) for d in deltas])  # what the behaviour embedder ships
    pooled = np.stack([d.mean(axis=(0, 1)) for d in deltas])

    rows = []

    def report(label: str, spaces: list[str], vectors: np.ndarray, across: bool) -> None:
        within_hits = within_n = 0
        sil = []
        for space in sorted(set(spaces)):
            members = [i for i, s in enumerate(spaces) if s == space]
            if len({tasks[i] for i in members}) < 2:
                continue
            h, n = top1(vectors[members], [tasks[i] for i in members])
            within_hits, within_n = within_hits + h, within_n + n
            sil.append(silhouette(vectors[members], [tasks[i] for i in members]))
        row = {"embedder": label, "within_method_top1": [within_hits, within_n],
               "within_method_silhouette": float(np.mean(sil)) if sil else None}
        if across:
            h, n = top1(vectors, tasks)
            # across methods only: the nearest adapter of ANOTHER family
            other = [0, 0]
            unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
            similarity = unit @ unit.T
            for i in range(len(tasks)):
                allowed = np.array([families[j] != families[i] for j in range(len(tasks))])
                j = int(np.argmax(np.where(allowed, similarity[i], -np.inf)))
                other[0] += tasks[j] == tasks[i]
                other[1] += 1
            row.update(all_top1=[h, n], other_method_top1=other, all_silhouette=silhouette(vectors, tasks))
        rows.append(row)

    for name, vectors in views.items():
        spaces = [space for space, _ in vectors]
        matrix = np.zeros((len(vectors), max(v.size for _, v in vectors)))
        for i, (_, v) in enumerate(vectors):
            matrix[i, : v.size] = v
        report(name, spaces, matrix, across=False)
    for label, vectors in (("behaviour (shipped: per probe, sketched)", per_probe), ("behaviour (probe mean)", pooled)):
        report(label + ", raw", families, vectors, across=True)  # within method: among the same family
        report(label + ", centred", families, vectors - vectors.mean(axis=0), across=True)
    unit = per_probe / np.linalg.norm(per_probe, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    misses = [(zoo[i][:2], zoo[int(j)][:2]) for i, j in enumerate(similarity.argmax(axis=1))
              if tasks[int(j)] != tasks[i]]

    print(f"zoo: {len(zoo)} adapters = {len(set(tasks))} tasks x {len(VARIANTS)} variants "
          f"({', '.join(VARIANTS)}); "
          f"{f'early rule {args.until_learned}' if args.until_learned else f'{args.steps} steps'}"
          f"{f' (prefix: {args.prefix_steps} steps)' if args.prefix_steps else ''}, max length {args.max_length}\n")
    print("| embedder | top-1 within method | silhouette within | top-1 any method | top-1 other method | silhouette all |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        fmt = lambda key: wilson(*row[key]) if key in row else "n/a (one space per method)"  # noqa: E731
        sil = row["within_method_silhouette"]
        print(f"| {row['embedder']} | {fmt('within_method_top1')} | {'n/a' if sil is None else f'{sil:.3f}'} | "
              f"{fmt('all_top1')} | {fmt('other_method_top1')} | "
              f"{row['all_silhouette']:.3f} |" if "all_silhouette" in row else
              f"| {row['embedder']} | {fmt('within_method_top1')} | {'n/a' if sil is None else f'{sil:.3f}'} | "
              "n/a | n/a | n/a |")
    print("\nNearest other adapter where it is another task's (behaviour as shipped, raw): " +
          ("; ".join(f"{a[0]} {a[1]} → {b[0]} {b[1]}" for a, b in misses) or "none"))
    if args.json:
        Path(args.json).write_text(json.dumps({"zoo": [[t, v] for t, v, _ in zoo], "rows": rows,
                                               "misses": misses}, indent=1) + "\n")


if __name__ == "__main__":
    main()
