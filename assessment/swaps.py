"""Left/right consistency: find frames where the pose model exchanged left and right, and relabel them.

Why: MediaPipe sometimes labels a front view as if it saw the back: the left landmarks get the
right ones' labels (measured on the 4-camera rig: 26 of 100 frames of a front camera;
capture-geometry.md, lesson 5). Every left/right metric then changes sign or side, so the labels are
made consistent before anything is measured. The exchange is not always whole-body: on the rig the
shoulders were exchanged in some frames whose legs were not, and the feet in one frame alone, so
the upper body (shoulders, arms, face), the legs (hips, knees) and the feet are checked separately.

How: a body cannot turn faster than it can. The signed width of a part in the image,
r = (x_left - x_right) / torso length (``PARTS``: shoulders, hips + knees, ankles), changes
by at most ``MAX_TURN_RATE`` x |r| per second while the subject turns; the model's exchange flips
its sign within a frame or two. Over every run of frames with a pose (a gap longer than
``MAX_GAP_S`` starts a new run), a two-state Viterbi path (labels as given / exchanged) minimises
how far r moves beyond that bound between neighbouring frames. Continuity fixes the labels only
relative to each other, so of the two consistent labellings of a run the one that agrees with the
model in most frames is kept: the model is taken to be right most of the time (it was in 74 of 100
frames on the rig's worst camera). A real turn passes through a side view (r near 0) slowly
enough to stay within the bound, so it is not mistaken for an exchange.

With MediaPipe's tracker (``num_poses=1``) an exchange of the upper body need not flip within a
frame: the tracked landmarks carry over from frame to frame, so the shoulders slide through each
other over ~5 frames (rig cam02, frames 41-48: width +0.13 -> -0.48 torso lengths), which continuity
cannot tell from a turn (23 frames were left exchanged). So the upper body also gets a per-frame
cue from the legs, relabelled first: shoulders and hips face the same way (a trunk cannot twist by
more than 90 deg), so where the hips are clearly wide (``FACING_MIN_WIDTH``) shoulders whose width
has the other sign cost how far they point the other way. With that evidence in a run, the
majority rule below is not needed and not applied to the upper body.

A frame at the edge of an exchange whose part is nearly edge-on (|r| below ``UNDECIDED_WIDTH``, in a
track where that part is usually at least ``FACING_MIN_WIDTH`` wide, i.e. not a side view) and that has
no facing cue cannot be labelled: both labellings are equally continuous. Under the tracker
this happens where the landmarks slide back through each other (rig cam02 frame 66: shoulders +0.04,
hips -0.04 torso lengths between exchanged and correct frames; the triangulated reference says it is
exchanged, the widths cannot). Such frames are "cannot tell": the part's sided landmarks get
visibility 0 there (no left/right metric is measured from them), counted as ``undecided``.

The model's own 3-D yaw was tried as a cue and rejected: on the rig it drifts by 40 deg in frames
whose labels are right and does not always flip with the labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from assessment.angles import DEFAULT_MIN_VISIBILITY
from vision.track import LANDMARK_INDEX, LANDMARK_NAMES, MIRROR_PERMUTATION, LandmarkTrack

# Body parts relabelled independently: part -> (landmark names without side, pairs whose width is
# followed). Everything sided that is not in a listed part (shoulders, arms, face) is "upper".
PARTS = {"upper": ((), ("shoulder",)), "legs": (("hip", "knee"), ("hip", "knee")),
         "feet": (("ankle", "heel", "foot_index"), ("ankle",))}
MAX_TURN_RATE = 2 * math.pi      # rad/s: one full turn per second, faster than a person turns on the spot
MAX_GAP_S = 0.5                  # a longer run without a pose starts a new run
EXCHANGE_COST = 0.005            # torso lengths per relabelled frame: in a near tie the model's labels stand
FACING_MIN_WIDTH = 0.3           # torso lengths: hips this wide (not near a side view) say which way the body faces
FACING_TOLERANCE = 0.05          # torso lengths of shoulder width facing the other way forgiven (noise, a twist)
# torso lengths: a part this narrow next to a relabelling is within two FACING_TOLERANCEs (landmark
# noise) of edge-on, so its width cannot say which labelling is right
UNDECIDED_WIDTH = 2 * FACING_TOLERANCE


def _part_of(name: str) -> str | None:
    if not name.startswith(("left_", "right_")):
        return None
    base = name.split("_", 1)[1]
    return next((p for p, (members, _) in PARTS.items() if base in members), "upper")


def _part_permutation(part: str) -> np.ndarray:
    """Index map exchanging left and right landmarks of one part only."""
    perm = np.arange(len(LANDMARK_NAMES))
    for i, name in enumerate(LANDMARK_NAMES):
        if _part_of(name) == part:
            perm[i] = MIRROR_PERMUTATION[i]
    return perm


@dataclass(frozen=True)
class SwapReport:
    """Rows whose left/right labels were exchanged back, per body part (``parts``: name -> bool per row),
    and rows whose labels cannot be told (``undecided``: the part is left out of every measurement there)."""
    parts: dict[str, np.ndarray]
    undecided: dict[str, np.ndarray] | None = None

    @classmethod
    def none(cls, n: int) -> "SwapReport":
        return cls({p: np.zeros(n, dtype=bool) for p in PARTS})

    @property
    def n_undecided(self) -> int:
        return 0 if not self.undecided else int(np.logical_or.reduce(list(self.undecided.values())).sum())

    @property
    def swapped(self) -> np.ndarray:
        return np.logical_or.reduce(list(self.parts.values()))

    @property
    def n_swapped(self) -> int:
        return int(self.swapped.sum())

    @property
    def message(self) -> str:
        out = []
        if self.n_swapped:
            per = ", ".join(f"{p} {int(m.sum())}" for p, m in self.parts.items() if m.any())
            out.append(f"the pose model exchanged left and right in {self.n_swapped} of {len(self.swapped)} frames "
                       f"({per}); those frames were relabelled before measuring")
        if self.n_undecided:
            per = ", ".join(f"{p} {int(m.sum())}" for p, m in self.undecided.items() if m.any())
            out.append(f"left and right could not be told apart in {self.n_undecided} of {len(self.swapped)} frames ({per}); "
                       f"those body parts were left out of the measurements there")
        return "; ".join(out)

    def apply(self, track: LandmarkTrack) -> LandmarkTrack:
        """The track with each swapped part's left and right landmarks exchanged back, and each
        undecided part's sided landmarks made invisible (visibility 0) in its undecided rows."""
        if not self.n_swapped and not self.n_undecided:
            return track
        image, world = track.image.copy(), track.world.copy()
        for part, mask in self.parts.items():
            rows = np.flatnonzero(mask)
            perm = _part_permutation(part)
            image[rows] = image[rows][:, perm]
            world[rows] = world[rows][:, perm]
        # the model believed it saw the other face of the body: its depth is mirrored (x, the image
        # direction, is right once the labels are exchanged)
        rows = np.flatnonzero(self.swapped)
        world[rows, :, 2] = -world[rows, :, 2]
        for part, mask in (self.undecided or {}).items():
            sided = np.flatnonzero(_part_permutation(part) != np.arange(len(LANDMARK_NAMES)))
            image[np.ix_(np.flatnonzero(mask), sided, [3])] = 0.0
        return LandmarkTrack(track.frame_index, track.timestamp_ms, image, world, track.n_people, track.meta)

    def to_dict(self, frame_index: np.ndarray) -> dict:
        undecided = np.logical_or.reduce(list(self.undecided.values())) if self.undecided else np.zeros(len(frame_index), bool)
        return {"relabelled_frames": self.n_swapped, **{p: int(m.sum()) for p, m in self.parts.items()},
                "frames": [int(f) for f in frame_index[self.swapped]],
                "undecided_frames": [int(f) for f in frame_index[undecided]]}


