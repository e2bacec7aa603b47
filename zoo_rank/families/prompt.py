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


FAMILY = Family("prompt", ("prompt_tuning", "p_tuning"), view)
