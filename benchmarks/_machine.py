"""Machine and version facts printed with every benchmark, and the environment a benchmark's child
processes run in."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path


def describe() -> str:
    import numpy

    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024**2:.0f} GiB RAM"
    except OSError:
        pass
    import zoo_rank

    return (f"machine: {cpu}, {os.cpu_count()} cores, {mem}; {platform.system()} {platform.release()}\n"
            f"versions: python {sys.version.split()[0]}, numpy {numpy.__version__}, zoo-rank {zoo_rank.__version__}")


def child_env(**extra: str) -> dict[str, str]:
    """``os.environ`` with ``extra``, and ``ZOO_RANK_ASSETS`` set to the assets `zoo-rank fetch` put
    in the default home (unless already set): a child with a scratch ``ZOO_RANK_HOME`` finds them."""
    from zoo_rank.settings import assets_dir

    env = {**os.environ, **extra}
    env.setdefault("ZOO_RANK_ASSETS", str(assets_dir()))
    here = str(Path(__file__).resolve().parent)  # a probe run with ``python -c`` imports this module too
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    return env


def bitfit_step_setup(data_file: str, batch: int):
    """What a probe needs to time BitFit steps on ``data_file`` as the training loop takes them: the
    default model with a fresh head and BitFit, the encoded data, an optimiser, a seeded order."""
    import random
    from types import SimpleNamespace

    import torch

    from zoo_rank.datasets import read_table
    from zoo_rank.training import TrainConfig, resolve_base_model
    from zoo_rank.training.methods import recipe
    from zoo_rank.training.models import load_for_classification
    from zoo_rank.training.objectives import objective_for

    data = read_table(data_file)
    config = TrainConfig(method="bitfit", batch_size=batch)
    tokenizer, model = load_for_classification(resolve_base_model(None), data.num_labels, False)
    model = recipe("bitfit")(config).prepare(model)
    objective = objective_for(data)
    encoded = objective.encode(tokenizer, data, config.max_length)
    targets, _ = objective.targets(data)
    order = list(range(len(targets)))
    random.Random(0).shuffle(order)
    return SimpleNamespace(model=model, objective=objective, encoded=encoded, targets=targets,
                           lengths=encoded.lengths(), order=order, pad=model.config.pad_token_id or 0,
                           optimizer=torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=4e-4))


def quickstart_data(directory: Path, env: dict[str, str]) -> Path:
    """The quickstart's data file, ``my-data.csv`` in ``directory``: the hedge test split (623
    examples), exported as the README does, in a child run with ``env``."""
    import subprocess

    data = Path(directory) / "my-data.csv"
    subprocess.run([sys.executable, "-m", "zoo_rank", "datasets", "export", "hedge", "--split", "test", "-o", str(data)],
                   check=True, env=env, capture_output=True)
    return data