def signed_width(track: LandmarkTrack, pairs: tuple[str, ...], min_visibility: float = DEFAULT_MIN_VISIBILITY
                 ) -> np.ndarray:
    """(N,) sum over landmark pairs of (x_left - x_right), in median torso lengths (NaN where not seen)."""
    px = track.pixels()
    vis = track.visibility
    px = np.where((vis >= min_visibility)[..., None], px, np.nan)
    i = LANDMARK_INDEX
    with np.errstate(invalid="ignore"):
        torso = np.linalg.norm(0.5 * (px[:, i["left_shoulder"]] + px[:, i["right_shoulder"]])
                               - 0.5 * (px[:, i["left_hip"]] + px[:, i["right_hip"]]), axis=1)
    finite = torso[np.isfinite(torso) & (torso > 0)]
    size = float(np.median(finite)) if len(finite) else float("nan")
    return sum(px[:, i[f"left_{p}"], 0] - px[:, i[f"right_{p}"], 0] for p in pairs) / size


def _viterbi(r: np.ndarray, bound: np.ndarray, against: np.ndarray | None = None) -> np.ndarray:
    """Two-state path over one run: state 1 = labels exchanged (r -> -r). ``bound[t-1]``: the largest
    change of r a turning body makes between frames t-1 and t; a step costs how far r moves beyond it.
    NaN widths cost nothing; each exchanged frame costs ``EXCHANGE_COST``. ``against[t]``: (keep,
    exchanged) cost of frame t by itself (another part's evidence), added to the path's cost."""
    m = len(r)
    own = np.zeros((m, 2)) if against is None else np.nan_to_num(against, nan=0.0)
    own_keep, own_swap = own[:, 0].tolist(), own[:, 1].tolist()
    with np.errstate(invalid="ignore"):
        same = np.nan_to_num(np.maximum(0.0, np.abs(r[1:] - r[:-1]) - bound), nan=0.0).tolist()
        cross = np.nan_to_num(np.maximum(0.0, np.abs(r[1:] + r[:-1]) - bound), nan=0.0).tolist()
    keep, swap = own_keep[0], own_swap[0] + EXCHANGE_COST
    back = [(0, 1)] * m
    for t in range(1, m):            # plain floats: two states need no array work per frame
        k_from_k, k_from_s = keep + same[t - 1], swap + cross[t - 1]
        s_from_s, s_from_k = swap + same[t - 1], keep + cross[t - 1]
        back[t] = (0 if k_from_k <= k_from_s else 1, 1 if s_from_s <= s_from_k else 0)
        keep = min(k_from_k, k_from_s) + own_keep[t]
        swap = min(s_from_s, s_from_k) + EXCHANGE_COST + own_swap[t]
    state = np.zeros(m, dtype=bool)
    cur = 0 if keep <= swap else 1
    for t in range(m - 1, -1, -1):
        state[t] = bool(cur)
        cur = back[t][cur]
    return state


