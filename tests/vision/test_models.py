"""vision.models / vision.bundle_builder on real bundles: the shared bundle, real zips, a real offline build.

Google's storage is unreachable from CI, so the download path is exercised against a local http.server on
127.0.0.1 serving the shared bundle (the URL table is monkeypatched; urllib, progress, .partial, rename,
verification and the sha256 registry all run for real).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import io
import json
import shutil
import socket
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from vision import bundle_builder, models

SHARED_BUNDLE = models.CHECKOUT_SHARED_MODELS / "pose_landmarker_full.task"
SHARED_SHA256 = "d6e57b5db49e01fbd81c63bf52c376f694f46363339743892970d7745184e187"  # shared/models/README.md
STILL_IMAGE = Path(models.CHECKOUT_SHARED_MODELS).parent / "videos" / "tfjs_pose.jpg"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty user cache, no ISOBALANCE_MODEL and no ../shared fallback."""
    monkeypatch.setenv("ISOBALANCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ISOBALANCE_MODEL", raising=False)
    monkeypatch.setattr(models, "CHECKOUT_SHARED_MODELS", tmp_path / "no-shared")
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def shared_bundle() -> Path:
    assert SHARED_BUNDLE.is_file(), f"tests need {SHARED_BUNDLE} (see shared/models/README.md)"
    return SHARED_BUNDLE


@pytest.fixture(scope="session")
def wheel() -> Path:
    """mediapipe 0.10.21's wheel, downloaded once into the real user cache and reused by later runs."""
    return bundle_builder.download_wheel(models.cache_dir() / "wheels", progress=False)


@pytest.fixture(scope="session")
def npm_tarball() -> Path:
    """Google's @mediapipe/pose npm package (holds the 'lite' landmark model), `npm pack`ed once into the real
    user cache and reused by later runs."""
    return bundle_builder.download_npm_package(models.cache_dir() / "npm", progress=False)


@contextlib.contextmanager
def serve(directory: Path):
    """A real HTTP server on 127.0.0.1 serving ``directory``; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def rezip(src: Path, dest: Path, *, compression=zipfile.ZIP_STORED, drop=(), date=(2001, 2, 3, 4, 5, 6)) -> Path:
    """A copy of a bundle's members in a new zip (other compression, members dropped, other timestamps)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for name in zin.namelist():
            if name not in drop:
                info = zipfile.ZipInfo(name, date_time=date)
                info.compress_type = compression
                zout.writestr(info, zin.read(name))
    return dest


def landmarks_on_still(bundle: Path) -> np.ndarray:
    """33 normalized landmarks of the one person in tfjs_pose.jpg, by a real PoseLandmarker."""
    import mediapipe as mp
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.vision import pose_landmarker

    options = pose_landmarker.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(bundle)))
    with pose_landmarker.PoseLandmarker.create_from_options(options) as landmarker:
        result = landmarker.detect(mp.Image.create_from_file(str(STILL_IMAGE)))
    assert len(result.pose_landmarks) == 1
    return np.array([[p.x, p.y, p.z] for p in result.pose_landmarks[0]])


# --- locations and resolution order ---------------------------------------------------------------


def test_cache_dir_env_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ISOBALANCE_CACHE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("ISOBALANCE_CACHE")
    assert models.cache_dir() == tmp_path / "xdg" / "isobalance"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert models.cache_dir() == tmp_path / "home" / ".cache" / "isobalance"
    assert models.models_dir() == models.cache_dir() / "models"


def test_nothing_available_names_all_three_ways(cache):
    with pytest.raises(models.ModelNotFoundError) as err:
        models.resolve_model("full")
    message = str(err.value)
    for way in ("isobalance models fetch full", "--model PATH", "ISOBALANCE_MODEL=PATH", "isobalance models build"):
        assert way in message
    assert isinstance(err.value, models.IsobalanceError)


