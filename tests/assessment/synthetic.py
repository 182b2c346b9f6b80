"""Synthetic skeletons with known angles, projected into a ``LandmarkTrack`` (reusable by any test).

Why: exact ground truth. Every angle in ``assessment.angles`` is *constructed* here from its parameter
(by rotating unit vectors), never measured, so a test compares the measurement with the number we
put in.

Body frame (metres): X = subject's left, Y = up, Z = forward (anterior); origin between the hips.

Two pose families, because a 2-D joint angle equals the 3-D one only when its three points lie in
a plane parallel to the image:

* ``plane="frontal"``: the whole body chain lies in the frontal plane Z = 0 (arms abducted, legs
  bending sideways). Exact for front/back views: line tilts, trunk lean, FPPA, every joint angle
  except the ankle (the foot points forward, out of the plane).
* ``plane="sagittal"``: each side's chain lies in its own sagittal plane X = ±LATERAL. Exact for
  side views: trunk flexion, CVA proxy, forward head offset, knee hyperextension, all joint angles.

Cameras: ``view`` picks the yaw (front, back, left_side, right_side, or a number in degrees for
oblique views); ``camera="orthographic"`` (fixed pixels per metre) or ``"weak_perspective"``
(pixels per metre = focal / subject distance, different in every frame). Frames default to 720x1280
(not square), so any normalized-unit shortcut in the code under test shows up as an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from vision.track import LANDMARK_INDEX, N_LANDMARKS, LandmarkTrack, TrackMeta

# segment lengths (m)
HIP_HALF = 0.09
SHOULDER_HALF = 0.18
TRUNK = 0.50
NECK = 0.20
EAR_HALF = 0.075
CVA_RADIUS = 0.16      # shoulder joint -> ear distance in the sagittal family
UPPER_ARM = 0.30
FOREARM = 0.26
THIGH = 0.43
SHANK = 0.42
FOOT = 0.14
LATERAL = 0.12         # sagittal family: every joint of one side sits at X = ±LATERAL

VIEW_YAW = {"front": 0.0, "back": 180.0, "left_side": 90.0, "right_side": -90.0}


@dataclass
class Pose:
    """Angle parameters in degrees (names follow ``assessment.angles`` ids)."""

    plane: str = "frontal"              # "frontal" | "sagittal"
    # frontal family
    pelvis_line_tilt: float = 0.0       # + = left hip higher
    trunk_lateral_lean: float = 0.0     # + = shoulders toward the subject's left
    shoulder_line_tilt: float = 0.0     # + = left shoulder higher
    head_tilt: float = 0.0              # + = left ear higher
    knee_fppa_left: float = 0.0         # + = valgus (knee medial)
    knee_fppa_right: float = 0.0
    # sagittal family
    trunk_flexion: float = 0.0          # + = forward
    cva_proxy_left: float = 50.0        # shoulder -> ear above the forward horizontal
    cva_proxy_right: float = 50.0
    knee_hyperextension_left: float = 0.0   # + = knee behind the hip-ankle line
    knee_hyperextension_right: float = 0.0
    left_ankle_angle: float = 90.0
    right_ankle_angle: float = 90.0
    # both families (limbs lie in the family's plane)
    left_shoulder_angle: float = 15.0
    right_shoulder_angle: float = 15.0
    left_elbow_angle: float = 170.0
    right_elbow_angle: float = 170.0
    left_hip_angle: float = 178.0
    right_hip_angle: float = 178.0
    distance: float = 3.0               # camera distance (m), used by the weak-perspective camera

    def expected(self) -> dict[str, float]:
        """Ground truth for every angle this family makes exact, by construction."""
        common = {k: getattr(self, k) for k in (
            "left_shoulder_angle", "right_shoulder_angle", "left_elbow_angle", "right_elbow_angle",
            "left_hip_angle", "right_hip_angle")}
        if self.plane == "frontal":
            return {**common,
                    "pelvis_line_tilt": self.pelvis_line_tilt,
                    "trunk_lateral_lean": self.trunk_lateral_lean,
                    "shoulder_line_tilt": self.shoulder_line_tilt,
                    "head_tilt": self.head_tilt,
                    "knee_fppa_left": self.knee_fppa_left,
                    "knee_fppa_right": self.knee_fppa_right,
                    "left_knee_angle": 180.0 - abs(self.knee_fppa_left),
                    "right_knee_angle": 180.0 - abs(self.knee_fppa_right)}
        return {**common,
                "trunk_flexion": self.trunk_flexion,
                "cva_proxy_left": self.cva_proxy_left,
                "cva_proxy_right": self.cva_proxy_right,
                "forward_head_offset_left": 100.0 * CVA_RADIUS * math.cos(math.radians(self.cva_proxy_left)) / TRUNK,
                "forward_head_offset_right": 100.0 * CVA_RADIUS * math.cos(math.radians(self.cva_proxy_right)) / TRUNK,
                "knee_hyperextension_left": self.knee_hyperextension_left,
                "knee_hyperextension_right": self.knee_hyperextension_right,
                "left_knee_angle": 180.0 - abs(self.knee_hyperextension_left),
                "right_knee_angle": 180.0 - abs(self.knee_hyperextension_right),
                "left_ankle_angle": self.left_ankle_angle,
                "right_ankle_angle": self.right_ankle_angle}

    def replace(self, **kw) -> "Pose":
        return replace(self, **kw)


# ---------------------------------------------------------------------- 2-D rotation helpers
def _rot_xy(v: np.ndarray, deg: float) -> np.ndarray:
    """Rotate a 3-vector in the frontal X-Y plane, counter-clockwise seen from the front (X left, Y up)."""
    t = math.radians(deg)
    c, s = math.cos(t), math.sin(t)
    return np.array([v[0] * c - v[1] * s, v[0] * s + v[1] * c, v[2]])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _sag(phi_deg: float) -> np.ndarray:
    """Unit vector in the sagittal plane at angle phi from +Y (up) toward +Z (forward)."""
    t = math.radians(phi_deg)
    return np.array([0.0, math.cos(t), math.sin(t)])


def _set(points: np.ndarray, name: str, value: np.ndarray) -> None:
    points[LANDMARK_INDEX[name]] = value


def _head(points, ears_l, ears_r, left_u, up_u, fwd_u) -> None:
    """Face landmarks from the two ears and the head's axes (nose ahead of the ears)."""
    mid = 0.5 * (ears_l + ears_r)
    _set(points, "left_ear", ears_l)
    _set(points, "right_ear", ears_r)
    _set(points, "nose", mid + 0.10 * fwd_u - 0.03 * up_u)
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        eye = mid + sgn * 0.032 * left_u + 0.08 * fwd_u + 0.01 * up_u
        _set(points, f"{side}_eye", eye)
        _set(points, f"{side}_eye_inner", eye - sgn * 0.012 * left_u)
        _set(points, f"{side}_eye_outer", eye + sgn * 0.012 * left_u)
        _set(points, f"mouth_{side}", mid + sgn * 0.025 * left_u + 0.09 * fwd_u - 0.07 * up_u)


