"""Pose model provisioning: where the MediaPipe pose bundle comes from and why it can be trusted.

``resolve_model`` looks, in order, at an explicit ``--model PATH``, ``ISOBALANCE_MODEL``, the cached
official download, the cached offline build and (tests/CI only) ``../shared/models`` beside the checkout.
Google publishes no sha256 for its bundles, so the sha256 of the first download (or build) is recorded
in ``<cache>/models/registry.json`` (trust on first use) and every later use is checked against it.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import http.client
import json
import os
import threading
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from vision.errors import IsobalanceError

MODEL_NAMES = ("lite", "full", "heavy")
OFFICIAL_URL = (
    "https://storage.googleapis.com/mediapipe-models/pose_landmarker/"
    "pose_landmarker_{name}/float16/1/pose_landmarker_{name}.task"
)
OFFICIAL_URLS = MappingProxyType({n: OFFICIAL_URL.format(name=n) for n in MODEL_NAMES})
BUNDLE_MEMBERS = ("pose_detector.tflite", "pose_landmarks_detector.tflite")
OFFLINE_BUNDLE_NAME = "pose_landmarker_full.offline.task"
OFFLINE_NAMES = ("lite", "full")             # bundles `isobalance models build` can make from registry packages
# Tests and CI only: the read-only shared folder beside the repository checkout.
CHECKOUT_SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
WAYS_TO_GET_A_MODEL = (
    "download it with `isobalance models fetch full`, "
    "or point to a .task file with `--model PATH` / ISOBALANCE_MODEL=PATH, "
    "or build it offline from the PyPI wheel with `isobalance models build`"
)


class ModelError(IsobalanceError):
    """Something is wrong with the pose model."""


class ModelNotFoundError(ModelError):
    """No usable pose model is available on this machine."""


class ModelDownloadError(ModelError):
    """The official bundle could not be downloaded."""


class InvalidModelError(ModelError):
    """A file is not a pose landmarker bundle MediaPipe can use."""


class ModelChecksumError(InvalidModelError):
    """A cached model no longer has the sha256 recorded when it was first obtained."""


class ModelBuildError(ModelError):
    """The offline build from the PyPI wheel failed."""


@dataclass(frozen=True)
class ModelReport:
    """What ``verify_model`` measured about one bundle file."""

    path: Path
    sha256: str
    size: int
    members: tuple[str, ...]
    loads: bool
    load_error: str | None = None


@dataclass(frozen=True)
class CachedModel:
    """One model slot in the user cache, for ``isobalance models list``."""

    name: str
    path: Path
    cached: bool
    sha256: str | None
    source: str | None


# --- cache locations -------------------------------------------------------------------------------


def cache_dir() -> Path:
    """ISOBALANCE_CACHE, else $XDG_CACHE_HOME/isobalance, else ~/.cache/isobalance."""
    if os.environ.get("ISOBALANCE_CACHE"):
        return Path(os.environ["ISOBALANCE_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "isobalance"


def models_dir() -> Path:
    return cache_dir() / "models"


def official_path(name: str) -> Path:
    return models_dir() / f"pose_landmarker_{check_name(name)}.task"


def offline_path(name: str = "full") -> Path:
    return models_dir() / OFFLINE_BUNDLE_NAME.replace("_full.", f"_{check_name(name)}.")


def registry_path() -> Path:
    return models_dir() / "registry.json"


def check_name(name: str) -> str:
    if name not in MODEL_NAMES:
        raise ModelNotFoundError(f"Unknown pose model '{name}': choose one of {', '.join(MODEL_NAMES)}.")
    return name


# --- hashing and downloading (also used by sample_videos) ------------------------------------------


@functools.lru_cache(maxsize=128)
def _sha256_keyed(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: str | os.PathLike) -> str:
    """sha256 of a file; hashed once per process per (path, mtime, size)."""
    p = Path(path).resolve()
    st = p.stat()
    return _sha256_keyed(str(p), st.st_mtime_ns, st.st_size)


def download_file(url: str, dest: Path, *, desc: str, progress: bool = True, timeout: float = 30) -> Path:
    """Stream ``url`` into ``dest`` (callers pass a ``.partial`` path and rename after checking it).

    Raises OSError or http.client.HTTPException; a truncated body is an OSError. ``dest`` is removed on failure.
    """
    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            received = 0
            with open(dest, "wb") as out, tqdm(
                total=total, unit="B", unit_scale=True, desc=desc, disable=not progress, leave=False
            ) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
        if total is not None and received != total:
            raise OSError(f"incomplete download: {received} of {total} bytes")
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return dest


# --- registry (trust on first use) ----------------------------------------------------------------


def read_registry() -> dict:
    path = registry_path()
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (ValueError, OSError) as exc:
        raise ModelError(f"The model registry {path} is unreadable ({exc}); delete it and fetch again.") from exc


def _record(file_name: str, sha256: str, size: int, source: str, url: str | None = None) -> None:
    registry = read_registry()
    registry[file_name] = {
        "sha256": sha256,
        "size": size,
        "source": source,
        "url": url,
        "recorded": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    path = registry_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(registry, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def check_against_registry(path: Path, source_if_new: str) -> str:
    """Compare a cached file with its recorded sha256; record it if it was never seen (first use)."""
    sha = sha256_of(path)
    entry = read_registry().get(path.name)
    if entry is None:
        _record(path.name, sha, path.stat().st_size, source_if_new)
    elif entry["sha256"] != sha:
        raise ModelChecksumError(
            f"The cached model {path} has sha256 {sha}, but {entry['sha256']} was recorded when it was "
            f"obtained ({entry.get('source')}, {entry.get('recorded')}): the file changed. Delete it and its "
            f"entry in {registry_path()}, then {WAYS_TO_GET_A_MODEL}."
        )
    return sha


# --- checking a bundle ----------------------------------------------------------------------------


def check_bundle(path: str | os.PathLike) -> tuple[str, ...]:
    """Cheap structural check (no model load): an uncompressed zip with both pose members."""
    p = Path(path)
    if not p.is_file():
        raise ModelNotFoundError(f"The model file {p} does not exist; {WAYS_TO_GET_A_MODEL}.")
    if not zipfile.is_zipfile(p):
        raise InvalidModelError(
            f"{p} is not a MediaPipe pose model bundle (.task): it is not a zip archive."
        )
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidModelError(f"{p} is not a readable zip archive ({exc}).") from exc
    members = tuple(i.filename for i in infos)
    missing = [m for m in BUNDLE_MEMBERS if m not in members]
    if missing:
        raise InvalidModelError(
            f"{p} is not a pose landmarker bundle: it lacks {', '.join(missing)} "
            f"(it holds {', '.join(members) or 'nothing'})."
        )
    compressed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED]
    if compressed:
        raise InvalidModelError(
            f"{p} is a compressed zip ({', '.join(compressed)}); MediaPipe needs an uncompressed "
            "(ZIP_STORED) bundle: repack it with `zip -0` or use the original file."
        )
    return members


def read_detector(path: str | os.PathLike) -> bytes:
    """The person detector (``pose_detector.tflite``) inside a pose bundle, for ``vision.person_detector``."""
    check_bundle(path)
    with zipfile.ZipFile(path) as zf:
        return zf.read(BUNDLE_MEMBERS[0])


UNPACKED_DETECTOR = "pose_detector-{source}-{sha}.f32.tflite"   # source: the bundle member's CRC-32 and size


def _unpacked_detector_source(path: str | os.PathLike) -> str:
    check_bundle(path)
    with zipfile.ZipFile(path) as zf:
        member = zf.getinfo(BUNDLE_MEMBERS[0])
    return f"{member.CRC:08x}{member.file_size:08x}"


def unpacked_detector_made(path: str | os.PathLike) -> bool:
    """True when the model cache holds an unpacked detector for this bundle (not checked: cheap)."""
    try:
        return any(models_dir().glob(UNPACKED_DETECTOR.format(source=_unpacked_detector_source(path), sha="*")))
    except (OSError, ModelError):
        return False


def unpacked_detector(path: str | os.PathLike) -> Path | None:
    """The bundle's person detector with float32 weights (``vision.person_detector.unpacked_model``):
    made once per detector into the model cache, found by the member's CRC-32 and size (from the zip's
    directory: the 3 MB member is not read when the file exists), checked against the sha256 in its
    name at every use. None when the cache cannot be written; the caller then loads the detector from
    the bundle."""
    source = _unpacked_detector_source(path)
    folder = models_dir()
    pattern = UNPACKED_DETECTOR.format(source=source, sha="{sha}")
    found = _made_before(folder, pattern)
    if found is not None:
        return found
    from vision.person_detector import unpacked_model

    model = unpacked_model(read_detector(path))
    return _save_derived(folder, pattern, lambda partial: partial.write_bytes(model))


def _made_before(folder: Path, pattern: str) -> Path | None:
    """A model derived earlier into ``folder`` (``pattern``'s ``{sha}``: the first 16 hex digits of its
    sha256) whose bytes still match its name; None when there is none (or no such folder)."""
    try:
        made = sorted(folder.glob(pattern.format(sha="*")))
    except OSError:        # no such folder, or a file in its place
        return None
    for found in made:
        if sha256_of(found)[:16] == found.name.split("-")[2].split(".")[0]:
            return found
    return None


def _save_derived(folder: Path, pattern: str, write) -> Path | None:
    """``write(partial)`` a derived model, then name it by its sha256 (``pattern``'s ``{sha}``) with an
    atomic rename, so a concurrent run sees the whole file or none. None when ``folder`` cannot be
    written: the caller then uses the bundle as it is."""
    partial = folder / f"{pattern.format(sha='0' * 16)}.{os.getpid()}.{threading.get_ident()}.partial"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write(partial)
        dest = folder / pattern.format(sha=sha256_of(partial)[:16])
        os.replace(partial, dest)
    except OSError:
        try:
            partial.unlink()
        except OSError:
            pass
        return None
    return dest


UNPACKED_BUNDLE = "pose_landmarker-{source}-{sha}.graphs.task"   # source: both members' CRC-32 and size
# earlier versions of the twin, no longer used: float32 weights only (up to 36c1a81), and with the mask as a
# constant output (54991be-e166580: LiteRT read it from the file at every frame). ``models list`` shows them
# as safe to delete; they are not deleted here, as an older isobalance still running (a dashboard) may
# load a graph from its own version later
SUPERSEDED_BUNDLES = ("pose_landmarker-{source}-{sha}.f32.task", "pose_landmarker-{source}-{sha}.f32-nomask.task")
BUNDLE_ALIGN = 64     # each member's bytes start at a multiple of this in the file (the original's are 64-aligned)


def unpacked_bundle(path: str | os.PathLike) -> Path | None:
    """The bundle rewritten for the landmarker's MediaPipe graphs (``vision.landmarker``), made once per
    bundle into the model cache, found by its members' CRC-32 and size and checked against the sha256
    in its name at every use, as ``unpacked_detector``. None when it cannot be made (cache not
    writable, a model the rewrite does not handle): the caller then uses the bundle as it is.

    * Both models' weights stored float32 (``vision.person_detector.unpacked_model``): XNNPACK then keeps
      no unpacked copy of the float16/sparse weights beside its packed one (~7 MB less per graph).
    * The landmark model's segmentation head removed (``vision.tflite_edit.zero_output``): its mask
      output is zeros written by two cheap ops, ~29 % of the model's CPU saved on every frame. isobalance never asks
      MediaPipe for segmentation masks; a graph that did would get empty ones from this file.

    Every landmark is bit-identical to the bundle's (tests/vision/test_memory_bundle.py)."""
    check_bundle(path)
    with zipfile.ZipFile(path) as zf:
        infos = [zf.getinfo(m) for m in BUNDLE_MEMBERS]
    source = "".join(f"{i.CRC:08x}{i.file_size:08x}" for i in infos)
    folder = models_dir()
    pattern = UNPACKED_BUNDLE.format(source=source, sha="{sha}")
    found = _made_before(folder, pattern)
    if found is not None:
        return found
    from vision.person_detector import unpacked_model

    try:
        with zipfile.ZipFile(path) as zf:
            members = {m: unpacked_model(zf.read(m)) for m in BUNDLE_MEMBERS}
    except Exception:  # noqa: BLE001 - a model the rewrite cannot handle: the bundle as it is
        return None
    members[BUNDLE_MEMBERS[1]] = _without_mask(members[BUNDLE_MEMBERS[1]])
    return _save_derived(folder, pattern, lambda partial: _write_stored_zip(partial, members))


def _without_mask(landmark_model: bytes) -> bytes:
    """The landmark model without its segmentation head; as it is when it has no recognisable one or
    the edit fails (the float32 weights are still worth having)."""
    from vision.tflite_edit import segmentation_output, zero_output

    try:
        mask = segmentation_output(landmark_model)
        return landmark_model if mask is None else zero_output(landmark_model, mask)
    except Exception:  # noqa: BLE001 - a graph the edit does not handle: the model as it is
        return landmark_model


def _write_stored_zip(dest: Path, members: dict[str, bytes]) -> None:
    """An uncompressed zip of ``members`` whose data start on ``BUNDLE_ALIGN`` boundaries (padding in
    each local header's extra field), as MediaPipe maps a bundle's members in place."""
    with open(dest, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as out:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            start = f.tell() + 30 + len(name.encode()) + 4        # local header, name, the padding record's id and size
            pad = -start % BUNDLE_ALIGN
            info.extra = b"\xfe\xca" + pad.to_bytes(2, "little") + bytes(pad)   # an unregistered id: ignored by readers
            out.writestr(info, data)


def load_error(path: str | os.PathLike) -> str | None:
    """Try to create a real PoseLandmarker from the bundle; None if it loads, else MediaPipe's message."""
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.vision import pose_landmarker

    options = pose_landmarker.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(path)))
    try:
        landmarker = pose_landmarker.PoseLandmarker.create_from_options(options)
    except Exception as exc:  # MediaPipe raises RuntimeError/ValueError with its own message
        return str(exc) or type(exc).__name__
    landmarker.close()
    return None


