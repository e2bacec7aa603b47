"""The probe set: fixed texts whose hidden states the behaviour embedder compares.

``zoo_rank/data/probes.json`` holds 170 single texts of 13 kinds (reviews, news, questions,
instructions, chat, social posts, science, formal and legal prose, fiction, opinions, hedged
claims, fragments, ungrammatical sentences) and 32 sentence pairs (entailment, contradiction,
paraphrase, question-answer), so that single-text and pair tasks both act on it. Every text
was written for zoo-rank (Apache-2.0, like the package; no third-party text). Its sha256 is
part of every behaviour space: a changed probe set is a new space, never a silent mix.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ...errors import ZooRankError


@dataclass(frozen=True)
class Probes:
    version: int
    sha256: str
    singles: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]

    def __len__(self) -> int:
        return len(self.singles) + len(self.pairs)


@lru_cache(maxsize=1)
def load_probes() -> Probes:
    """The shipped probe set, checked against the hash it was published with."""
    doc = json.loads(resources.files("zoo_rank").joinpath("data/probes.json").read_text(encoding="utf-8"))
    body = json.dumps(doc["texts"], sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(body.encode()).hexdigest()
    if digest != doc["sha256"]:
        raise ZooRankError("zoo_rank/data/probes.json does not match its recorded sha256",
                           hint="reinstall zoo-rank; the probe set must not be edited in place")
    singles = tuple(t["text"] for t in doc["texts"] if "text_pair" not in t)
    pairs = tuple((t["text"], t["text_pair"]) for t in doc["texts"] if "text_pair" in t)
    return Probes(int(doc["version"]), digest, singles, pairs)
