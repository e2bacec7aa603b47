"""``python -m zoo_rank.cli``, as the ``zoo-rank`` script."""

from . import main

main()
