"""Camera roll from the scene: long near-vertical line segments and their vanishing point.

Why the scene: the body cannot tell a rolled camera from a leaning person (a whole-body lean and a
camera roll tilt every body line alike), but door frames, walls, shelves and poles are vertical in the
world. Their images meet at the vertical vanishing point; the direction from the subject to that point
is the image of gravity at the subject, so its angle from the image's up axis is the camera roll there
(perspective makes verticals converge, so a plain angle histogram is biased away from the image centre).

Frames -> numbers only: line segments come from OpenCV's line segment detector (LSD) on a downscaled
grey frame, with the person's box masked out; a RANSAC over segment pairs finds the vanishing point
with the most supporting segment length, refined by weighted least squares. A clip is sampled about
once per second (``SceneRollSampler``) and summarised by the median over samples with an uncertainty.

Sign: + = image rotated counter-clockwise (a level world line appears turned counter-clockwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_SIDE = 720              # px: frames are downscaled so the longer side is at most this
MIN_LENGTH_FRAC = 0.06      # shortest segment used, as a fraction of the frame's longer side
MAX_TILT_DEG = 40.0         # segments more than this from the image vertical are not verticals
INLIER_DEG = 1.5            # a segment supports a vanishing point when it points at it within this
RANSAC_ITERS = 300
FAR_VP = 1.5               # frame sides from the frame's origin (see _far)
MIN_INLIERS = 4             # fewer supporting segments: no estimate from this frame
SAMPLE_EVERY_S = 1.0
MAX_SAMPLES = 12


def detect_segments(gray: np.ndarray, min_length: float) -> np.ndarray:
    """(K,4) segments x1,y1,x2,y2 in pixels of ``gray``: OpenCV-contrib's FastLineDetector (the LSD
    family's fast variant: 16 ms on a 720-px frame here against 116 ms for LSD)."""
    import cv2

    fld = cv2.ximgproc.createFastLineDetector(length_threshold=max(int(min_length), 10))
    lines = fld.detect(gray)
    return np.zeros((0, 4)) if lines is None else lines.reshape(-1, 4).astype(np.float64)


def person_mask(image_xy: np.ndarray, size: tuple[int, int], scale: float = 0.125) -> tuple[np.ndarray, float]:
    """A coarse mask (and its scale) of the person: skeleton bones drawn thick (a quarter torso
    length), so a T-pose does not hide the whole width of the frame as its bounding box would."""
    import cv2

    from vision.track import POSE_CONNECTIONS

    w, h = size
    mask = np.zeros((max(1, round(h * scale)), max(1, round(w * scale))), np.uint8)
    pts = image_xy * scale
    torso = np.nanmean([np.linalg.norm(pts[11] - pts[23]), np.linalg.norm(pts[12] - pts[24])])
    thick = int(max(3, round(0.5 * torso))) if np.isfinite(torso) else max(3, round(0.05 * max(mask.shape)))
    for a, b in POSE_CONNECTIONS:
        if np.isfinite(pts[[a, b]]).all():
            cv2.line(mask, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), 255, thick)
    head = pts[:11][np.isfinite(pts[:11]).all(axis=1)]
    if len(head):
        c = head.mean(axis=0)
        cv2.circle(mask, (int(c[0]), int(c[1])), thick, 255, -1)
    return mask, scale


def vertical_candidates(segs: np.ndarray, size: tuple[int, int], mask: tuple[np.ndarray, float] | None = None,
                        max_tilt: float = MAX_TILT_DEG, min_length_frac: float = MIN_LENGTH_FRAC,
                        floor_y: float | None = None) -> np.ndarray:
    """Long segments within ``max_tilt`` of the image vertical that do not touch the person's mask
    (``person_mask``) and, when ``floor_y`` (the subject's ankle height in the image) is known, whose
    middle lies above it: edges of the floor, mats and platforms nearer than the subject appear below
    the feet and point at the horizon, not at the vertical vanishing point."""
    if not len(segs):
        return segs
    d = segs[:, 2:] - segs[:, :2]
    length = np.hypot(d[:, 0], d[:, 1])
    tilt = np.degrees(np.arctan2(np.abs(d[:, 0]), np.abs(d[:, 1])))
    keep = (length >= min_length_frac * max(size)) & (tilt <= max_tilt)
    if floor_y is not None:
        keep &= 0.5 * (segs[:, 1] + segs[:, 3]) < floor_y
    if mask is not None:
        m, sc = mask
        ts = np.linspace(0.0, 1.0, 9)[None, :, None]
        pts = np.rint((segs[:, None, :2] + ts * d[:, None, :]) * sc).astype(int)
        px = np.clip(pts[..., 0], 0, m.shape[1] - 1)
        py = np.clip(pts[..., 1], 0, m.shape[0] - 1)
        keep &= ~(m[py, px] > 0).any(axis=1)
    return segs[keep]