def _hand(points, side, wrist, forearm_u, left_u) -> None:
    sgn = 1.0 if side == "left" else -1.0
    _set(points, f"{side}_wrist", wrist)
    _set(points, f"{side}_index", wrist + 0.08 * forearm_u)
    _set(points, f"{side}_pinky", wrist + 0.07 * forearm_u + sgn * 0.02 * left_u)
    _set(points, f"{side}_thumb", wrist + 0.05 * forearm_u - sgn * 0.02 * left_u)


def _frontal_points(p: Pose) -> np.ndarray:
    pts = np.zeros((N_LANDMARKS, 3))
    X = np.array([1.0, 0.0, 0.0])
    Y = np.array([0.0, 1.0, 0.0])
    Z = np.array([0.0, 0.0, 1.0])
    left_hip = HIP_HALF * _rot_xy(X, p.pelvis_line_tilt)
    mid_sh = TRUNK * _rot_xy(Y, -p.trunk_lateral_lean)          # rotating up toward +X is clockwise
    half_sh = SHOULDER_HALF * _rot_xy(X, p.shoulder_line_tilt)
    hips = {"left": left_hip, "right": -left_hip}
    shoulders = {"left": mid_sh + half_sh, "right": mid_sh - half_sh}
    mid_ear = mid_sh + NECK * _rot_xy(Y, -p.trunk_lateral_lean)
    head_left = _rot_xy(X, p.head_tilt)
    _head(pts, mid_ear + EAR_HALF * head_left, mid_ear - EAR_HALF * head_left, head_left,
          _rot_xy(Y, p.head_tilt), Z)
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        sh, hip = shoulders[side], hips[side]
        _set(pts, f"{side}_shoulder", sh)
        _set(pts, f"{side}_hip", hip)
        # arm: rotate the shoulder->hip direction laterally by the shoulder angle
        arm_u = _rot_xy(_unit(hip - sh), sgn * getattr(p, f"{side}_shoulder_angle"))
        elbow = sh + UPPER_ARM * arm_u
        fore_u = _rot_xy(arm_u, sgn * (180.0 - getattr(p, f"{side}_elbow_angle")))
        _set(pts, f"{side}_elbow", elbow)
        _hand(pts, side, elbow + FOREARM * fore_u, fore_u, X)
        # leg: rotate the hip->shoulder direction laterally by the hip angle, then bend in the plane
        thigh_u = _rot_xy(_unit(sh - hip), -sgn * getattr(p, f"{side}_hip_angle"))
        knee = hip + THIGH * thigh_u
        shank_u = _rot_xy(thigh_u, sgn * getattr(p, f"knee_fppa_{side}"))
        ankle = knee + SHANK * shank_u
        _set(pts, f"{side}_knee", knee)
        _set(pts, f"{side}_ankle", ankle)
        _set(pts, f"{side}_foot_index", ankle + FOOT * Z - 0.03 * Y)
        _set(pts, f"{side}_heel", ankle - 0.05 * Z - 0.04 * Y)
    return pts


