"""BitFit (Ben Zaken et al., 2022): only the bias terms train.

View: the bias deltas as stored. Recipe: every bias of the base model and the task head
train; saved as deltas from the base biases in zoo-rank's BitFit format (``readers/bitfit.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..terms import Term, Vec
from .base import Family, Method, head_prefixes


def view(w) -> Iterator[Term]:
    for params in w.layers.values():
        for (kind, _param), delta in params.items():
            yield Vec(f"{kind}:bias", delta)


class BitFit(Method):
    """Only bias terms train (Ben Zaken et al., 2022); saved as deltas from the base biases."""

    def prepare(self, model):
        heads = head_prefixes(model)
        self._initial = {}
        for name, param in model.named_parameters():
            in_head = name.split(".", 1)[0] in heads
            param.requires_grad = in_head or name.endswith(".bias")
            if param.requires_grad and not in_head:
                self._initial[name] = param.detach().cpu().clone()
        if not self._initial:
            from ..errors import TrainingError

            raise TrainingError(f"{model.name_or_path}: the base model has no bias parameters to tune with BitFit",
                                hint="use --method lora or prefix")
        self._heads = heads
        return model

    def save(self, model, directory: Path) -> None:
        from ..readers.bitfit import save_bitfit

        params = dict(model.named_parameters())
        deltas = {n: (params[n].detach().float().cpu() - init.float()).numpy() for n, init in self._initial.items()}
        head = {n: p.detach().float().cpu().numpy() for n, p in params.items() if n.split(".", 1)[0] in self._heads}
        save_bitfit(directory, deltas, base_model=model.name_or_path, head=head, modules_to_save=self._heads)


def apply(applying) -> None:
    """``b += delta``."""
    for layer, kind, params, module in applying.each():
        applying.add_to_bias(module, applying.tensor(params, kind, "bias"), layer, kind)


FAMILY = Family("bitfit", ("bitfit",), view, BitFit, (4e-4, 1e-4), apply=apply)