def verify_model(path: str | os.PathLike) -> ModelReport:
    """Structure (raises InvalidModelError with a plain sentence) and a real load by PoseLandmarker."""
    p = Path(path)
    members = check_bundle(p)
    error = load_error(p)
    return ModelReport(
        path=p, sha256=sha256_of(p), size=p.stat().st_size, members=members, loads=error is None, load_error=error
    )


# --- resolving, fetching, building -----------------------------------------------------------------


def resolve_model(name: str = "full", path: str | os.PathLike | None = None) -> Path:
    """The bundle to use: --model PATH, ISOBALANCE_MODEL, cached download, cached offline build, ../shared."""
    if path:
        check_bundle(_existing(path, "--model"))
        return Path(path)
    env = os.environ.get("ISOBALANCE_MODEL")
    if env:
        check_bundle(_existing(env, "ISOBALANCE_MODEL"))
        return Path(env)
    check_name(name)
    official = official_path(name)
    if official.is_file():
        check_bundle(official)
        check_against_registry(official, "found in cache")
        return official
    if name in OFFLINE_NAMES and offline_path(name).is_file():
        check_bundle(offline_path(name))
        check_against_registry(offline_path(name), "found in cache")
        return offline_path(name)
    shared = CHECKOUT_SHARED_MODELS / f"pose_landmarker_{name}.task"
    if shared.is_file():
        check_bundle(shared)
        return shared
    ways = WAYS_TO_GET_A_MODEL.replace("fetch full", f"fetch {name}")
    ways = ways.replace("`isobalance models build`", f"`isobalance models build {name}`" if name in OFFLINE_NAMES
                        else "`isobalance models build` (lite and full only)")
    raise ModelNotFoundError(f"No '{name}' pose model is available on this machine: {ways}.")