def _sagittal_points(p: Pose) -> np.ndarray:
    pts = np.zeros((N_LANDMARKS, 3))
    X = np.array([1.0, 0.0, 0.0])
    Y = np.array([0.0, 1.0, 0.0])
    Z = np.array([0.0, 0.0, 1.0])
    mid_sh = TRUNK * _sag(p.trunk_flexion)
    ears = {}
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        off = sgn * LATERAL * X
        hip, sh = off, mid_sh + off
        _set(pts, f"{side}_hip", hip)
        _set(pts, f"{side}_shoulder", sh)
        ears[side] = sh + CVA_RADIUS * _sag(90.0 - getattr(p, f"cva_proxy_{side}"))
        phi_arm = p.trunk_flexion + 180.0 - getattr(p, f"{side}_shoulder_angle")
        elbow = sh + UPPER_ARM * _sag(phi_arm)
        phi_fore = phi_arm - (180.0 - getattr(p, f"{side}_elbow_angle"))
        _set(pts, f"{side}_elbow", elbow)
        _hand(pts, side, elbow + FOREARM * _sag(phi_fore), _sag(phi_fore), X)
        phi_thigh = p.trunk_flexion + getattr(p, f"{side}_hip_angle")
        knee = hip + THIGH * _sag(phi_thigh)
        phi_shank = phi_thigh - getattr(p, f"knee_hyperextension_{side}")
        ankle = knee + SHANK * _sag(phi_shank)
        phi_foot = phi_shank + 180.0 + getattr(p, f"{side}_ankle_angle")
        _set(pts, f"{side}_knee", knee)
        _set(pts, f"{side}_ankle", ankle)
        _set(pts, f"{side}_foot_index", ankle + FOOT * _sag(phi_foot))
        _set(pts, f"{side}_heel", ankle - 0.05 * _sag(phi_foot) + 0.03 * _sag(phi_shank))
    _head(pts, ears["left"], ears["right"], X, Y, Z)
    return pts


def body_points(pose: Pose) -> np.ndarray:
    """(33,3) landmark positions in the body frame."""
    if pose.plane == "frontal":
        return _frontal_points(pose)
    if pose.plane == "sagittal":
        return _sagittal_points(pose)
    raise ValueError(f"unknown pose plane {pose.plane!r}")


