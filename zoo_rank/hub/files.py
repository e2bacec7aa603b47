"""Which files of a hub repo make up its adapter checkpoints, and nothing more.

A repo listing is grouped by folder; a folder is a checkpoint when it holds a config that a
reader understands and a weight file for it. Only those files (plus the model card, whose
YAML header carries task tags, datasets and licence for offline use) are downloaded: never a
full model, never optimizer states, never prediction-head weights (heads are not part of the
task embedding). Where a repo has both ``.safetensors`` and a pickled ``.bin`` of the same
weights, only the safetensors file is taken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from .ids import HubError, validate_filename

_CARD = "README.md"
_TRAINING_STEP = re.compile(r"(^|/)checkpoint-\d+(/|$)")


@dataclass(frozen=True)
class RepoFile:
    """One file of a repo listing; ``sha256`` for LFS files, ``blob_id`` (git sha1) for all."""

    path: str
    size: int | None = None
    blob_id: str | None = None
    sha256: str | None = None


@dataclass
class AdapterFiles:
    """The files to fetch for a repo: checkpoint folders (``""`` = repo root) and their files."""

    checkpoints: dict[str, list[RepoFile]] = field(default_factory=dict)
    card: RepoFile | None = None

    @property
    def files(self) -> list[RepoFile]:
        chosen = [f for files in self.checkpoints.values() for f in files]
        return chosen + ([self.card] if self.card else [])


def _layouts() -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """(config file, weight files by preference, extra files) per config name, from the readers'
    own declarations (``zoo_rank.readers.reader_specs()``, plugins' included): a new format is
    fetched as soon as it is read."""
    from ..readers import reader_specs

    merged: dict[str, tuple[list[str], list[str]]] = {}
    for spec in reader_specs():
        weights, extras = merged.setdefault(spec.config, ([], []))
        weights += [w for w in spec.weights if w not in weights]
        extras += [e for e in spec.extra if e not in extras]
    return [(config, tuple(weights), tuple(extras)) for config, (weights, extras) in merged.items()]


def select_adapter_files(repo_id: str, listing: list[RepoFile]) -> AdapterFiles:
    """Pick the checkpoint files out of a repo listing (see the module docstring).

    Intermediate training checkpoints (``checkpoint-500/``) are used only when the repo has no
    other adapter, and then only the last one.
    """
    by_path = {validate_filename(repo_id, f.path): f for f in listing}
    found: dict[str, list[RepoFile]] = {}
    for path in sorted(by_path):
        posix = PurePosixPath(path)
        folder = "" if str(posix.parent) == "." else str(posix.parent)
        prefix = f"{folder}/" if folder else ""
        for config, weights, extras in _layouts():
            if posix.name != config:
                continue
            weight = next((by_path[prefix + w] for w in weights if prefix + w in by_path), None)
            if weight is None:
                continue
            extra = [by_path[prefix + e] for e in extras if prefix + e in by_path]
            found.setdefault(folder, [by_path[path], weight, *extra])
    if not found:
        names = ", ".join(sorted(by_path)[:6]) or "no files"
        readable = "; ".join(f"{config} + {' or '.join(weights)}" for config, weights, _ in _layouts())
        raise HubError(repo_id, f"has no adapter checkpoint files ({names})",
                       hint=f"zoo-rank reads checkpoints of {readable}")
    final = {k: v for k, v in found.items() if not _TRAINING_STEP.search(k)}
    if not final:
        last = max(found, key=lambda k: [int(n) for n in re.findall(r"checkpoint-(\d+)", k)])
        final = {last: found[last]}
    return AdapterFiles(final, by_path.get(_CARD))


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json",
                    "merges.txt", "spiece.model", "sentencepiece.bpe.model", "added_tokens.json")
_SHARD = re.compile(r"^model-\d{5}-of-\d{5}\.safetensors$")


def select_model_files(repo_id: str, listing: list[RepoFile]) -> AdapterFiles:
    """The files a base model is loaded from (``--with-base-model``): its config, its tokenizer
    and its safetensors weights (one file, or the shards of an index). Pickled ``.bin`` weights
    are never fetched: a model that has only those is refused."""
    by_path = {validate_filename(repo_id, f.path): f for f in listing}
    if "config.json" not in by_path:
        raise HubError(repo_id, "has no config.json at its root: not a transformers model repo")
    if "model.safetensors" in by_path:
        weights = ["model.safetensors"]
    else:
        weights = sorted(p for p in by_path if _SHARD.match(p))
        if not weights or "model.safetensors.index.json" not in by_path:
            raise HubError(repo_id, "has no safetensors weights (zoo-rank never downloads pickled .bin files)",
                           hint="use a base model published with safetensors, or convert it and pass a local folder")
        weights.append("model.safetensors.index.json")
    chosen = ["config.json", *weights, *(name for name in _TOKENIZER_FILES if name in by_path)]
    return AdapterFiles({"": [by_path[name] for name in chosen]}, None)