def _existing(path: str | os.PathLike, origin: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ModelNotFoundError(f"{origin} points to {p}, which does not exist; {WAYS_TO_GET_A_MODEL}.")
    return p


def fetch_model(name: str = "full", *, force: bool = False, progress: bool = True) -> Path:
    """Download the official bundle into the cache, check it loads and pin its sha256 (first use)."""
    dest = official_path(name)
    if dest.is_file() and not force:
        check_bundle(dest)
        check_against_registry(dest, "found in cache")
        return dest
    url = OFFICIAL_URLS[name]
    partial = dest.with_name(dest.name + ".partial")
    try:
        download_file(url, partial, desc=dest.name, progress=progress)
    except (OSError, http.client.HTTPException) as exc:
        raise ModelDownloadError(
            f"Could not download the '{name}' pose model from {url} ({exc}). Without internet, build the "
            "'full' model offline with `isobalance models build` (needs the mediapipe==0.10.21 wheel from "
            "PyPI or a copy of it via --wheel PATH), or point to a model file with `--model PATH` / "
            "ISOBALANCE_MODEL=PATH."
        ) from exc
    try:
        report = verify_model(partial)
        if not report.loads:
            raise InvalidModelError(
                f"The file downloaded from {url} is not a usable pose model: MediaPipe says {report.load_error}"
            )
        entry = read_registry().get(dest.name)
        if entry is not None and entry["sha256"] != report.sha256:
            raise ModelChecksumError(
                f"The file downloaded from {url} has sha256 {report.sha256}, but {entry['sha256']} was recorded "
                f"on first download ({entry.get('recorded')}): it was altered or Google replaced it. The cached "
                f"copy was kept; if you trust the new file, delete its entry in {registry_path()} and fetch again."
            )
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, dest)
    if entry is None:
        _record(dest.name, report.sha256, report.size, "official download", url)
    return dest


