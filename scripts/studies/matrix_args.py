"""The command-line options the analysis scripts in scripts/studies/ share: which gain matrix, which
predictions, which seeds — so every script reads the committed files the same way."""

from __future__ import annotations

import argparse

from zoo_rank.evaluation.gains import GainMatrix, load_gains


def add_matrix_options(parser: argparse.ArgumentParser) -> None:
    """``--gains``, ``--predictions`` and ``--seeds``, defaulting to the 8-task matrix's files."""
    parser.add_argument("--gains", default="results/transfer-limited.jsonl")
    parser.add_argument("--predictions", default="results/predictions-limited.json")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds whose runs to use (default: all)")


def load_matrix_gains(args: argparse.Namespace) -> GainMatrix:
    """The gains of ``--gains``, limited to ``--seeds`` when given."""
    return load_gains(args.gains, seeds=[int(s) for s in args.seeds.split(",")] if args.seeds else None)
