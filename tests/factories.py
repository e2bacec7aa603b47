"""Checkpoints written by the real peft / adapters libraries on a tiny BERT built from a config."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig, BertForSequenceClassification, BertModel

BASE = "zoo-rank/tiny-bert"
LAYERS = 2
HIDDEN = 32


def tiny_config(**overrides) -> BertConfig:
    kwargs = dict(vocab_size=100, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=4,
                  intermediate_size=37, num_labels=3)
    kwargs.update(overrides)
    return BertConfig(**kwargs)


def tiny_bert(seq_cls: bool = True, seed: int = 0):
    torch.manual_seed(seed)
    model = BertForSequenceClassification(tiny_config()) if seq_cls else BertModel(tiny_config())
    model.config._name_or_path = BASE
    model.name_or_path = BASE  # what peft writes as base_model_name_or_path
    return model


def _randomise(model, names: tuple[str, ...], seed: int, scale: float = 0.1) -> None:
    """Give trainable tensors non-initial values, as training would (B of LoRA starts at 0)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if any(n in name for n in names):
                param.copy_(torch.randn(param.shape, generator=generator) * scale)


def peft_checkpoint(directory: Path, peft_config, *, seed: int = 0, safe: bool = True, randomise=("lora_", "ia3_l")):
    from peft import get_peft_model

    model = get_peft_model(tiny_bert(seed=seed), peft_config)
    _randomise(model, randomise, seed + 1)
    if any(n == "ia3_l" for n in randomise):
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "ia3_l" in name:
                    param.add_(1.0)
    model.save_pretrained(directory, safe_serialization=safe)
    return model


def adapters_checkpoint(directory: Path, config, *, name: str = "task", seed: int = 0, with_head: bool = True):
    import adapters
    from adapters import BertAdapterModel

    torch.manual_seed(seed)
    model = BertAdapterModel(tiny_config())
    model.config._name_or_path = BASE
    with contextlib.redirect_stdout(io.StringIO()):
        model.add_adapter(name, config=config)
        if with_head:
            model.add_classification_head(name, num_labels=3)
        model.train_adapter(name)
    _randomise(model, ("adapters.", "loras.", "prefix_tunings."), seed + 1, scale=0.05)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_adapter(str(directory), name, with_head=with_head)
    return model


def bitfit_checkpoint(directory: Path, *, seed: int = 0) -> dict[str, np.ndarray]:
    from zoo_rank import save_bitfit

    model = tiny_bert(seed=0)
    rng = np.random.default_rng(seed)
    deltas = {n: rng.normal(0, 0.01, p.shape).astype(np.float32)
              for n, p in model.named_parameters() if n.endswith(".bias") and not n.startswith("classifier")}
    head = {n: p.detach().numpy() for n, p in model.named_parameters() if n.startswith("classifier")}
    save_bitfit(directory, deltas, base_model=BASE, head=head, modules_to_save=["classifier"])
    return deltas


WORDS = ("good great fine happy love nice bad awful poor sad hate terrible the a film movie plot story it was is "
         "and but not very really quite maybe perhaps may might seems clearly certainly team game win lose market "
         "price stock vote party election song actor phone software").split()


def tiny_model_dir(directory: Path, name: str = "tiny-bert-local") -> Path:
    """A tiny BERT saved with save_pretrained, with a real WordPiece tokenizer: a base model folder."""
    from transformers import BertTokenizerFast

    directory = directory / name
    directory.mkdir(parents=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, ".", ","]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(directory / "vocab.txt")).save_pretrained(directory)
    torch.manual_seed(0)
    BertModel(tiny_config(vocab_size=len(vocab))).save_pretrained(directory)
    return directory


def sentiment_rows(n: int, seed: int = 0, *, regression: bool = False) -> list[dict]:
    """Template sentences whose label follows the words used (learnable, so training moves)."""
    rng = np.random.default_rng(seed)
    positive, negative = WORDS[:6], WORDS[6:12]
    rows = []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(positive if label else negative, 3)) + list(rng.choice(WORDS[12:22], 3))
        rng.shuffle(words)
        score = float(label) * 2 - 1 + float(rng.normal(0, 0.3))
        rows.append({"text": " ".join(words) + ".", "label": round(score, 3) if regression else ("pos" if label else "neg")})
    return rows


def write_csv(path: Path, rows: list[dict], *, delimiter: str = ",") -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def clustered_unit_vectors(n: int, dim: int, *, clusters: int = 50, spread: float = 0.6, seed: int = 0) -> np.ndarray:
    """Unit vectors around ``clusters`` random centres, like task embeddings of related tasks:
    uniform random vectors would make every neighbour equally far and any index look perfect
    or hopeless."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 50_000):
        size = min(50_000, n - start)
        noise = rng.standard_normal((size, dim)).astype(np.float32) * (spread / np.sqrt(dim))
        block = centres[rng.integers(0, clusters, size)] + noise
        out[start : start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def register_vectors(registry, vectors: np.ndarray, *, method: str = "lora", prefix: str = "a", methods=None):
    """Register each row as an entry of one synthetic space (base model ``m``)."""
    from zoo_rank.embedders.base import Space, TaskEmbedding
    from zoo_rank.registry import NewEntry

    space = Space("m", "lora", "invariant", 1, vectors.shape[1])
    items = [NewEntry(name=f"{prefix}{i}", source="synthetic", content_sha256=f"{prefix}-{i}", files={},
                      method=(methods[i] if methods is not None else method), format="peft", base_model="m",
                      embeddings=[TaskEmbedding(space, row, 1.0)], task=f"task-{prefix}{i}")
             for i, row in enumerate(vectors)]
    registry.insert(items)
    return space
