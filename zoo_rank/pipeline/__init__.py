"""Where registry entries come from, below the API: every source (``local`` folders, ``hub``
pulls and refreshes, ``train``-ing runs, the ``builtin`` build, the ``backfill`` of ``zoo-rank
embed``) describes what it found as ``ingest.Source`` values, and ``ingest.ingest`` embeds them
through an executor and registers them in one transaction. The API (``zoo_rank.api``) is a
façade over it; ranking targets (``targets.py``) use it directly, never the API.
"""
