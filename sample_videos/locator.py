"""Finding a sample clip on this machine, or copying/downloading it, always checked by sha256.

Search order for ``locate``: the clips shipped in this package (``sample_videos/``, so a first run works
offline), ISOBALANCE_SAMPLES_DIR, ``../shared/videos`` beside the checkout, the user cache
(``<cache>/samples``); only then the clip's public URL (into the cache). A file with the right name
but the wrong sha256 is an error, never silently used or skipped.
"""

from __future__ import annotations

import http.client
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from sample_videos.manifest import Clip, load_manifest
from vision.errors import IsobalanceError
from vision.models import cache_dir, download_file, sha256_of

SHIPPED_DIR = Path(__file__).resolve().parent  # the four small clips and their license texts
CHECKOUT_SHARED_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "videos"


class SampleError(IsobalanceError):
    """A sample clip cannot be provided."""


class UnknownSampleError(SampleError):
    pass


class SampleChecksumError(SampleError):
    pass


class SampleNotFoundError(SampleError):
    pass


class SampleDownloadError(SampleError):
    pass


def samples_cache_dir() -> Path:
    return cache_dir() / "samples"


def search_dirs() -> list[Path]:
    env = os.environ.get("ISOBALANCE_SAMPLES_DIR")
    return [SHIPPED_DIR] + ([Path(env).expanduser()] if env else []) + [CHECKOUT_SHARED_VIDEOS, samples_cache_dir()]


def clip_info(name: str, clips: Mapping[str, Clip] | None = None) -> Clip:
    clips = load_manifest() if clips is None else clips
    if name not in clips:
        raise UnknownSampleError(f"There is no sample clip '{name}'; the samples are: {', '.join(clips)}.")
    return clips[name]


def check_file(path: Path, clip: Clip) -> Path:
    """``path`` if its sha256 is the manifest's, else a SampleChecksumError saying what to do."""
    got = sha256_of(path)
    if got != clip.sha256:
        raise SampleChecksumError(
            f"{path} has sha256 {got}, but the sample {clip.name} has {clip.sha256}: it is a different or "
            "damaged file. Delete it, or fetch the sample again with `isobalance samples fetch`."
        )
    return path


def find_local(name: str, clips: Mapping[str, Clip] | None = None) -> Path | None:
    """The checked local copy of a clip, or None when no search folder has it (never downloads)."""
    clip = clip_info(name, clips)
    for folder in search_dirs():
        candidate = folder / name
        if candidate.is_file():
            return check_file(candidate, clip)
    return None


def locate(name: str, *, clips: Mapping[str, Clip] | None = None, progress: bool = False) -> Path:
    """Local path of a sample clip, sha256-checked; downloaded into the user cache if no copy exists."""
    clip = clip_info(name, clips)
    found = find_local(name, {name: clip})
    if found is not None:
        return found
    return _download(clip, samples_cache_dir(), progress=progress)


def fetch(
    dest: str | os.PathLike,
    from_dir: str | os.PathLike | None = None,
    names: Iterable[str] | None = None,
    *,
    clips: Mapping[str, Clip] | None = None,
    progress: bool = True,
) -> list[Path]:
    """Put checked copies of the clips (default: all) into ``dest``, from a local folder or their URLs."""
    clips = load_manifest() if clips is None else clips
    wanted = [clip_info(n, clips) for n in (list(names) if names is not None else list(clips))]
    dest = Path(dest).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for clip in wanted:
        target = dest / clip.name
        if target.is_file() and sha256_of(target) == clip.sha256:
            out.append(target)
        elif from_dir is not None:
            out.append(_copy(clip, Path(from_dir).expanduser(), dest))
        else:
            out.append(_download(clip, dest, progress=progress))
    return out


def _copy(clip: Clip, from_dir: Path, dest: Path) -> Path:
    source = from_dir / clip.name
    if not source.is_file():
        raise SampleNotFoundError(f"{from_dir} has no {clip.name}; the samples are listed by `isobalance samples list`.")
    check_file(source, clip)
    partial = dest / f"{clip.name}.partial"
    try:
        shutil.copyfile(source, partial)
        check_file(partial, clip)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, dest / clip.name)
    return dest / clip.name


def _download(clip: Clip, dest: Path, *, progress: bool) -> Path:
    partial = dest / f"{clip.name}.partial"
    try:
        download_file(clip.url, partial, desc=clip.name, progress=progress)
    except (OSError, http.client.HTTPException) as exc:
        raise SampleDownloadError(
            f"The sample {clip.name} is not on this machine and could not be downloaded from {clip.url} ({exc}). "
            "Copy it from a folder that has it with `isobalance samples fetch --from DIR`, or point "
            "ISOBALANCE_SAMPLES_DIR at that folder."
        ) from exc
    try:
        check_file(partial, clip)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, dest / clip.name)
    return dest / clip.name