def build_offline(wheel: str | os.PathLike | None = None, *, name: str = "full",
                  npm_tarball: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Build the ``name`` bundle ('full' or 'lite') from mediapipe 0.10.21's PyPI wheel and, for 'lite',
    Google's @mediapipe/pose npm package (each downloaded once into the cache)."""
    from vision import bundle_builder

    if name not in OFFLINE_NAMES:
        raise ModelBuildError(f"Only {' and '.join(OFFLINE_NAMES)} can be built offline, not '{name}'.")
    wheel_path = _given_or_downloaded(wheel, "wheel", lambda: bundle_builder.download_wheel(
        cache_dir() / "wheels", progress=progress))
    tarball = None
    if bundle_builder.NPM_LANDMARK_MODELS[name] is not None:
        tarball = _given_or_downloaded(npm_tarball, "npm package", lambda: bundle_builder.download_npm_package(
            cache_dir() / "npm", progress=progress))
    dest = offline_path(name)
    partial = dest.with_name(dest.name + ".partial")
    dest.parent.mkdir(parents=True, exist_ok=True)
    sources = wheel_path.name + (f" and {tarball.name}" if tarball else "")
    try:
        bundle_builder.build_bundle(wheel_path, partial, name, tarball)
        report = verify_model(partial)
        if not report.loads:
            raise ModelBuildError(f"The bundle built from {sources} does not load: {report.load_error}")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, dest)
    _record(dest.name, report.sha256, report.size, f"offline build from {sources}")
    return dest


