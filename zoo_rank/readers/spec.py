"""What a reader declares about its format, so that one list (``readers.READERS``) drives
checkpoint detection, the offline cache scan and which files ``pull`` fetches from the hub.

Adding a format is one module defining a ``ReaderSpec`` and one line in that list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..weights import AdapterWeights


@dataclass(frozen=True)
class ReaderSpec:
    format: str  # the name entries record (``Entry.format``)
    config: str  # the file that marks a checkpoint folder of this format
    weights: tuple[str, ...]  # its weight files, preferred first (safetensors before pickles)
    detect: Callable[[dict], bool]  # given the parsed config: is this folder ours?
    read: Callable[[Path], AdapterWeights]
    extra: tuple[str, ...] = ()  # small files worth fetching along (a head config with the label count)