def test_resolution_order(cache, tmp_path, monkeypatch, shared_bundle):
    shared_dir = tmp_path / "shared-models"
    shared_dir.mkdir()
    shutil.copy(shared_bundle, shared_dir / "pose_landmarker_full.task")
    monkeypatch.setattr(models, "CHECKOUT_SHARED_MODELS", shared_dir)
    assert models.resolve_model("full") == shared_dir / "pose_landmarker_full.task"
    with pytest.raises(models.ModelNotFoundError):
        models.resolve_model("lite")  # the shared folder only has 'full'

    models.models_dir().mkdir(parents=True)
    shutil.copy(shared_bundle, models.offline_path())
    assert models.resolve_model("full") == models.offline_path()

    shutil.copy(shared_bundle, models.official_path("full"))
    assert models.resolve_model("full") == models.official_path("full")

    env_model = shutil.copy(shared_bundle, tmp_path / "env.task")
    monkeypatch.setenv("ISOBALANCE_MODEL", str(env_model))
    assert models.resolve_model("full") == Path(env_model)

    explicit = shutil.copy(shared_bundle, tmp_path / "explicit.task")
    assert models.resolve_model("full", explicit) == Path(explicit)


def test_missing_explicit_path_or_env_is_an_error_not_a_fallback(cache, tmp_path, monkeypatch, shared_bundle):
    models.models_dir().mkdir(parents=True)
    shutil.copy(shared_bundle, models.official_path("full"))
    with pytest.raises(models.ModelNotFoundError, match="--model points to .*nope.task"):
        models.resolve_model("full", tmp_path / "nope.task")
    monkeypatch.setenv("ISOBALANCE_MODEL", str(tmp_path / "gone.task"))
    with pytest.raises(models.ModelNotFoundError, match="ISOBALANCE_MODEL points to .*gone.task"):
        models.resolve_model("full")


def test_unknown_name(cache):
    with pytest.raises(models.ModelNotFoundError, match="choose one of lite, full, heavy"):
        models.resolve_model("medium")


def test_explicit_path_is_structure_checked(cache, tmp_path):
    text = tmp_path / "model.task"
    text.write_text("not a model\n")
    with pytest.raises(models.InvalidModelError, match="not a zip archive"):
        models.resolve_model("full", text)


# --- verification ---------------------------------------------------------------------------------


def test_verify_shared_bundle(shared_bundle):
    report = models.verify_model(shared_bundle)
    assert report.sha256 == SHARED_SHA256
    assert report.size == 9_397_870
    assert set(report.members) == set(models.BUNDLE_MEMBERS)
    assert report.loads and report.load_error is None


def test_verify_rejects_text_file(tmp_path):
    path = tmp_path / "pose_landmarker_full.task"
    path.write_text("<html>404 Not Found</html>")
    with pytest.raises(models.InvalidModelError, match="not a zip archive"):
        models.verify_model(path)


