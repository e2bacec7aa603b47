"""How well rankings predict real transfer: ground truth, baselines, metrics and the report.

``metrics`` and ``gains`` need only numpy; ``transfer`` and ``predict`` fine-tune and run the
base model (the ``train`` extra) when a method group needs it. The names below are the
evaluation's public API (what `zoo-rank bench` and `zoo-rank evaluate` call), loaded on use.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "DEFAULT_TASKS": "transfer", "FisherCapture": "transfer", "TransferConfig": "transfer",
    "TransferError": "transfer", "config_from_results": "transfer", "run_transfer": "transfer",
    "task_list_config": "transfer",
    "predict_all": "predict", "load_predictions": "predict", "predictors": "predict", "Prediction": "predict",
    "load_gains": "gains", "write_csv": "gains", "evaluate": "table", "write_report": "report",
    "write_json": "fisher",
}

# a task list's predictions (``bench predict --tasks``): sources and targets alike, as the built-in sources are trained
TASK_LIST_EXAMPLES = 1000

__all__ = sorted(_EXPORTS) + ["TASK_LIST_EXAMPLES"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
