"""Pictures of each exercise's start position and push direction, drawn by the project (OpenCV) from
the stick-figure poses in ``dashboard/data/exercise_pictures.toml``.

Why drawn from data: a patient at home cannot picture "side-bend the head away to the first gentle
pull" from words; a stick figure with a red arrow for the push shows it, and a pose in a data file can
be checked (every catalog exercise has one) and corrected without touching code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vision.errors import IsobalanceError

PICTURES_PATH = Path(__file__).resolve().parent / "data" / "exercise_pictures.toml"
JOINTS = ("head", "neck", "right_shoulder", "left_shoulder", "right_elbow", "left_elbow", "right_wrist",
          "left_wrist", "right_hip", "left_hip", "right_knee", "left_knee", "right_ankle", "left_ankle")
BONES = (("neck", "right_shoulder"), ("neck", "left_shoulder"), ("right_shoulder", "right_elbow"),
         ("right_elbow", "right_wrist"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
         ("neck", "mid_hip"), ("mid_hip", "right_hip"), ("mid_hip", "left_hip"), ("right_hip", "right_knee"),
         ("right_knee", "right_ankle"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"))
HEAD_RADIUS = 0.11                  # metres, like the poses
PUSH = (220, 40, 40)                # RGB: the push arrow
BODY, TREATED, PROP = (60, 60, 60), (30, 110, 200), (150, 150, 150)


class PictureError(IsobalanceError):
    """The pictures file is missing an exercise or names an unknown pose or joint."""


@dataclass(frozen=True)
class Picture:
    exercise_id: str
    joints: dict[str, tuple[float, float]]
    push_at: str
    push_toward: tuple[float, float]
    props: tuple[tuple[tuple[float, float], tuple[float, float]], ...]
    caption: str


def load_pictures(path: Path = PICTURES_PATH) -> dict[str, Picture]:
    """Every exercise's picture (raises PictureError naming the first problem)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PictureError(f"the exercise pictures file {path} cannot be read: {exc}") from exc
    poses = doc.get("poses", {})
    out = {}
    for ex_id, raw in doc.get("exercise", {}).items():
        base = poses.get(raw.get("pose"))
        if base is None:
            raise PictureError(f"exercise picture {ex_id!r} names an unknown pose {raw.get('pose')!r}")
        joints = {k: tuple(map(float, base[k])) for k in JOINTS}
        for k, v in (raw.get("joints") or {}).items():
            if k not in JOINTS:
                raise PictureError(f"exercise picture {ex_id!r} moves an unknown joint {k!r}")
            joints[k] = tuple(map(float, v))
        push = raw.get("push") or {}
        if push.get("at") not in JOINTS or len(push.get("toward", ())) != 2:
            raise PictureError(f"exercise picture {ex_id!r} needs push = {{ at = <joint>, toward = [dx, dy] }}")
        props = tuple(tuple(tuple(map(float, p)) for p in seg) for seg in base.get("props", []) + raw.get("props", []))
        out[ex_id] = Picture(ex_id, joints, push["at"], tuple(map(float, push["toward"])), props,
                             str(raw.get("caption", "")))
    return out


def render(picture: Picture, size: int = 360) -> np.ndarray:
    """The stick figure (treated side in blue), its props, and the push as a red arrow; RGB uint8."""
    import cv2

    pts = dict(picture.joints)
    pts["mid_hip"] = tuple(np.mean([pts["right_hip"], pts["left_hip"]], axis=0))
    tail, tip = push_arrow(picture)
    allxy = np.array(list(pts.values()) + [p for seg in picture.props for p in seg] + [tuple(tip)])
    lo, hi = allxy.min(axis=0) - 0.3, allxy.max(axis=0) + 0.3
    scale = (size - 20) / float(max(hi - lo))
    centre = (lo + hi) / 2

    def px(p) -> tuple[int, int]:
        x, y = (np.asarray(p, float) - centre) * scale
        return int(round(size / 2 + x)), int(round(size / 2 - y))

    img = np.full((size, size, 3), 255, np.uint8)
    thick = max(2, size // 90)
    for a, b in picture.props:
        cv2.line(img, px(a), px(b), PROP, thick + 2, cv2.LINE_AA)
    for a, b in BONES:
        color = TREATED if a.startswith("right") or b.startswith("right") else BODY
        cv2.line(img, px(pts[a]), px(pts[b]), color, thick + 1, cv2.LINE_AA)
    head, neck = np.asarray(pts["head"], float), np.asarray(pts["neck"], float)
    to_neck = (neck - head) / (np.linalg.norm(neck - head) or 1.0)
    cv2.line(img, px(head + to_neck * HEAD_RADIUS), px(neck), BODY, thick + 1, cv2.LINE_AA)
    cv2.circle(img, px(head), int(HEAD_RADIUS * scale), BODY, thick, cv2.LINE_AA)
    cv2.arrowedLine(img, px(tail), px(tip), PUSH, thick + 2, cv2.LINE_AA, tipLength=0.35)
    return img


def push_arrow(picture: Picture, length: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """(tail, tip) of the push arrow in pose coordinates: from just outside the pushing part, along
    ``push_toward``."""
    start = np.asarray(picture.joints[picture.push_at], float)
    d = np.asarray(picture.push_toward, float)
    d = d / (np.linalg.norm(d) or 1.0)
    tail = start + d * (HEAD_RADIUS * 1.3 if picture.push_at == "head" else 0.05)
    return tail, tail + d * length


def png(picture: Picture, size: int = 360) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(render(picture, size), cv2.COLOR_RGB2BGR))
    return buf.tobytes()
