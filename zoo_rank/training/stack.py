"""Whether this install can train: torch, transformers and peft, checked without importing them.

A base install (``pip install zoo-rank``) ranks, adds, pulls and lists without torch; only
training needs it, and says so in one line with the command that installs it.
"""

from __future__ import annotations

import importlib.util

from ..errors import TrainingError

TRAINING_PACKAGES = ("torch", "transformers", "peft")
# A plain `pip install torch` takes a multi-GB CUDA build on most Linux machines; PyTorch's CPU index does not.
INSTALL_HINT = ('install it with: pip install torch --index-url https://download.pytorch.org/whl/cpu && '
                'pip install "zoo-rank[train]" '
                '(in a checkout: pip install -e ".[train]"; with a GPU, the plain `pip install torch`)')


def missing_training_packages() -> list[str]:
    return [name for name in TRAINING_PACKAGES if importlib.util.find_spec(name) is None]


def require_training_stack(what: str) -> None:
    """Raise one line naming ``what`` needs training and how to install it, when this install cannot train."""
    missing = missing_training_packages()
    if missing:
        raise TrainingError(f"{what} needs training, and this install has no {', '.join(missing)}",
                            hint=INSTALL_HINT)
