"""Shared dashboard fixtures: the real Streamlit server, a real headless Chromium with a fake webcam
playing a real clip, y4m conversion of clip segments, and the screenshot folder (CI artifacts).

Fixture names are stable (other test files use them):

- ``dashboard_server`` -> base URL ``http://127.0.0.1:PORT`` of a server started with the same command
  line as ``isobalance dashboard`` (``isobalance.cli_dashboard.streamlit_argv``), the real model
  (ISOBALANCE_MODEL) and a fresh data folder (ISOBALANCE_DATA, see ``dashboard_data_dir``).
- ``browser_page_factory(y4m_path=None)`` -> a Playwright page in Debian's Chromium (never
  ``playwright install``); with ``y4m_path`` the fake webcam plays that file (Chromium loops it).
- ``make_y4m(clip, start=0, stop=None, pingpong=False, seconds=None, rotate_deg=0)`` -> a y4m path in a
  temp folder.
- ``screenshot_dir`` -> ``artifacts/screenshots/`` in the repository (kept by CI).
- ``webrtc_start(page)`` -> clicks START inside the streamlit-webrtc iframe.

Browser tests are marked ``browser``; they never skip (in CI a skip is a failure): a missing Chromium
or ffmpeg is a failing test with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("ISOBALANCE_CHROMIUM", "/usr/bin/chromium")
SERVER_START_TIMEOUT_S = 90
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
    # harmless on machines with a network interface; needed where only loopback exists
    "--allow-loopback-in-peer-connection",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the dashboard server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the dashboard server did not answer within {timeout_s} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def dashboard_data_dir(tmp_path_factory) -> Path:
    """The data folder the test server uses (uploads land here under generated names)."""
    return tmp_path_factory.mktemp("isobalance-data")


@pytest.fixture(scope="session")
def dashboard_server(model_path, dashboard_data_dir, tmp_path_factory):
    """Start ``streamlit run dashboard/app.py`` on a free localhost port; yield its base URL."""
    from isobalance.cli_dashboard import streamlit_argv

    port = free_port()
    argv = streamlit_argv("127.0.0.1", port, 200)
    env = dict(os.environ, ISOBALANCE_MODEL=str(model_path), ISOBALANCE_DATA=str(dashboard_data_dir),
               PYTHONUNBUFFERED="1")
    env.pop("ISOBALANCE_CONFIG", None)
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log, SERVER_START_TIMEOUT_S)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # keep the server log next to the screenshots for CI
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, SCREENSHOTS / "streamlit-server.log")


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def _require_tool(path: str, what: str) -> str:
    found = shutil.which(path) or (path if Path(path).is_file() else None)
    if not found:
        pytest.fail(f"{what} is needed for this test and was not found ({path}); run scripts/setup.sh")
    return found


@pytest.fixture(scope="session")
def make_y4m(tmp_path_factory):
    """Convert a segment of a real clip to a 640x480 15-fps y4m for Chromium's fake webcam.

    ``start``/``stop`` are frame numbers of the source clip (stop exclusive); ``pingpong`` plays the
    segment forward then backward so Chromium's loop has no jump; ``seconds`` repeats the result to at
    least that length; ``rotate_deg`` turns the picture counter-clockwise by a known angle (a rolled
    or a levelled camera). Files live in a temp folder (they are large) and are never committed.
    """
    ffmpeg = _require_tool("ffmpeg", "ffmpeg")
    folder = tmp_path_factory.mktemp("y4m")

    def convert(clip: str | os.PathLike, start: int = 0, stop: int | None = None, pingpong: bool = False,
                seconds: float | None = None, rotate_deg: float = 0.0) -> Path:
        clip = Path(clip)
        name = f"{clip.stem}_{start}_{stop}_{int(pingpong)}_{seconds}_{rotate_deg:g}.y4m"
        out = folder / name
        if out.exists():
            return out
        chain = []
        if start or stop is not None:
            sel = f"gte(n\\,{start})" + (f"*lt(n\\,{stop})" if stop is not None else "")
            chain.append(f"select='{sel}',setpts=N/FRAME_RATE/TB")
        pre = ",".join(chain)
        scale = "scale=-2:480,pad=640:480:(ow-iw)/2:0,fps=15,format=yuv420p"
        if rotate_deg:
            # ffmpeg's rotate turns clockwise for positive angles
            scale += f",rotate={-rotate_deg}*PI/180:fillcolor=black"
        if pingpong:
            graph = (f"[0:v]{pre + ',' if pre else ''}split[a][b];[b]reverse[r];[a][r]concat=n=2:v=1,"
                     f"setpts=N/FRAME_RATE/TB")
        else:
            graph = f"[0:v]{pre + ',' if pre else ''}null"
        graph += f",{scale}[out]"
        cmd = [ffmpeg, "-v", "error", "-y", "-i", str(clip), "-filter_complex", graph, "-map", "[out]",
               "-pix_fmt", "yuv420p"]
        tmp = out.with_suffix(".partial.y4m")
        subprocess.run(cmd + [str(tmp)], check=True, timeout=120)
        if seconds:
            # repeat the whole segment until it lasts at least ``seconds`` (concat demuxer on copies)
            looped = out.with_suffix(".loop.y4m")
            subprocess.run([ffmpeg, "-v", "error", "-y", "-stream_loop", "-1", "-i", str(tmp), "-t", str(seconds),
                            "-vf", "setpts=N/15/TB", "-r", "15", "-pix_fmt", "yuv420p", str(looped)],
                           check=True, timeout=120)
            tmp.unlink()
            tmp = looped
        tmp.replace(out)
        return out

    return convert


@pytest.fixture
def browser_page_factory(tmp_path):
    """``new_page(y4m_path=None)`` -> a Playwright page in headless Chromium with a fake webcam."""
    chromium = _require_tool(CHROMIUM, "Debian's chromium")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    contexts = []

    def new_page(y4m_path: str | os.PathLike | None = None, width: int = 1280, height: int = 1800):
        args = list(CHROMIUM_FLAGS)
        if y4m_path is not None:
            args.append(f"--use-file-for-fake-video-capture={y4m_path}")
        profile = tempfile.mkdtemp(dir=tmp_path, prefix="chromium-profile-")
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=args,
            ignore_default_args=["--headless"], viewport={"width": width, "height": height})
        contexts.append(ctx)
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.set_default_timeout(90_000)         # liveness bound for a loaded shared machine
        return page

    try:
        yield new_page
    finally:
        for ctx in contexts:
            try:
                ctx.close()
            except Exception:  # noqa: BLE001 - closing a crashed browser must not hide the test's result
                pass
        pw.stop()


@pytest.fixture
def webrtc_start():
    """Click START in the streamlit-webrtc component (an iframe whose title contains "webrtc")."""

    def start(page, timeout_ms: int = 60_000):
        frame = page.frame_locator("iframe[title*='webrtc']").first
        button = frame.get_by_role("button", name="START")
        button.wait_for(timeout=timeout_ms)
        dialog = page.locator("[data-testid='stDialog']")
        if dialog.count():
            raise AssertionError(f"a dialog covers the page: {dialog.first.inner_text()}")
        button.click()
        return frame

    return start


# ------------------------------------------------------------------------- real poses for the live pages
@pytest.fixture(scope="module")
def estimator(model_path):
    """The dashboard's own shared estimator factory, on the real model (one per test module)."""
    from dashboard.live import make_estimator
    from vision.pipeline import PipelineSettings

    est = make_estimator(model_path, PipelineSettings())
    yield est
    est.close()


@pytest.fixture(scope="module")
def squat_frames(sample_clip):
    """Every decoded frame of tfjs_pose_squats.mp4 (RGB)."""
    from vision.sources import open_source

    with open_source(str(sample_clip("tfjs_pose_squats.mp4"))) as src:
        return [f.rgb.copy() for f in src]
