"""Cold start of `zoo-rank --help` (goal ≤ 0.5 s) and proof that torch is not imported.

Run: python benchmarks/cli_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

from _machine import describe


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    exe = shutil.which("zoo-rank") or sys.exit("zoo-rank is not on PATH; pip install -e . first")
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run([exe, "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from zoo_rank.cli import cli\n"
         "try: cli.main(['--help'], standalone_mode=False)\nexcept SystemExit: pass\n"
         "print(sorted(m for m in ('torch', 'numpy', 'rich', 'transformers') if m in sys.modules))"],
        capture_output=True, text=True, check=True)
    print(describe())
    print(f"zoo-rank --help: median {statistics.median(times) * 1000:.0f} ms, "
          f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {args.runs} runs (goal ≤ 500 ms)")
    print(f"heavy modules imported by --help: {probe.stdout.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