def camera_coords(points: np.ndarray, view: str | float) -> np.ndarray:
    """Body frame -> camera frame (x right, y down, z away from the camera), MediaPipe's axes.

    The camera sits in front of the subject for yaw 0 and moves round to the subject's left for
    yaw +90 (``left_side``: the camera sees the left side, the subject faces image-left).
    """
    yaw = math.radians(VIEW_YAW[view] if isinstance(view, str) else float(view))
    c, s = math.cos(yaw), math.sin(yaw)
    X, Y, Z = points[..., 0], points[..., 1], points[..., 2]
    # camera position direction in body frame: (sin yaw, 0, cos yaw); looking back at the subject
    right = X * c - Z * s          # image right: +X (subject's left) seen from the front
    depth = -(X * s + Z * c)       # away from the camera
    return np.stack([right, -Y, depth], axis=-1)


@dataclass
class Camera:
    kind: str = "orthographic"      # "orthographic" | "weak_perspective"
    width: int = 720
    height: int = 1280
    pixels_per_metre: float = 420.0  # orthographic scale
    focal_px: float = 1300.0         # weak perspective: scale = focal / distance
    centre: tuple[float, float] = (0.5, 0.55)  # where the hip centre lands (fraction of W, H)


def project(cam_pts: np.ndarray, camera: Camera, distance: float) -> tuple[np.ndarray, np.ndarray]:
    """(33,3) camera-frame metres -> normalized image (33,3: x, y, z) and world (33,3)."""
    scale = camera.pixels_per_metre if camera.kind == "orthographic" else camera.focal_px / distance
    if camera.kind not in ("orthographic", "weak_perspective"):
        raise ValueError(f"unknown camera {camera.kind!r}")
    hips = 0.5 * (cam_pts[LANDMARK_INDEX["left_hip"]] + cam_pts[LANDMARK_INDEX["right_hip"]])
    rel = cam_pts - hips
    u = camera.centre[0] * camera.width + scale * rel[:, 0]
    v = camera.centre[1] * camera.height + scale * rel[:, 1]
    z = scale * rel[:, 2] / camera.width       # MediaPipe: z on the same scale as x
    return np.stack([u / camera.width, v / camera.height, z], axis=1), rel


def make_track(poses: list[Pose] | Pose, view: str | float = "front", camera: Camera | None = None,
               fps: float = 30.0, visibility: float = 1.0, source: str = "synthetic") -> LandmarkTrack:
    """A LandmarkTrack with one frame per pose, all landmarks visible (``visibility``)."""
    if isinstance(poses, Pose):
        poses = [poses]
    camera = camera or Camera()
    n = len(poses)
    image = np.zeros((n, N_LANDMARKS, 5))
    world = np.zeros((n, N_LANDMARKS, 3))
    for i, pose in enumerate(poses):
        img, wld = project(camera_coords(body_points(pose), view), camera, pose.distance)
        image[i, :, :3] = img
        world[i] = wld
    image[..., 3] = visibility
    image[..., 4] = 1.0
    meta = TrackMeta(source=source, fps=fps, width=camera.width, height=camera.height,
                     model="synthetic", notes=(f"view={view}", f"camera={camera.kind}"))
    return LandmarkTrack(np.arange(n), np.arange(n) * 1000.0 / fps, image, world,
                         np.ones(n, dtype=np.int64), meta)


