"""Offline build of the 'full' and 'lite' pose bundles from Google's packages on PyPI and npm.

Why: Google's model storage is not reachable everywhere, but the package registries usually are. The
mediapipe 0.10.21 wheel ships the BlazePose GHUM pose detector and the 'full' landmark model; the 'lite'
landmark model is not in it (the legacy Python solution downloaded it at run time), but Google's npm
package of the legacy JavaScript solution, @mediapipe/pose 0.5.1675469404, ships it (Apache-2.0; its
'full' model is byte-identical to the wheel's, same sha256). Neither has the image-input metadata the
Tasks API needs; we write it with mediapipe's own writer and pack detector + landmark model as an
uncompressed .task bundle. The wheel is only opened as a zip and the npm tarball as a tar, never installed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import struct
import subprocess
import sys
import tarfile
import types
import zipfile
from pathlib import Path

from vision.models import ModelBuildError

WHEEL_REQUIREMENT = "mediapipe==0.10.21"
WHEEL_GLOB = "mediapipe-0.10.21-*.whl"
# Any py3.11 wheel holds the same model files; a fixed platform makes the download the same everywhere.
WHEEL_PLATFORM = "manylinux_2_28_x86_64"
NPM_PACKAGE = "@mediapipe/pose@0.5.1675469404"
NPM_TARBALL = "mediapipe-pose-0.5.1675469404.tgz"
# bundle member -> (path inside the wheel, sha256 of that file in 0.10.21, norm_mean, norm_std)
BUNDLE_SOURCES = {
    "pose_detector.tflite": (
        "mediapipe/modules/pose_detection/pose_detection.tflite",
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
        127.5,  # input scaled to [-1, 1]
        127.5,
    ),
    "pose_landmarks_detector.tflite": (
        "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
        0.0,  # input scaled to [0, 1]
        255.0,
    ),
}
# The landmark model of each buildable bundle: (path inside the npm tarball, sha256, norm_mean, norm_std);
# None = the wheel's own (BUNDLE_SOURCES). The lite model takes the same [0, 1] input as the full one.
NPM_LANDMARK_MODELS = {
    "full": None,
    "lite": ("package/pose_landmark_lite.tflite",
             "f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61", 0.0, 255.0),
}
BUILDABLE = tuple(NPM_LANDMARK_MODELS)
# The native module mediapipe 1.2.2's writer imports but does not ship; "1.0.0" is what 0.10.21's
# native version computes for image-input metadata with normalization options.
_NATIVE_VERSION_MODULE = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"
_MIN_PARSER_VERSION = "1.0.0"
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # reproducible bundles: same inputs, same bytes
# TFLite maps models in place only when their data is aligned; otherwise it copies them (and warns).
_MEMBER_ALIGNMENT = 64
_ALIGNMENT_EXTRA_ID = 0xD935  # the extra-field id Android's zipalign uses for padding


def find_cached_wheel(wheel_dir: Path) -> Path | None:
    found = sorted(Path(wheel_dir).glob(WHEEL_GLOB))
    return found[0] if found else None


def download_wheel(wheel_dir: Path, *, progress: bool = True) -> Path:
    """`pip download --no-deps mediapipe==0.10.21` into ``wheel_dir`` once; later calls reuse it."""
    cached = find_cached_wheel(wheel_dir)
    if cached is not None:
        return cached
    Path(wheel_dir).mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--python-version", "3.11", "--platform", WHEEL_PLATFORM, "-d", str(wheel_dir), WHEEL_REQUIREMENT,
    ]
    if not progress:
        cmd.insert(4, "--quiet")
    try:
        done = subprocess.run(cmd, stdout=None if progress else subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise ModelBuildError(f"Could not run pip to download {WHEEL_REQUIREMENT} ({exc}).") from exc
    wheel = find_cached_wheel(wheel_dir)
    if done.returncode != 0 or wheel is None:
        last = (done.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise ModelBuildError(
            f"pip could not download {WHEEL_REQUIREMENT} ({last[0]}). Download the wheel on another machine "
            "(`pip download --no-deps mediapipe==0.10.21`) and pass it with `isobalance models build --wheel PATH`."
        )
    return wheel


def download_npm_package(npm_dir: Path, *, progress: bool = True) -> Path:
    """`npm pack @mediapipe/pose@0.5.1675469404` into ``npm_dir`` once (the tarball only, nothing installed)."""
    cached = Path(npm_dir) / NPM_TARBALL
    if cached.is_file():
        return cached
    Path(npm_dir).mkdir(parents=True, exist_ok=True)
    cmd = ["npm", "pack", NPM_PACKAGE, "--pack-destination", str(npm_dir)] + ([] if progress else ["--quiet"])
    try:
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=None if progress else subprocess.PIPE, text=True)
    except OSError as exc:
        raise ModelBuildError(f"Could not run npm to download {NPM_PACKAGE} ({exc}): install Node.js and npm, or "
                              f"download {NPM_TARBALL} on another machine (`npm pack {NPM_PACKAGE}`) and pass it "
                              "with `isobalance models build lite --npm-tarball PATH`.") from exc
    if done.returncode != 0 or not cached.is_file():
        last = (done.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise ModelBuildError(f"npm could not download {NPM_PACKAGE} ({last[0]}). Download it on another machine "
                              f"(`npm pack {NPM_PACKAGE}`) and pass it with `isobalance models build lite "
                              "--npm-tarball PATH`.")
    return cached


def read_npm_model(tarball: Path, name: str) -> bytes:
    """The ``name`` landmark model from the @mediapipe/pose tarball, checked against its known sha256."""
    src, expected, *_ = NPM_LANDMARK_MODELS[name]
    try:
        with tarfile.open(tarball, "r:gz") as tf:
            member = tf.extractfile(src)
            if member is None:
                raise KeyError(src)
            data = member.read()
    except KeyError:
        raise ModelBuildError(f"{tarball} is not the {NPM_PACKAGE} package: it lacks {src}.") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ModelBuildError(f"{tarball} is not a readable npm package (gzipped tar) ({exc}).") from exc
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise ModelBuildError(f"{src} in {tarball} has sha256 {got}, not the {expected} of {NPM_PACKAGE}: use "
                              "the unmodified package from the npm registry.")
    return data


@contextlib.contextmanager
def _metadata_writer_module():
    """Import mediapipe's metadata writer, standing in for its missing native version module.

    Everything this puts into sys.modules is removed on exit, so no stand-in outlives the build.
    """
    before = set(sys.modules)
    try:
        importlib.import_module(_NATIVE_VERSION_MODULE)
    except ImportError:
        parts = _NATIVE_VERSION_MODULE.split(".")
        for i in range(3, len(parts)):  # mediapipe.tasks.cc, ...cc.metadata, ...cc.metadata.python
            name = ".".join(parts[:i])
            if name not in sys.modules:
                package = types.ModuleType(name)
                package.__path__ = []
                sys.modules[name] = package
        stand_in = types.ModuleType(_NATIVE_VERSION_MODULE)
        stand_in.GetMinimumMetadataParserVersion = lambda metadata_buffer: _MIN_PARSER_VERSION
        sys.modules[_NATIVE_VERSION_MODULE] = stand_in
    try:
        yield importlib.import_module("mediapipe.tasks.python.metadata.metadata_writers.metadata_writer")
    finally:
        for name in set(sys.modules) - before:
            if name.startswith(("mediapipe.tasks.cc", "mediapipe.tasks.python.metadata")):
                del sys.modules[name]


def add_image_input_metadata(model: bytes, name: str, norm_mean: float, norm_std: float) -> bytes:
    """The TFLite model with RGB image-input metadata (normalization), as the Tasks API requires."""
    with _metadata_writer_module() as metadata_writer:
        writer_utils = importlib.import_module("mediapipe.tasks.python.metadata.metadata_writers.writer_utils")
        writer = metadata_writer.MetadataWriter.create(bytearray(model))
        writer.add_general_info(name, "")
        writer.add_image_input(norm_mean=[norm_mean], norm_std=[norm_std])
        for _ in writer_utils.get_output_tensor_types(model):
            writer.add_feature_output()  # names come from the model's own output tensors
        content, _json = writer.populate()
        del writer  # its temp folder is cleaned now, not at interpreter exit
    return bytes(content)


def read_wheel_models(wheel: Path) -> dict[str, bytes]:
    """The two source models from the wheel, checked against their known 0.10.21 sha256."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            missing = [src for src, *_ in BUNDLE_SOURCES.values() if src not in names]
            if missing:
                raise ModelBuildError(f"{wheel} is not a mediapipe 0.10.21 wheel: it lacks {', '.join(missing)}.")
            models = {member: zf.read(src) for member, (src, *_) in BUNDLE_SOURCES.items()}
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelBuildError(f"{wheel} is not a readable wheel (zip) file ({exc}).") from exc
    for member, (src, expected, *_) in BUNDLE_SOURCES.items():
        got = hashlib.sha256(models[member]).hexdigest()
        if got != expected:
            raise ModelBuildError(
                f"{src} in {wheel} has sha256 {got}, not the {expected} of mediapipe 0.10.21: use the "
                "unmodified mediapipe==0.10.21 wheel from PyPI."
            )
    return models


