"""Prompt tuning (Lester et al., 2021) and P-tuning (Liu et al., 2021): trainable vectors
prepended to the input embeddings.

View: the mean prompt vector and its second moment EᵀE / T, unchanged by permuting positions.
Read from peft checkpoints; not trained by zoo-rank.
"""

from __future__ import annotations

from typing import Iterator

from ..terms import LowRank, Term, Vec
from .base import Family


def view(w) -> Iterator[Term]:
    for name, prompt in w.inputs.items():
        yield Vec(f"{name}:mean", prompt.mean(axis=0))
        yield LowRank(f"{name}:second-moment", prompt.T / len(prompt), prompt.T)


def apply(applying) -> dict:
    """The prompt vectors go in before the input embeddings, the mask widened; the virtual
    positions are dropped from the hidden states."""
    import numpy as np
    import torch

    model, prompt = applying.model, torch.as_tensor(np.asarray(applying.weights.inputs["prompt"], dtype=np.float32))
    applying.check_width(prompt.shape[1])

    def run(input_ids, **batch):
        embeds = model.get_input_embeddings()(input_ids)
        lead = prompt.to(embeds).unsqueeze(0).expand(embeds.shape[0], -1, -1)
        return model(inputs_embeds=torch.cat((lead, embeds), dim=1), **applying.with_virtual_tokens(batch, len(prompt)))

    return {"runner": run, "virtual_tokens": len(prompt)}


FAMILY = Family("prompt", ("prompt_tuning", "p_tuning"), view, apply=apply)
