"""Large data files as `--target`: time and peak memory of the CLI on a 200 MB file.

Goal (docs/benchmarks.md, issue #35): `zoo-rank --target big.csv` in ≤ 500 MiB peak RSS, and a
training run on it no larger than one on a small file (it trains on a 1,000-example sample).
Two shapes of 200 MB CSV: long rows (a 180-character review, an unused second column, 3
classes; ~1 M rows) and short rows (three words and a label; ~10 M rows).

For each file, each command runs in a fresh process under /usr/bin/time (peak RSS is that
process's own; wall and CPU seconds both, as a neighbour inflates wall time only):
1. the reader: read and check every row, hash the examples, draw the 1,000-example sample;
2. `zoo-rank train FILE --steps 3`: what `--target` does before ranking, with 3 training steps
   (the run's length is the same for any file size), beside the same on its first 600 rows
   (training's own memory depends on the texts' length, not on the file's);
3. `zoo-rank --target FILE`: the embedding is registered (step 2), so it is found by its
   content hash and the file is read, checked and hashed again: the whole data path, no training.

Run: python benchmarks/data_file.py [--mb 200] [--shapes long,short]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import child_env, describe

READER = """
import sys, time
from zoo_rank.datasets import load_data
started = time.perf_counter()
data = load_data(sys.argv[1])
read = time.perf_counter() - started
data.sha256()
hashed = time.perf_counter() - started - read
sample = data.sample(1000, seed=0)
print(f"{len(data):,} rows read+checked in {read:.1f} s, hashed in {hashed:.1f} s, sampled {len(sample)} "
      f"in {time.perf_counter() - started - read - hashed:.1f} s")
"""


def write_csv(path: Path, megabytes: int, shape: str) -> int:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    rows, size = 0, 0
    with path.open("w", encoding="utf-8") as handle:
        handle.write("review,notes,label\n" if shape == "long" else "text,label\n")
        while size < megabytes << 20:
            if shape == "long":
                review = " ".join(rng.choices(words, k=36))[:180]
                line = f'"{review}",note {rows},{rng.choice(("neg", "neu", "pos"))}\n'
            else:
                line = f"{' '.join(rng.choices(words, k=3))},{rng.choice('ab')}\n"
            handle.write(line)
            size += len(line)
            rows += 1
    return rows


def timed(command: list[str], env: dict) -> tuple[str, str]:
    """(the command's last output line, 'W s wall, C s CPU, P MiB peak RSS')."""
    result = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", *command], capture_output=True, text=True,
                            env=env)
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    wall, user, system, peak = result.stderr.strip().splitlines()[-1].split()
    said = (result.stdout.strip().splitlines() or [""])[-1]
    return said, f"{float(wall):.1f} s wall, {float(user) + float(system):.1f} s CPU, {int(peak) / 1024:.0f} MiB peak RSS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--shapes", default="long,short")
    args = parser.parse_args()
    print(describe())
    zoo_rank = [sys.executable, "-m", "zoo_rank"]
    with tempfile.TemporaryDirectory() as tmp:
        env = child_env(ZOO_RANK_HOME=str(Path(tmp) / "home"))
        for shape in args.shapes.split(","):
            path = Path(tmp) / f"{shape}.csv"
            rows = write_csv(path, args.mb, shape)
            print(f"\n{shape} rows: {path.stat().st_size / 2**20:.0f} MiB, {rows:,} rows")
            said, cost = timed([sys.executable, "-c", READER, str(path)], env)
            print(f"  reader: {said}; {cost}")
            small = Path(tmp) / f"{shape}-600.csv"  # the same rows, 600 of them: training's own memory
            with path.open() as whole, small.open("w") as part:
                part.writelines(line for _, line in zip(range(601), whole))
            for name, data in (("600-row file", small), ("the whole file", path)):
                said, cost = timed([*zoo_rank, "train", str(data), "--steps", "3"], env)
                print(f"  train --steps 3, {name}: {cost}")
            said, cost = timed([*zoo_rank, "--target", str(path), "--top", "3"], env)
            print(f"  --target (embedding registered): {cost}")
            started = time.perf_counter()
            with path.open("rb") as handle:
                while handle.read(1 << 24):
                    pass
            print(f"  plain read of the bytes: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
