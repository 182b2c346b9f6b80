"""The plain script a user would write instead of isobalance: the baseline of bench/throughput.py.

OpenCV decodes the video; MediaPipe Tasks' PoseLandmarker (VIDEO mode, its default options: one pose)
runs on every frame, sequentially; the landmarks go to a CSV. No smoothing, no subject choice, no
annotated video, no report. Nothing from isobalance is imported.

    python bench/plain_mediapipe.py VIDEO MODEL.task OUT.csv [--num-poses N]
"""

import argparse
import csv

import cv2
import mediapipe as mp
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions, RunningMode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("video")
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--num-poses", type=int, default=1)
    args = ap.parse_args()
    options = PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=args.model),
                                    running_mode=RunningMode.VIDEO, num_poses=args.num_poses)
    cap = cv2.VideoCapture(args.video)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    with PoseLandmarker.create_from_options(options) as landmarker, open(args.out, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["frame", "timestamp_ms", "person"] + [f"{k}_{c}" for k in range(33) for c in "xyzv"])
        index = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            timestamp_ms = int(index * 1000 / fps)
            result = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), timestamp_ms)
            for person, landmarks in enumerate(result.pose_landmarks):
                out.writerow([index, timestamp_ms, person]
                             + [v for lm in landmarks for v in (lm.x, lm.y, lm.z, lm.visibility)])
            index += 1
    cap.release()
    print(f"{index} frames")


if __name__ == "__main__":
    main()
