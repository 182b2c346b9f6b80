"""Live speed as a user sees it: the real dashboard server (the ``isobalance dashboard`` command line),
real headless Chromium whose fake webcam plays a 640x480 clip at 30 fps, the self-assessment page.

For each setting, one after the other in the same run (so their figures are side by side), it counts
where the frames go, over ``--seconds`` after a warm-up:
- Chromium: frames its fake camera captured, encoded and sent to the server, and frames it received back
  and decoded (WebRTC ``getStats`` of the page's peer connection);
- the server: frames processed per second, pose-model ms per frame, landmarks ready after the frame
  arrived and the overlay's age on the returned frames (p50/p95), from the session's trace
  (``ISOBALANCE_LIVE_TRACE``); for ``before`` (older code without the trace) the page's own caption;
- CPU used by the server process and by Chromium (share of one core), and the load average;
- the server's CPU by thread (MediaPipe's graph threads, the frame callback's thread, the asyncio loop,
  the rest) turned into CPU ms per camera frame and per processed frame, and what 25 processed fps would
  need of the 2 cores (``budget``).

    .venv/bin/python bench/live_fps.py [--seconds 30] [--runs before,full,full1,lite] [--before 36a6815]

Runs: ``full`` / ``lite`` (this checkout's default: the callback processes the frame, that model),
``full1`` / ``full2`` (the hand-over to 1 / 2 landmarker threads, ``ISOBALANCE_LIVE_WORKERS``), ``before``
(the ``--before`` revision's code, exported with ``git archive``, full model). ``lite`` needs ``isobalance models build lite``. Frames: tfjs_pose_squats.mp4 standing frames
20-26, forward then backward, levelled 4 deg (as the browser tests). Needs Debian's chromium and ffmpeg.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CAPTION = re.compile(r"([\d.]+) frames per second processed; pose model (\d+) ms per frame, checks and drawing "
                     r"([\d.]+) ms; overlay ready (\d+) ms after the frame arrived \(95th percentile\)")
# every RTCPeerConnection the page (and its webrtc iframe) makes, for getStats
RECORD_PEERS = """(() => { const O = window.RTCPeerConnection; if (!O) return; window.__pcs = [];
  window.RTCPeerConnection = function (...a) { const pc = new O(...a); window.__pcs.push(pc); return pc; };
  window.RTCPeerConnection.prototype = O.prototype; })();"""
VIDEO_STATS = """async () => { const out = {}; for (const pc of (window.__pcs || [])) { (await pc.getStats()).forEach(
  s => { if (s.kind === 'video' && ['outbound-rtp', 'inbound-rtp', 'media-source'].includes(s.type)) out[s.type] = s; }); }
  return out; }"""


def make_clip(folder: Path, fps: int) -> Path:
    from sample_videos import locate
    from tests.dashboard.frames import letterbox, write_y4m
    from vision.sources import open_source

    with open_source(str(locate("tfjs_pose_squats.mp4"))) as src:
        frames = [f.rgb.copy() for f in src]
    seg = [letterbox(f, 4.0) for f in frames[20:27]]
    loop = seg + seg[::-1]
    per = max(1, round(fps / 5))               # the clip's standing frames are ~5 per second of motion
    return write_y4m([f for f in loop for _ in range(per)] * 2, folder / f"standing_{fps}.y4m", fps=fps)


def cpu_seconds(roots: list[int], only: str = "") -> float:
    """CPU seconds (user + system) used so far by the processes under ``roots`` (their descendants too),
    those whose name starts with ``only``."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, used = {}, {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                stat = Path(f"/proc/{p}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            parent[int(p)] = int(fields[1])
            if stat[stat.find("(") + 1:].startswith(only):
                used[int(p)] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = set(roots), True
    while grew:
        new = {p for p, pp in parent.items() if pp in tree} - tree
        tree |= new
        grew = bool(new)
    return sum(used.get(p, 0.0) for p in tree)


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds used so far by ``pid`` in all (``total``, dead threads included), by its main thread
    (``main``: the asyncio loop - aiortc's transport and Streamlit), by MediaPipe's graph threads
    (``drishti``) and by each other live thread (its native id)."""
    tick = os.sysconf("SC_CLK_TCK")

    def used(stat: str) -> float:
        fields = stat[stat.rfind(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / tick

    out = {"total": used(Path(f"/proc/{pid}/stat").read_text()), "main": 0.0, "drishti": 0.0}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat, comm = Path(f"/proc/{pid}/task/{tid}/stat").read_text(), Path(f"/proc/{pid}/task/{tid}/comm").read_text()
        except OSError:
            continue
        key = "main" if int(tid) == pid else "drishti" if comm.startswith("drishti") else tid
        out[key] = out.get(key, 0.0) + used(stat)
    return out


def browser_stats(page) -> dict:
    for frame in page.frames:
        try:
            stats = frame.evaluate(VIDEO_STATS)
        except Exception:  # noqa: BLE001 - frames without the recorder, or navigating
            continue
        if stats:
            return stats
    return {}


def prepare(run: str, tmp: Path, before: str) -> tuple[Path, dict]:
    """(code folder, extra environment) of one run."""
    env = {"ISOBALANCE_LIVE_WORKERS": {"full1": "1", "full2": "2"}.get(run, "0")}
    if run == "before":
        env["ISOBALANCE_LIVE_WORKERS"] = None                    # that revision's own default
    if run == "lite":
        from vision.models import resolve_model
        env["ISOBALANCE_MODEL"] = str(resolve_model("lite"))
    if run != "before":
        return ROOT, env
    code = tmp / "before"
    code.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", before], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    return code, {**env, "PYTHONPATH": str(code)}


def measure(run: str, clip: Path, tmp: Path, seconds: float, before: str) -> dict:
    """One server and one Chromium for ``run``; where the frames went over ``seconds``."""
    from playwright.sync_api import sync_playwright

    from isobalance.cli_dashboard import APP_PATH, streamlit_argv
    from tests.dashboard.conftest import CHROMIUM, CHROMIUM_FLAGS, free_port

    code, extra = prepare(run, tmp, before)
    trace = tmp / f"trace-{run}.jsonl"
    port = free_port()
    env = dict(os.environ, ISOBALANCE_DATA=str(tmp / f"data-{run}"), ISOBALANCE_LIVE_TRACE=str(trace), **extra)
    env = {k: v for k, v in env.items() if v is not None}
    env.setdefault("ISOBALANCE_MODEL", str(ROOT.parent / "shared" / "models" / "pose_landmarker_full.task"))
    argv = [str(code / APP_PATH.relative_to(ROOT)) if a == str(APP_PATH) else a
            for a in streamlit_argv("127.0.0.1", port, 200)]
    server = subprocess.Popen(argv, cwd=code, env=env, stdout=open(tmp / f"server-{run}.log", "wb"),
                              stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                str(tmp / f"profile-{run}"), executable_path=CHROMIUM, headless=True,
                ignore_default_args=["--headless"], args=CHROMIUM_FLAGS + [f"--use-file-for-fake-video-capture={clip}"],
                viewport={"width": 1280, "height": 1600})
            ctx.add_init_script(RECORD_PEERS)
            page = ctx.pages[0]
            page.goto(url, timeout=300_000)
            page.frame_locator("iframe[title*='webrtc']").first.get_by_role("button", name="START").click(timeout=300_000)
            deadline = time.monotonic() + 300
            while not CAPTION.search(page.inner_text("body")):
                if time.monotonic() > deadline:
                    raise SystemExit(f"{run}: the page never reported a processed frame")
                time.sleep(1)
            time.sleep(5)                                          # warm-up: model and tracker settle
            s0, c0, load0, w0 = browser_stats(page), cpu_seconds([server.pid]), os.getloadavg()[0], time.monotonic()
            t0 = thread_cpu(server.pid)
            b0 = cpu_seconds([os.getpid()], only="chrom")
            captions = []
            while time.monotonic() < w0 + seconds:
                m = CAPTION.search(page.inner_text("body"))
                if m:
                    captions.append(tuple(float(g) for g in m.groups()))
                time.sleep(2)
            s1, c1, load1, w1 = browser_stats(page), cpu_seconds([server.pid]), os.getloadavg()[0], time.monotonic()
            t1 = thread_cpu(server.pid)
            b1 = cpu_seconds([os.getpid()], only="chrom")
            ctx.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    dt = w1 - w0
    out = {"run": run, "seconds": dt, "load": (load0, load1), "server_cpu": (c1 - c0) / dt,
           "browser_cpu": (b1 - b0) / dt}
    for kind, key, name in (("media-source", "frames", "captured"), ("outbound-rtp", "framesSent", "sent"),
                            ("inbound-rtp", "framesDecoded", "returned")):
        a, b = s0.get(kind, {}).get(key), s1.get(kind, {}).get(key)
        out[name] = (b - a) / dt if a is not None and b is not None else float("nan")
    out["quality_limit"] = s1.get("outbound-rtp", {}).get("qualityLimitationReason", "?")
    if captions:
        cols = list(zip(*captions))
        out["page_fps"], out["page_lag_p95"] = float(np.median(cols[0])), float(np.median(cols[3]))
    rows = [json.loads(line) for line in trace.read_text().splitlines()] if trace.exists() else []
    done = [r for r in rows if "model_ms" in r and w0 * 1000 <= r["t"] <= w1 * 1000]
    lags = [r["lag"] for r in rows if "lag" in r and w0 * 1000 <= r["at"] <= w1 * 1000]
    if done:
        out.update(fps=len(done) / dt, model_ms=float(np.median([r["model_ms"] for r in done])),
                   ready=np.percentile([r["ready_ms"] for r in done], [50, 95]))
    if lags:
        out["lag"] = np.percentile(lags, [50, 95])
        out["callback"] = len(lags) / dt                   # frames the webrtc callback returned, per second
    # server CPU by thread, seconds per second: the model's graph threads, the frame callback's thread
    # (conversions, analysis, drawing; it waits while the model runs), the asyncio loop, and the rest
    # (aiortc's VP8 decoder thread and encoder executor, Streamlit's script runs)
    callback = {str(r["tid"]) for r in done if "tid" in r}          # older revisions' traces have no thread id
    out["traced_tid"] = bool(callback)
    cpu = {"model": t1["drishti"] - t0["drishti"], "callback": sum(t1.get(k, 0) - t0.get(k, 0) for k in callback),
           "loop": t1["main"] - t0["main"]}
    cpu["other"] = t1["total"] - t0["total"] - sum(cpu.values())
    out["threads"] = {k: v / dt for k, v in cpu.items()}
    return out


def report(r: dict, fps: int) -> str:
    processed = r.get("fps", r.get("page_fps", float("nan")))
    text = (f"{r['run']:>6}: processed {processed:.1f} fps; Chromium captured {r['captured']:.1f}, sent "
            f"{r['sent']:.1f} (limited by: {r['quality_limit']}), got back {r['returned']:.1f} fps of a {fps}-fps camera")
    if "lag" in r:
        text += (f"; callback got {r['callback']:.1f} fps; overlay lag p50 {r['lag'][0]:.0f} / p95 {r['lag'][1]:.0f} ms; landmarks ready "
                 f"{r['ready'][0]:.0f} / {r['ready'][1]:.0f} ms after arrival; model {r['model_ms']:.0f} ms/frame")
    elif "page_lag_p95" in r:
        text += f"; annotated frame ready p95 {r['page_lag_p95']:.0f} ms after the callback got it (page)"
    text += (f"; CPU server {r['server_cpu']:.0%}, Chromium {r['browser_cpu']:.0%} of a core; load "
             f"{r['load'][0]:.1f}-{r['load'][1]:.1f}")
    return text + "\n" + budget(r) if r.get("traced_tid") and r.get("fps") and r["sent"] > 0 else text


def budget(r: dict, aim: float = 25.0, cores: int = 2) -> str:
    """CPU ms per frame of each part, as measured in this run, and what ``aim`` processed frames per second
    of the camera's ``sent`` would cost: Chromium, the event loop and the rest of the server work per
    camera frame; the model's threads and the callback's thread per processed frame."""
    per_cam = {"Chromium": r["browser_cpu"], "event loop": r["threads"]["loop"], "VP8 + other": r["threads"]["other"]}
    per_done = {"model threads": r["threads"]["model"], "callback thread": r["threads"]["callback"]}
    cam = {k: v / r["sent"] * 1000 for k, v in per_cam.items()}
    done = {k: v / r["fps"] * 1000 for k, v in per_done.items()}
    need = (sum(cam.values()) * r["sent"] + sum(done.values()) * aim) / 1000
    free = cores - sum(cam.values()) * r["sent"] / 1000
    return ("        CPU ms per camera frame: " + ", ".join(f"{k} {v:.1f}" for k, v in cam.items())
            + "; per processed frame: " + ", ".join(f"{k} {v:.1f}" for k, v in done.items())
            + f"; {aim:.0f} fps processed of {r['sent']:.0f} sent needs {need:.2f} of {cores} cores; the "
            f"{free:.2f} cores left after the per-camera-frame work process at most "
            f"{free * 1000 / sum(done.values()):.1f} fps")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--runs", default="before,full,full1,lite", help="before, full, full1, full2, lite (comma-separated)")
    ap.add_argument("--before", default="36a6815", help="the revision the 'before' run serves")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="isobalance-livefps-"))
    clip = make_clip(tmp, args.fps)
    print(f"camera {args.fps} fps 640x480, {args.seconds:.0f} s per run, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start; before = {args.before}", flush=True)
    for run in args.runs.split(","):
        print(report(measure(run, clip, tmp, args.seconds, args.before), args.fps), flush=True)


if __name__ == "__main__":
    main()