def _given_or_downloaded(given: str | os.PathLike | None, what: str, download) -> Path:
    if given is None:
        return download()
    path = Path(given).expanduser()
    if not path.is_file():
        raise ModelBuildError(f"The {what} {path} does not exist.")
    return path


def cached_models() -> list[CachedModel]:
    """Every cache slot (official lite/full/heavy and the offline lite/full builds), present or not, then
    every person detector derived from a bundle (``unpacked_detector``) that is in the cache."""
    registry = read_registry()
    slots = [(n, official_path(n)) for n in MODEL_NAMES] + [(f"{n} (offline build)", offline_path(n))
                                                             for n in OFFLINE_NAMES]
    out = []
    for name, path in slots:
        entry = registry.get(path.name, {})
        present = path.is_file()
        out.append(
            CachedModel(
                name=name,
                path=path,
                cached=present,
                sha256=sha256_of(path) if present else None,
                source=entry.get("source") if present else None,
            )
        )
    # derived files: the person detector with float32 weights (``unpacked_detector``), made on first use
    for path in sorted(models_dir().glob(UNPACKED_DETECTOR.format(source="*", sha="*"))):
        out.append(CachedModel(name="person detector (float32)", path=path, cached=True,
                               sha256=sha256_of(path),
                               source="derived from a bundle's pose_detector.tflite on first use; "
                                      "safe to delete (made again when needed)"))
    for path in sorted(models_dir().glob(UNPACKED_BUNDLE.format(source="*", sha="*"))):
        out.append(CachedModel(name="pose bundle for the graphs (float32, no mask head)", path=path, cached=True,
                               sha256=sha256_of(path),
                               source="derived from a bundle on first use; safe to delete (made again when needed)"))
    for old in SUPERSEDED_BUNDLES:
        for path in sorted(models_dir().glob(old.format(source="*", sha="*"))):
            out.append(CachedModel(name="pose bundle for the graphs, earlier version", path=path, cached=True,
                                   sha256=sha256_of(path),
                                   source="made by an earlier isobalance, no longer used: safe to delete"))
    return out