def _find_part(track: LandmarkTrack, rows: np.ndarray, pairs: tuple[str, ...], min_visibility: float,
               facing: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(exchanged rows, undecided rows) of one part. ``facing`` (per row of ``rows``): the hips' signed
    width with the legs' labels already made consistent; where it is clear, this part must face the
    same way."""
    out = np.zeros(len(track), dtype=bool)
    undecided = np.zeros(len(track), dtype=bool)
    r = signed_width(track, pairs, min_visibility)[rows]
    if not np.isfinite(r).any():
        return out, undecided
    against = None
    clear = np.zeros(len(rows), dtype=bool)       # rows with a facing cue of their own
    if facing is not None:
        with np.errstate(invalid="ignore"):
            side = np.where(np.abs(facing) >= FACING_MIN_WIDTH, np.sign(facing), 0.0)
            away = np.nan_to_num(-r * side, nan=0.0)          # > 0: this part faces the other way
        against = np.stack([np.maximum(0.0, away - FACING_TOLERANCE),
                            np.maximum(0.0, -away - FACING_TOLERANCE)], axis=1)
        clear = side != 0
    t = track.timestamp_ms[rows] / 1000.0
    rate = MAX_TURN_RATE * float(np.nanmedian(np.abs(r)))   # |dr/dt| <= |r_square-on| * turn rate
    wide = float(np.nanmedian(np.abs(r))) >= FACING_MIN_WIDTH
    cuts = np.flatnonzero(np.diff(t) > MAX_GAP_S) + 1
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(rows)]):
        if b - a < 2:
            continue
        run_against = None if against is None else against[a:b]
        state = _viterbi(r[a:b], rate * np.diff(t[a:b]), run_against)
        anchored = run_against is not None and run_against.any()
        if not anchored and state.sum() * 2 > b - a:   # no other evidence: keep the labelling the model gave most often
            state = ~state
        out[rows[a:b]] = state
        # edge-on next to a relabelling, without a facing cue: neither labelling can be told right (only
        # where the part is usually wide: seen from the side, narrow is its normal width, not an event)
        if not wide:
            continue
        edge = np.zeros(b - a, dtype=bool)
        edge[1:] |= state[1:] != state[:-1]
        edge[:-1] |= state[:-1] != state[1:]
        with np.errstate(invalid="ignore"):
            undecided[rows[a:b]] = edge & (np.abs(r[a:b]) < UNDECIDED_WIDTH) & ~clear[a:b]
    return out, undecided


def find_swaps(track: LandmarkTrack, min_visibility: float = DEFAULT_MIN_VISIBILITY) -> SwapReport:
    """Rows whose left/right labels disagree with the track's consistent labelling (module docstring)."""
    rows = np.flatnonzero(track.detected)
    if len(rows) < 3:
        return SwapReport.none(len(track))
    found = {p: _find_part(track, rows, pairs, min_visibility) for p, (_, pairs) in PARTS.items() if p != "upper"}
    hips = signed_width(track, ("hip",), min_visibility)[rows]
    facing = np.where(found["legs"][0][rows], -hips, hips)
    found["upper"] = _find_part(track, rows, PARTS["upper"][1], min_visibility, facing)
    return SwapReport({p: found[p][0] for p in PARTS}, {p: found[p][1] for p in PARTS})
