"""Checkpoints written by the real peft / adapters libraries on a tiny BERT built from a config."""

from __future__ import annotations

import contextlib
import inspect
import io
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig, BertForSequenceClassification, BertModel

from synthetic import WORDS, clustered_unit_vectors, register_vectors, sentiment_rows, write_csv  # noqa: F401 (re-exported)

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



def tiny_model_dir(directory: Path, name: str = "tiny-bert-local") -> Path:
    """A tiny BERT saved with save_pretrained, with a real WordPiece tokenizer: a base model folder."""
    from transformers import BertTokenizerFast

    directory = directory / name
    directory.mkdir(parents=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, ".", ","]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n")
    # transformers 5's tokenizer takes the vocabulary as `vocab` and ignores `vocab_file` (every word
    # would be [UNK]); 4.x takes `vocab_file`
    takes_vocab = "vocab" in inspect.signature(BertTokenizerFast.__init__).parameters
    tokenizer = (BertTokenizerFast(vocab={word: i for i, word in enumerate(vocab)}) if takes_vocab
                 else BertTokenizerFast(vocab_file=str(directory / "vocab.txt")))
    assert tokenizer.convert_tokens_to_ids(WORDS[0]) != tokenizer.unk_token_id
    tokenizer.save_pretrained(directory)
    torch.manual_seed(0)
    BertModel(tiny_config(vocab_size=len(vocab))).save_pretrained(directory)
    return directory
