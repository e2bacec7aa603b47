"""The command-line options the analysis scripts in scripts/studies/ share: which gain matrix, which
predictions, which seeds — so every script reads the committed files the same way."""

from __future__ import annotations

import argparse

from zoo_rank.evaluation.gains import GainMatrix, load_gains


def add_matrix_options(parser: argparse.ArgumentParser) -> None:
    """``--gains``, ``--predictions`` and ``--seeds``, defaulting to the 8-task matrix's files."""
    parser.add_argument("--gains", default="results/transfer-limited.jsonl")
    # the committed predictions as the studies read them, before #37's E re-measured the ``learned 0.1``
    # rows (docs/results.md); pass results/predictions-limited.json for today's
    parser.add_argument("--predictions", default="results/sweep/predictions-limited-before-E.json")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds whose runs to use (default: all)")


def load_matrix_gains(args: argparse.Namespace) -> GainMatrix:
    """The gains of ``--gains``, limited to ``--seeds`` when given."""
    return load_gains(args.gains, seeds=[int(s) for s in args.seeds.split(",")] if args.seeds else None)