def test_verify_rejects_compressed_zip(tmp_path, shared_bundle):
    deflated = rezip(shared_bundle, tmp_path / "deflated.task", compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(models.InvalidModelError, match="compressed zip"):
        models.verify_model(deflated)
    # MediaPipe itself refuses it too, which is why the check exists
    assert "uncompressed" in models.load_error(deflated).lower()


def test_verify_rejects_missing_member(tmp_path, shared_bundle):
    half = rezip(shared_bundle, tmp_path / "half.task", drop=("pose_landmarks_detector.tflite",))
    with pytest.raises(models.InvalidModelError, match="lacks pose_landmarks_detector.tflite"):
        models.verify_model(half)


def test_verify_reports_a_bundle_mediapipe_cannot_load(tmp_path, wheel):
    """Right structure, but the raw wheel models lack the normalization metadata: loads=False with MediaPipe's reason."""
    raw = tmp_path / "raw.task"
    with zipfile.ZipFile(wheel) as whl, zipfile.ZipFile(raw, "w") as out:
        for member, (src, *_rest) in bundle_builder.BUNDLE_SOURCES.items():
            out.writestr(member, whl.read(src))
    report = models.verify_model(raw)
    assert not report.loads
    assert "NormalizationOptions" in report.load_error


# --- registry (trust on first use) ----------------------------------------------------------------


def test_registry_records_on_first_use_and_detects_a_changed_file(cache, tmp_path, shared_bundle):
    models.models_dir().mkdir(parents=True)
    cached = Path(shutil.copy(shared_bundle, models.official_path("full")))
    assert models.resolve_model("full") == cached
    assert models.read_registry()[cached.name]["sha256"] == SHARED_SHA256

    # same members, other timestamps: still a valid bundle, but not the bytes first seen
    rezip(shared_bundle, tmp_path / "other.task")
    shutil.copy(tmp_path / "other.task", cached)
    with pytest.raises(models.ModelChecksumError) as err:
        models.resolve_model("full")
    assert SHARED_SHA256 in str(err.value) and "registry.json" in str(err.value)


# --- fetch from a real (local) HTTP server --------------------------------------------------------


def test_fetch_downloads_verifies_and_records(cache, tmp_path, monkeypatch, shared_bundle):
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(shared_bundle, served / "pose_landmarker_full.task")
    with serve(served) as base:
        monkeypatch.setattr(models, "OFFICIAL_URLS", {"full": f"{base}/pose_landmarker_full.task"})
        path = models.fetch_model("full", progress=False)
    assert path == models.official_path("full")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHARED_SHA256
    entry = models.read_registry()[path.name]
    assert entry["sha256"] == SHARED_SHA256 and entry["source"] == "official download"
    assert entry["url"].startswith("http://127.0.0.1:")
    assert not list(models.models_dir().glob("*.partial"))
    assert models.resolve_model("full") == path
    # cached: no network needed for a second fetch
    monkeypatch.setattr(models, "OFFICIAL_URLS", {"full": "http://127.0.0.1:9/unreachable"})
    assert models.fetch_model("full", progress=False) == path


def test_fetch_refuses_a_changed_upstream_file_and_keeps_the_cached_one(cache, tmp_path, monkeypatch, shared_bundle):
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(shared_bundle, served / "pose_landmarker_full.task")
    with serve(served) as base:
        monkeypatch.setattr(models, "OFFICIAL_URLS", {"full": f"{base}/pose_landmarker_full.task"})
        path = models.fetch_model("full", progress=False)
        rezip(shared_bundle, served / "pose_landmarker_full.task")  # upstream now serves other bytes
        with pytest.raises(models.ModelChecksumError, match="recorded on first download"):
            models.fetch_model("full", force=True, progress=False)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHARED_SHA256
    assert not list(models.models_dir().glob("*.partial"))


def test_fetch_rejects_a_served_non_model(cache, tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    (served / "pose_landmarker_full.task").write_text("<html>captive portal login</html>")
    with serve(served) as base:
        monkeypatch.setattr(models, "OFFICIAL_URLS", {"full": f"{base}/pose_landmarker_full.task"})
        with pytest.raises(models.InvalidModelError, match="not a zip archive"):
            models.fetch_model("full", progress=False)
    assert not models.official_path("full").exists()
    assert not list(models.models_dir().glob("*.partial"))


def test_fetch_network_failure_names_the_alternatives(cache, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(models, "OFFICIAL_URLS", {"full": f"http://127.0.0.1:{port}/pose_landmarker_full.task"})
    with pytest.raises(models.ModelDownloadError) as err:
        models.fetch_model("full", progress=False)
    message = str(err.value)
    assert "isobalance models build" in message and "--model PATH" in message and "ISOBALANCE_MODEL" in message
    assert not models.official_path("full").exists()


def test_fetch_http_404_is_a_download_error(cache, tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    with serve(tmp_path / "empty") as base:
        monkeypatch.setattr(models, "OFFICIAL_URLS", {"full": f"{base}/missing.task"})
        with pytest.raises(models.ModelDownloadError, match="404"):
            models.fetch_model("full", progress=False)


# --- offline build from the PyPI wheel ------------------------------------------------------------


def test_offline_build_is_byte_identical_to_the_shared_bundle_and_detects_the_same_pose(cache, wheel, shared_bundle):
    built = models.build_offline(wheel, progress=False)
    assert built == models.offline_path()
    with zipfile.ZipFile(built) as ours, zipfile.ZipFile(shared_bundle) as theirs:
        assert sorted(ours.namelist()) == sorted(theirs.namelist()) == sorted(models.BUNDLE_MEMBERS)
        for member in models.BUNDLE_MEMBERS:
            assert ours.read(member) == theirs.read(member), member
            assert ours.getinfo(member).compress_type == zipfile.ZIP_STORED
    report = models.verify_model(built)
    assert report.loads
    assert models.read_registry()[built.name]["sha256"] == report.sha256
    assert models.resolve_model("full") == built
    np.testing.assert_allclose(landmarks_on_still(built), landmarks_on_still(shared_bundle), atol=1e-6)
    # the stand-in for the missing native module does not outlive the build
    assert not [m for m in sys.modules if m.startswith("mediapipe.tasks.cc")]


def test_offline_build_is_reproducible(cache, wheel):
    first = models.build_offline(wheel, progress=False).read_bytes()
    second = models.build_offline(wheel, progress=False).read_bytes()
    assert first == second


def test_offline_build_rejects_a_wrong_wheel(cache, tmp_path, wheel):
    not_mediapipe = tmp_path / "other-1.0-py3-none-any.whl"
    with zipfile.ZipFile(not_mediapipe, "w") as zf:
        zf.writestr("other/__init__.py", "")
    with pytest.raises(models.ModelBuildError, match="lacks mediapipe/modules/pose_detection"):
        models.build_offline(not_mediapipe, progress=False)

    tampered = tmp_path / "mediapipe-0.10.21-tampered.whl"
    src_detector = bundle_builder.BUNDLE_SOURCES["pose_detector.tflite"][0]
    with zipfile.ZipFile(wheel) as whl, zipfile.ZipFile(tampered, "w") as zf:
        for member, (src, *_rest) in bundle_builder.BUNDLE_SOURCES.items():
            data = whl.read(src)
            zf.writestr(src, data + b"\0" if src == src_detector else data)
    with pytest.raises(models.ModelBuildError, match="not the .* of mediapipe 0.10.21"):
        models.build_offline(tampered, progress=False)
    assert not models.offline_path().exists()


def test_cached_models_lists_every_slot(cache, wheel):
    before = {m.name: m for m in models.cached_models()}
    assert set(before) == {"lite", "full", "heavy", "lite (offline build)", "full (offline build)"}
    assert not any(m.cached for m in before.values())
    built = models.build_offline(wheel, progress=False)
    after = {m.name: m for m in models.cached_models()}["full (offline build)"]
    assert after.cached and after.path == built
    assert after.sha256 == hashlib.sha256(built.read_bytes()).hexdigest()
    assert after.source.startswith("offline build from mediapipe-0.10.21")
    assert json.loads(models.registry_path().read_text())[built.name]["sha256"] == after.sha256



def test_cached_models_lists_the_derived_person_detector(cache, wheel):
    """The float32 person detector a run derives into the cache is listed (path, sha256, where it came
    from), so `isobalance models list` shows every file isobalance put there."""
    built = models.build_offline(wheel, progress=False)
    assert not [m for m in models.cached_models() if m.name == "person detector (float32)"]
    derived = models.unpacked_detector(built)
    assert derived is not None and derived.parent == models.models_dir()
    listed = [m for m in models.cached_models() if m.name == "person detector (float32)"]
    assert [m.path for m in listed] == [derived]
    assert listed[0].cached and listed[0].sha256 == hashlib.sha256(derived.read_bytes()).hexdigest()
    assert "derived from" in listed[0].source
    derived.unlink()
    assert not [m for m in models.cached_models() if m.name == "person detector (float32)"]

# --- the 'lite' bundle, built offline from the PyPI wheel and the npm package -----------------------

SQUATS = Path(models.CHECKOUT_SHARED_MODELS).parent / "videos" / "tfjs_pose_squats.mp4"
STANDING = [*range(0, 4), *range(19, 28), *range(43, 52)]       # shared/videos/README.md: the clip's facts
BODY = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


def squat_landmarks(bundle: Path) -> np.ndarray:
    """(65, 33, 5) image landmarks of the squat clip, every frame, VIDEO mode, one pose (NaN where none)."""
    from vision.landmarker import PoseEstimator
    from vision.sources import open_source

    with open_source(str(SQUATS)) as src, PoseEstimator(bundle, mode="video", num_poses=1) as est:
        rows = [est.process(f.rgb, f.timestamp_ms) for f in src]
    return np.stack([p.image[0] if len(p) else np.full((33, 5), np.nan) for p in rows])


def test_lite_offline_build_loads_and_agrees_with_full_on_a_real_clip(cache, wheel, npm_tarball, shared_bundle):
    from assessment.angles import compute_angles
    from vision.track import LANDMARK_INDEX

    built = models.build_offline(wheel, name="lite", npm_tarball=npm_tarball, progress=False)
    assert built == models.offline_path("lite") != models.offline_path("full")
    report = models.verify_model(built)
    assert report.loads
    with zipfile.ZipFile(built) as zf, tarfile.open(npm_tarball) as tf:
        assert sorted(zf.namelist()) == sorted(models.BUNDLE_MEMBERS)
        # the lite landmark model went in (with metadata added), not the wheel's full one
        assert len(zf.read("pose_landmarks_detector.tflite")) < 0.6 * tf.getmember(
            "package/pose_landmark_full.tflite").size
    assert "mediapipe-pose-0.5.1675469404.tgz" in models.read_registry()[built.name]["source"]
    assert models.resolve_model("lite") == built
    assert models.build_offline(wheel, name="lite", npm_tarball=npm_tarball, progress=False).read_bytes() == \
        built.read_bytes()                                              # reproducible

    full, lite = squat_landmarks(shared_bundle), squat_landmarks(built)
    assert np.isfinite(lite[:, 0, 0]).all(), "lite found no pose in some frames of the squat clip"
    w, h = 720, 1280
    px_f, px_l = full[:, :, :2] * (w, h), lite[:, :, :2] * (w, h)
    idx = [LANDMARK_INDEX[n] for n in BODY]
    torso = np.linalg.norm(px_f[:, [11, 12]].mean(axis=1) - px_f[:, [23, 24]].mean(axis=1), axis=1)
    dist = np.linalg.norm(px_f[:, idx] - px_l[:, idx], axis=2) / torso[:, None]
    # measured (bench/pose_models.py): median 0.022, 95th percentile 0.074 torso lengths
    assert np.median(dist) < 0.05 and np.percentile(dist, 95) < 0.15, (np.median(dist), np.percentile(dist, 95))
    knees = ["left_knee_angle", "right_knee_angle"]
    a_f = compute_angles(px_f, visibility=full[:, :, 3], ids=tuple(knees)).to_numpy()
    a_l = compute_angles(px_l, visibility=lite[:, :, 3], ids=tuple(knees)).to_numpy()
    # the clip's facts hold for lite too: knees straight standing (~179 deg), 82-92 deg at the squats' bottom
    assert (a_l[STANDING] > 160).all()
    assert (a_l.min(axis=0) < 110).all()
    assert np.nanmedian(np.abs(a_l - a_f)) < 5.0


def test_lite_build_refuses_a_changed_or_wrong_npm_package(cache, tmp_path, wheel, npm_tarball):
    src = bundle_builder.NPM_LANDMARK_MODELS["lite"][0]
    with tarfile.open(npm_tarball) as tf:
        data = tf.extractfile(src).read()
    tampered = tmp_path / "tampered.tgz"
    with tarfile.open(tampered, "w:gz") as out:
        info = tarfile.TarInfo(src)
        info.size = len(data) + 1
        out.addfile(info, io.BytesIO(data + b"\0"))
    with pytest.raises(models.ModelBuildError, match="not the .* of @mediapipe/pose@0.5.1675469404"):
        models.build_offline(wheel, name="lite", npm_tarball=tampered, progress=False)
    other = tmp_path / "other.tgz"
    with tarfile.open(other, "w:gz") as out:
        out.addfile(tarfile.TarInfo("package/README.md"), io.BytesIO(b""))
    with pytest.raises(models.ModelBuildError, match="lacks package/pose_landmark_lite.tflite"):
        models.build_offline(wheel, name="lite", npm_tarball=other, progress=False)
    with pytest.raises(models.ModelBuildError, match="Only lite and full"):
        models.build_offline(wheel, name="heavy", progress=False)
    assert not models.offline_path("lite").exists()
    with pytest.raises(models.ModelNotFoundError, match="isobalance models build lite"):
        models.resolve_model("lite")


# --- `isobalance models` CLI ----------------------------------------------------------------------


def run_cli(*args: str):
    from typer.testing import CliRunner

    from isobalance.cli_models import models_app

    return CliRunner().invoke(models_app, list(args))


def test_cli_verify_prints_the_report(shared_bundle):
    result = run_cli("verify", str(shared_bundle))
    assert result.exit_code == 0, result.output
    assert SHARED_SHA256 in result.stdout and "loads    yes" in result.stdout


def test_cli_errors_are_one_message_exit_2_no_traceback(cache, tmp_path):
    text = tmp_path / "notes.task"
    text.write_text("hello")
    result = run_cli("verify", str(text))
    assert result.exit_code == 2
    assert "not a zip archive" in result.stderr
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    missing = run_cli("verify")  # nothing cached, no shared fallback
    assert missing.exit_code == 2 and "isobalance models fetch full" in missing.stderr
    unknown = run_cli("fetch", "medium")
    assert unknown.exit_code == 2 and "choose one of lite, full, heavy" in unknown.stderr


def test_cli_fetch_list_verify_round_trip(cache, tmp_path, monkeypatch, shared_bundle):
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(shared_bundle, served / "pose_landmarker_full.task")
    with serve(served) as base:
        monkeypatch.setattr(models, "OFFICIAL_URLS", {"full": f"{base}/pose_landmarker_full.task"})
        fetched = run_cli("fetch", "full")
    assert fetched.exit_code == 0, fetched.stderr
    assert SHARED_SHA256 in fetched.stdout
    listed = run_cli("list")
    assert listed.exit_code == 0
    full_line = next(line for line in listed.stdout.splitlines() if line.startswith("full "))
    assert "cached" in full_line and str(models.official_path("full")) in full_line
    assert "source: official download" in listed.stdout
    assert f"in use for 'full': {models.official_path('full')}" in listed.stdout
    verified = run_cli("verify", "full")
    assert verified.exit_code == 0 and "registry matches" in verified.stdout


def test_cli_build_with_wheel(cache, wheel, npm_tarball):
    result = run_cli("build", "--wheel", str(wheel))
    assert result.exit_code == 0, result.stderr
    assert str(models.offline_path()) in result.stdout
    lite = run_cli("build", "lite", "--wheel", str(wheel), "--npm-tarball", str(npm_tarball))
    assert lite.exit_code == 0, lite.stderr
    assert str(models.offline_path("lite")) in lite.stdout
    bad = run_cli("build", "--wheel", str(cache / "missing.whl"))
    assert bad.exit_code == 2 and "does not exist" in bad.stderr
