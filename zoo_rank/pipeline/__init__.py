"""Where registry entries come from, below the API: each source (today: training runs, ``train.py``)
turns its input into checked, embedded entries and registers them. The API (``zoo_rank.api``) is a
façade over it; ranking targets (``targets.py``) use it directly, never the API.
"""