def build_bundle(wheel: Path, out: Path, name: str = "full", npm_tarball: Path | None = None) -> Path:
    """Write the ``name`` pose landmarker bundle (ZIP_STORED, fixed timestamps): the detector from ``wheel``,
    the landmark model from ``wheel`` ('full') or from the @mediapipe/pose ``npm_tarball`` ('lite')."""
    models = read_wheel_models(Path(wheel))
    norms = {member: (mean, std) for member, (_src, _sha, mean, std) in BUNDLE_SOURCES.items()}
    if NPM_LANDMARK_MODELS[name] is not None:
        if npm_tarball is None:
            raise ModelBuildError(f"The '{name}' bundle needs the {NPM_PACKAGE} npm package.")
        models["pose_landmarks_detector.tflite"] = read_npm_model(Path(npm_tarball), name)
        norms["pose_landmarks_detector.tflite"] = tuple(NPM_LANDMARK_MODELS[name][2:])
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for member, (mean, std) in norms.items():
            info = zipfile.ZipInfo(member, date_time=_FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.extra = _alignment_padding(zf.fp.tell() + 30 + len(member.encode()))
            zf.writestr(info, add_image_input_metadata(models[member], member.removesuffix(".tflite"), mean, std))
    return out


def _alignment_padding(data_offset_without_extra: int) -> bytes:
    """A well-formed zip extra field that moves a member's data to a multiple of _MEMBER_ALIGNMENT."""
    pad = (-(data_offset_without_extra + 4)) % _MEMBER_ALIGNMENT
    return struct.pack("<HH", _ALIGNMENT_EXTRA_ID, pad) + bytes(pad)
