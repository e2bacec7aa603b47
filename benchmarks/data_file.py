"""Reading a large data file: time and peak memory of what `--target big.csv` does before
training (stream the file, check every row, hash the examples, draw the 1,000-example sample).

Goal (docs/benchmarks.md): a 200 MB CSV in ≤ 500 MiB peak RSS, the time dominated by the read.
Writes a CSV of N rows (a 180-character review, a second unused text column, a 3-class label),
then runs the reader in a fresh interpreter under /usr/bin/time so the peak is that process's own.

Run: python benchmarks/data_file.py [--mb 200]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import describe

STEP = """
import sys, time
from zoo_rank.datasets import read_table
started = time.perf_counter()
data = read_table(sys.argv[1])
read = time.perf_counter() - started
sha = data.sha256()
hashed = time.perf_counter() - started - read
sample = data.sample(1000, seed=0)
print(f"{len(data)} rows read+checked in {read:.1f} s, hashed in {hashed:.1f} s, sampled {len(sample)} "
      f"in {time.perf_counter() - started - read - hashed:.2f} s")
"""


def write_csv(path: Path, megabytes: int) -> int:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    rows, size = 0, 0
    with path.open("w", encoding="utf-8") as handle:
        handle.write("review,notes,label\n")
        while size < megabytes << 20:
            review = " ".join(rng.choices(words, k=36))[:180]
            line = f'"{review}",note {rows},{rng.choice(("neg", "neu", "pos"))}\n'
            handle.write(line)
            size += len(line)
            rows += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        rows = write_csv(path, args.mb)
        print(f"file: {path.stat().st_size / 2**20:.0f} MiB, {rows} rows")
        started = time.perf_counter()
        with path.open("rb") as handle:
            while handle.read(1 << 24):
                pass
        print(f"plain read of the bytes: {time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        result = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-c", STEP, str(path)],
                                capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        print(result.stdout.strip())
        peak_kib = int(result.stderr.strip().splitlines()[-1])
        print(f"whole step: {wall:.1f} s wall (incl. interpreter start), peak RSS {peak_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