def _lines(segs: np.ndarray) -> np.ndarray:
    """Homogeneous lines through each segment, normalised so (a,b) is a unit normal."""
    p = np.c_[segs[:, :2], np.ones(len(segs))]
    q = np.c_[segs[:, 2:], np.ones(len(segs))]
    l = np.cross(p, q)
    return l / np.linalg.norm(l[:, :2], axis=1, keepdims=True)


def roll_at(vp: np.ndarray, point: np.ndarray) -> float:
    """Roll (deg, + = counter-clockwise) at image ``point`` given the vertical vanishing point ``vp``."""
    d = vp[:2] - np.asarray(point, float) * vp[2]
    if d[1] > 0:                                       # make it point up the image (y down)
        d = -d
    return float(np.degrees(np.arctan2(-d[0], -d[1])))


def fit_vanishing_point(segs: np.ndarray, scale: float, rng: np.random.Generator,
                        iters: int = RANSAC_ITERS, inlier_deg: float = INLIER_DEG) -> tuple[np.ndarray, np.ndarray] | None:
    """RANSAC over segment pairs, scored by supporting length; refined by weighted least squares.

    Coordinates are divided by ``scale`` (the frame's longer side) so the 3x3 system is well
    conditioned. Returns (vp in the input's pixels, inlier mask) or None.
    """
    if len(segs) < MIN_INLIERS:
        return None
    s = segs / scale
    lines = _lines(s)
    length = np.hypot(*(s[:, 2:] - s[:, :2]).T)
    n = len(s)
    pairs = rng.integers(0, n, size=(iters, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    vps = np.cross(lines[pairs[:, 0]], lines[pairs[:, 1]])
    norm = np.linalg.norm(vps, axis=1)
    vps = vps[norm > 1e-12] / norm[norm > 1e-12, None]
    vps = vps[_far(vps)]
    if not len(vps):
        return None
    mid = 0.5 * (s[:, :2] + s[:, 2:])
    d = s[:, 2:] - s[:, :2]
    to_vp = vps[:, None, :2] - mid[None] * vps[:, None, 2:3]             # (H,K,2)
    cross = d[None, :, 0] * to_vp[..., 1] - d[None, :, 1] * to_vp[..., 0]
    dot = d[None, :, 0] * to_vp[..., 0] + d[None, :, 1] * to_vp[..., 1]
    inl_all = np.abs(cross) < np.tan(np.radians(inlier_deg)) * np.abs(dot)
    scores = inl_all @ length
    best = inl_all[int(np.argmax(scores))]
    if best.sum() < MIN_INLIERS:
        return None
    for _ in range(3):                                 # refit on inliers, then re-select them
        vp = _weighted_vp(lines[best], length[best])
        inl = np.abs(_signed_residual(s, vp)) < inlier_deg
        if inl.sum() < MIN_INLIERS or not _far(vp[None])[0]:
            break
        best = inl
    vp_px = np.array([vp[0], vp[1], vp[2] / scale])      # back to input pixels (homogeneous)
    return vp_px / np.linalg.norm(vp_px), best


def _weighted_vp(lines: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Least-squares vanishing point of homogeneous ``lines`` (unit normals) weighted by ``weight``."""
    M = (lines * weight[:, None]).T @ lines
    return np.linalg.eigh(M)[1][:, 0]


def _parallel_vp(segs: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Vanishing point at infinity along the weighted axial mean direction of ``segs``."""
    d = segs[:, 2:] - segs[:, :2]
    phi = np.arctan2(d[:, 1], d[:, 0])
    psi = 0.5 * np.arctan2((weight * np.sin(2 * phi)).sum(), (weight * np.cos(2 * phi)).sum())
    return np.array([np.cos(psi), np.sin(psi), 0.0])


def _choose_vp(segs: np.ndarray, lines: np.ndarray, weight: np.ndarray, copies: int = 1) -> np.ndarray:
    """Finite vanishing point, or parallel verticals when convergence does not pay for its extra
    parameter (BIC on the length-weighted angular residuals). A few nearly parallel lines in one
    corner say little about how far their vanishing point is, and a spurious near one turns the roll
    away from those lines (measured: a lone scaffold left by a 25-deg crop read 3 deg off).
    ``copies``: how many sampled frames show the same edges (they are not independent evidence)."""
    finite = _weighted_vp(lines, weight)
    parallel = _parallel_vp(segs, weight)
    n_eff = float(weight.sum() ** 2 / (weight ** 2).sum()) / max(copies, 1)
    rss = [float(np.average(_signed_residual(segs, v) ** 2, weights=weight)) for v in (finite, parallel)]
    if rss[0] <= 0 or n_eff * np.log(max(rss[1], 1e-12) / rss[0]) < np.log(max(n_eff, 2.0)):
        return parallel
    return finite


def _far(vps: np.ndarray) -> np.ndarray:
    """Vanishing points (homogeneous, coordinates in units of the frame's longer side) at least
    FAR_VP from the frame: the vertical vanishing point of a camera pitched less than ~35 deg lies
    beyond 1.4 focal lengths, while floor and table edges meet near the horizon, inside or near the
    frame (measured on the rig: the mats' vanishing points sit within the frame and took over)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.hypot(vps[:, 0], vps[:, 1]) / np.abs(vps[:, 2])
    return ~(r < FAR_VP)


def frame_segments(rgb_or_gray: np.ndarray, person_xy: np.ndarray | None = None,
                   floor_y: float | None = None) -> np.ndarray:
    """Candidate vertical segments of one frame, in its pixels (the person, landmarks ``person_xy``
    (33,2) in pixels, masked; the floor nearer than the feet dropped)."""
    import cv2

    img = rgb_or_gray
    h, w = img.shape[:2]
    f = min(1.0, MAX_SIDE / max(h, w))
    if f < 1.0:
        img = cv2.resize(img, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    segs = detect_segments(img, MIN_LENGTH_FRAC * max(img.shape[:2])) / f
    mask = person_mask(person_xy, (w, h)) if person_xy is not None else None
    return vertical_candidates(segs, (w, h), mask, floor_y=floor_y)


@dataclass(frozen=True)
class SceneRoll:
    """The clip's camera roll from the scene at ``point`` (pixels), with a 1-sigma uncertainty."""
    roll_deg: float
    uncertainty_deg: float
    n_segments: int                     # supporting segments (all sampled frames)
    n_frames: int                       # sampled frames
    point: tuple[float, float]
    vp: tuple[float, float, float]      # vertical vanishing point, homogeneous pixels

    def to_dict(self) -> dict:
        return {"roll_deg": self.roll_deg, "uncertainty_deg": self.uncertainty_deg,
                "n_segments": self.n_segments, "n_frames": self.n_frames, "point": list(self.point),
                "vp": list(self.vp), "method": "vertical vanishing point of scene line segments (FastLineDetector)"}


MIN_SIGMA_DEG = 0.5        # floor: furniture edges are not perfect plumb lines, lenses distort a little
BOOTSTRAP = 60


def estimate_scene_roll(segments: list[np.ndarray], size: tuple[int, int], point: tuple[float, float] | None = None,
                        seed: int = 0) -> SceneRoll | None:
    """Pool the candidate segments of several frames of a still camera and find their vertical
    vanishing point; the roll is read at ``point`` (default: frame centre).

    Uncertainty: bootstrap over the supporting segments (refit, roll at the point), inflated by
    sqrt(frames) because the same wall edge is seen in every sampled frame, floored at MIN_SIGMA_DEG.
    """
    segs = np.concatenate([s for s in segments if len(s)]) if any(len(s) for s in segments) else np.zeros((0, 4))
    w, h = size
    scale = float(max(w, h))
    rng = np.random.default_rng(seed)
    fit = fit_vanishing_point(segs, scale, rng)
    if fit is None:
        return None
    _, inl = fit
    p = np.array([w / 2.0, h / 2.0]) if point is None else np.asarray(point, float)
    sup = segs[inl] / scale
    lines = _lines(sup)
    length = np.hypot(*(sup[:, 2:] - sup[:, :2]).T)
    n_frames = sum(1 for s in segments if len(s)) or 1
    v = _choose_vp(sup, lines, length, n_frames)
    vp = np.array([v[0], v[1], v[2] / scale])
    vp /= np.linalg.norm(vp)
    roll = roll_at(vp, p)
    boots = []
    for _ in range(BOOTSTRAP):
        k = rng.integers(0, len(sup), len(sup))
        v = _weighted_vp(lines[k], length[k]) if vp[2] != 0 else _parallel_vp(sup[k], length[k])
        boots.append(roll_at(np.array([v[0], v[1], v[2] / scale]), p))
    sigma = max(float(np.std(boots)) * np.sqrt(n_frames), MIN_SIGMA_DEG)
    return SceneRoll(roll, sigma, int(inl.sum()), len(segments), (float(p[0]), float(p[1])),
                     tuple(float(v) for v in vp))


def _signed_residual(segs: np.ndarray, vp: np.ndarray) -> np.ndarray:
    """Signed angle (deg) between each segment and the line from its midpoint to the vanishing point
    (also for a vanishing point at infinity, vp[2] = 0)."""
    mid = 0.5 * (segs[:, :2] + segs[:, 2:])
    to_vp = vp[:2][None, :] - mid * vp[2]
    d = segs[:, 2:] - segs[:, :2]
    d = np.where((d * to_vp).sum(axis=1, keepdims=True) < 0, -d, d)
    return np.degrees(np.arctan2(d[:, 0] * to_vp[:, 1] - d[:, 1] * to_vp[:, 0], (d * to_vp).sum(axis=1)))


SAMPLES_PER_CLIP = 4       # frames analysed per clip (static camera): ~15-25 ms each, see bench/assessment_cost.py
LIVE_EVERY_S = SAMPLE_EVERY_S


def pose_points(image: np.ndarray, width: int, height: int) -> tuple[np.ndarray, float, np.ndarray] | None:
    """(landmarks in pixels (33,2), mid-ankle y, mid-hip) from one pose's normalized landmarks (33,5)."""
    xy = image[:, :2] * np.array([width, height], float)
    if not np.isfinite(xy).any():
        return None
    ankle_y = float(np.nanmean(xy[[27, 28], 1]))          # left/right ankle
    hip = np.nanmean(xy[[23, 24]], axis=0)                 # left/right hip
    return xy, ankle_y, hip


class SceneRollSampler:
    """Collects candidate segments from a few frames of a clip while it is being processed.

    ``offer(frame_index, rgb, pose_image)`` for every frame (cheap when the frame is not a sample);
    ``result()`` pools them (see ``estimate_scene_roll``) and returns a dict for the track's
    metadata, empty when the scene has too few vertical lines (then the body must do).
    """

    def __init__(self, width: int, height: int, n_frames: int | None = None, fps: float = float("nan")):
        self.size = (int(width), int(height))
        if n_frames and n_frames > 0:
            self.step = max(1, n_frames // SAMPLES_PER_CLIP)
        else:
            self.step = max(1, int(round((fps if fps == fps and fps > 0 else 30.0) * SAMPLE_EVERY_S)))
        self.segments: list[np.ndarray] = []
        self.hips: list[np.ndarray] = []
        self._seen = 0

    def offer(self, rgb: np.ndarray, pose_image: np.ndarray | None) -> None:
        k = self._seen
        self._seen += 1
        if k % self.step or len(self.segments) >= MAX_SAMPLES:
            return
        self.sample(rgb, pose_image)

    def sample_indices(self, n_frames: int) -> list[int]:
        """The frames ``offer`` would sample out of ``n_frames`` offered in order (a parallel run keeps
        only these while decoding, then ``sample``s them in this order)."""
        return list(range(0, n_frames, self.step))[:MAX_SAMPLES]

    def sample(self, rgb: np.ndarray, pose_image: np.ndarray | None) -> None:
        """Analyse one frame (``offer`` decides which)."""
        found = pose_points(pose_image, *self.size) if pose_image is not None else None
        if found is None:
            self.segments.append(frame_segments(rgb))
            return
        xy, ankle_y, hip = found
        self.segments.append(frame_segments(rgb, xy, ankle_y))
        if np.isfinite(hip).all():
            self.hips.append(hip)

    def result(self) -> dict:
        point = tuple(np.median(self.hips, axis=0)) if self.hips else None
        est = estimate_scene_roll(self.segments, self.size, point)
        return {} if est is None else est.to_dict()