# ---------------------------------------------------------------------- track transforms for tests
def rotate_track(track: LandmarkTrack, degrees: float) -> LandmarkTrack:
    """The track a camera rolled by ``degrees`` would give: pixel coordinates rotated exactly about
    the image centre, counter-clockwise on screen (world landmarks rotated the same way)."""
    w, h = track.meta.width, track.meta.height
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    image = track.image.copy()
    x = track.image[..., 0] * w - w / 2
    y = track.image[..., 1] * h - h / 2
    image[..., 0] = (w / 2 + x * c + y * s) / w
    image[..., 1] = (h / 2 - x * s + y * c) / h
    world = track.world.copy()
    world[..., 0] = track.world[..., 0] * c + track.world[..., 1] * s
    world[..., 1] = -track.world[..., 0] * s + track.world[..., 1] * c
    scene = dict(track.meta.scene_roll)
    if scene:        # the scene turns with the camera: its vanishing point and roll too
        vx, vy, vw = scene["vp"]
        px, py = scene["point"]
        scene["vp"] = [(vx - vw * w / 2) * c + (vy - vw * h / 2) * s + vw * w / 2,
                       -(vx - vw * w / 2) * s + (vy - vw * h / 2) * c + vw * h / 2, vw]
        scene["point"] = [w / 2 + (px - w / 2) * c + (py - h / 2) * s, h / 2 - (px - w / 2) * s + (py - h / 2) * c]
        scene["roll_deg"] = scene["roll_deg"] + degrees
    return LandmarkTrack(track.frame_index, track.timestamp_ms, image, world, track.n_people,
                         track.meta.replace(notes=track.meta.notes + (f"rotated {degrees} deg",), scene_roll=scene))


def jitter_track(track: LandmarkTrack, sigma_px: float, seed: int = 0) -> LandmarkTrack:
    """Add independent Gaussian pixel noise (like landmark jitter) to x and y."""
    rng = np.random.default_rng(seed)
    image = track.image.copy()
    image[..., 0] += rng.normal(0.0, sigma_px, image.shape[:2]) / track.meta.width
    image[..., 1] += rng.normal(0.0, sigma_px, image.shape[:2]) / track.meta.height
    return LandmarkTrack(track.frame_index, track.timestamp_ms, image, track.world.copy(),
                         track.n_people, track.meta)


def with_visibility(track: LandmarkTrack, names: list[str], value: float,
                    frames: np.ndarray | slice | None = None) -> LandmarkTrack:
    """Set the visibility of some landmarks (in some frames) — to simulate occlusion."""
    image = track.image.copy()
    rows = slice(None) if frames is None else frames
    for name in names:
        image[rows, LANDMARK_INDEX[name], 3] = value
    return LandmarkTrack(track.frame_index, track.timestamp_ms, image, track.world.copy(),
                         track.n_people, track.meta)


def still_then_moving(pose: Pose, n_still: int, moving: list[Pose]) -> list[Pose]:
    """A pose list: ``n_still`` identical frames followed by the given moving frames."""
    return [pose] * n_still + list(moving)


def squat_poses(n_reps: int = 3, frames_per_rep: int = 40, stand_frames: int = 15, depth: float = 95.0,
                left_depth: float | None = None, right_lag_frames: int = 0,
                plane: str = "sagittal") -> list[Pose]:
    """Standing - squat - standing cycles with a cosine knee profile (knee 180 -> 180-depth).

    ``left_depth`` makes the left knee bend a different amount; ``right_lag_frames`` delays the
    right knee's bottom (timing asymmetry). In the sagittal family the bend is knee flexion
    (negative hyperextension); in the frontal family it is a sideways bend (FPPA).
    """
    left_depth = depth if left_depth is None else left_depth
    poses = []
    t = 0
    stand = Pose(plane=plane, left_hip_angle=180.0, right_hip_angle=180.0)
    total = stand_frames + n_reps * (frames_per_rep + stand_frames)
    for i in range(total):
        def phase(frame: int) -> float:
            k = frame - stand_frames
            if k < 0:
                return 0.0
            cycle = frames_per_rep + stand_frames
            r, within = divmod(k, cycle)
            if r >= n_reps or within >= frames_per_rep:
                return 0.0
            return 0.5 * (1 - math.cos(2 * math.pi * within / frames_per_rep))
        fl, fr = phase(i), phase(i - right_lag_frames)
        if plane == "sagittal":
            poses.append(stand.replace(knee_hyperextension_left=-left_depth * fl,
                                       knee_hyperextension_right=-depth * fr,
                                       left_hip_angle=180.0 - 0.8 * left_depth * fl,
                                       right_hip_angle=180.0 - 0.8 * depth * fr,
                                       trunk_flexion=30.0 * max(fl, fr)))
        else:
            poses.append(stand.replace(knee_fppa_left=left_depth * fl, knee_fppa_right=depth * fr))
        t += 1
    return poses
