"""What the landmark model's segmentation head costs: the graphs' bundle with it and without it.

    python bench/mask_head.py [--model BUNDLE] [--clip CLIP] [--frames 400] [--rounds 3]

Two bundles, both with float32 weights (``vision.person_detector.unpacked_model``), the second with the
mask head removed (``vision.tflite_edit.zero_output``, what ``vision.models.unpacked_bundle`` makes),
measured side by side in alternating rounds:

* the landmark model alone on a LiteRT interpreter (one thread, XNNPACK): CPU ms per invoke, 50 invokes;
* a MediaPipe PoseLandmarker in VIDEO mode (``num_poses=1``) over the clip's first ``--frames`` frames,
  decoded beforehand: CPU s of the whole process over those frames (MediaPipe's own threads included),
  and whether every landmark of every frame is bit-identical between the two.

Measured 2026-12-01 (see README "Speed: the landmark model without its mask head").
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def bundles(model: Path, folder: Path) -> tuple[Path, Path]:
    from vision.models import BUNDLE_MEMBERS, _write_stored_zip
    from vision.person_detector import unpacked_model
    from vision.tflite_edit import segmentation_output, zero_output

    with zipfile.ZipFile(model) as zf:
        members = {m: unpacked_model(zf.read(m)) for m in BUNDLE_MEMBERS}
    with_head = folder / "with_mask_head.task"
    _write_stored_zip(with_head, members)
    landmarks = members[BUNDLE_MEMBERS[1]]
    members[BUNDLE_MEMBERS[1]] = zero_output(landmarks, segmentation_output(landmarks))
    without = folder / "without_mask_head.task"
    _write_stored_zip(without, members)
    return with_head, without


def invoke_ms(bundle: Path, n: int = 50) -> float:
    from ai_edge_litert.interpreter import Interpreter

    from vision.models import BUNDLE_MEMBERS

    with zipfile.ZipFile(bundle) as zf:
        it = Interpreter(model_content=zf.read(BUNDLE_MEMBERS[1]), num_threads=1)
    it.allocate_tensors()
    given = it.get_input_details()[0]
    it.set_tensor(given["index"], np.random.RandomState(0).rand(*given["shape"]).astype(np.float32))
    it.invoke()
    t = time.thread_time()
    for _ in range(n):
        it.invoke()
    return (time.thread_time() - t) / n * 1000


def graph_run(bundle: Path, frames: list[np.ndarray]) -> tuple[float, list]:
    import mediapipe as mp
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions, RunningMode

    options = PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(bundle)),
                                    running_mode=RunningMode.VIDEO, num_poses=1)
    poses = []
    with PoseLandmarker.create_from_options(options) as landmarker:
        start = cpu_s()
        for i, rgb in enumerate(frames):
            result = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), i * 33)
            poses.append([(p.x, p.y, p.z, p.visibility, p.presence) for pose in result.pose_landmarks for p in pose]
                         + [(p.x, p.y, p.z) for pose in result.pose_world_landmarks for p in pose])
        return cpu_s() - start, poses


def main() -> None:
    import cv2

    from sample_videos import locate
    from vision.models import resolve_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--clip", type=Path, default=None)
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    model = args.model or resolve_model("full")
    clip = args.clip or locate("tfjs_pose_1.mp4")
    cap = cv2.VideoCapture(str(clip))
    frames = []
    while len(frames) < args.frames:
        ok, bgr = cap.read()
        if not ok:
            if not frames:
                sys.exit(f"{clip}: no frame decoded")
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)      # a short clip: loop it
            continue
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    with tempfile.TemporaryDirectory() as tmp:
        with_head, without = bundles(model, Path(tmp))
        rows = []
        for r in range(args.rounds):
            a_ms, b_ms = invoke_ms(with_head), invoke_ms(without)
            (a_s, a_poses), (b_s, b_poses) = graph_run(with_head, frames), graph_run(without, frames)
            same = a_poses == b_poses
            rows.append((a_ms, b_ms, a_s, b_s))
            print(f"round {r + 1}: invoke {a_ms:.2f} -> {b_ms:.2f} ms CPU ({a_ms / b_ms:.2f}x); "
                  f"graph over {len(frames)} frames {a_s:.2f} -> {b_s:.2f} CPU s ({a_s / b_s:.2f}x); "
                  f"landmarks bit-identical: {same} ({sum(bool(p) for p in a_poses)} frames with a pose)")
        med = np.median(np.array(rows), axis=0)
        print(f"median: invoke {med[0]:.2f} -> {med[1]:.2f} ms ({med[0] / med[1]:.2f}x); "
              f"graph {med[2]:.2f} -> {med[3]:.2f} CPU s ({med[2] / med[3]:.2f}x)")


if __name__ == "__main__":
    main()
