"""The landmark track: one small data type for a sequence of single-subject poses.

Everything downstream (assessment, hold checks, dashboard) reads a ``LandmarkTrack`` and never the
raw MediaPipe result, so the model can change without touching the analysis.

Arrays (N = number of frames, 33 BlazePose landmarks):

* ``frame_index``  (N,)  int   — index of the decoded frame in its source
* ``timestamp_ms`` (N,)  float — presentation time from the container (not assumed from fps)
* ``image``        (N,33,5)    — normalized x, y (0..1 of the upright frame), z (same scale as x,
  relative to the hips), visibility, presence. NaN where no person was found.
* ``world``        (N,33,3)    — metres, origin between the hips (MediaPipe world landmarks).
* ``n_people``     (N,)  int   — how many poses the model found in that frame.

Gaps are explicit rows with NaN coordinates, never dropped: ``n_people == 0`` when nobody was found,
``n_people >= 1`` when people were found but none could be told to be the subject. The reason of
every gap row is in ``meta.gaps`` (reason -> frame count and ranges).
"""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from vision.errors import IsobalanceError

if TYPE_CHECKING:   # pandas (~96 MB resident) is imported where a DataFrame is made or read, not by
    import pandas as pd  # the frames -> landmarks path, which never needs it before the track is saved

SCHEMA_VERSION = 1

LANDMARK_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)
N_LANDMARKS = len(LANDMARK_NAMES)
LANDMARK_INDEX = {name: i for i, name in enumerate(LANDMARK_NAMES)}


def _mirror_permutation() -> np.ndarray:
    """Index map that swaps every left_* landmark with its right_* twin."""
    perm = np.arange(N_LANDMARKS)
    for i, name in enumerate(LANDMARK_NAMES):
        if name.startswith("left_"):
            perm[i] = LANDMARK_INDEX["right_" + name[5:]]
        elif name.startswith("right_"):
            perm[i] = LANDMARK_INDEX["left_" + name[6:]]
    return perm


MIRROR_PERMUTATION = _mirror_permutation()

# Skeleton edges used for drawing (same topology as MediaPipe's POSE_CONNECTIONS).
POSE_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)

IMAGE_FIELDS = ("x", "y", "z", "visibility", "presence")
WORLD_FIELDS = ("wx", "wy", "wz")
FRAME_COLUMNS = ("frame", "timestamp_ms", "n_people")


def track_columns() -> list[str]:
    """The documented wide DataFrame schema: one row per frame."""
    cols = list(FRAME_COLUMNS)
    for name in LANDMARK_NAMES:
        cols += [f"{name}_{f}" for f in IMAGE_FIELDS + WORLD_FIELDS]
    return cols


class TrackFormatError(IsobalanceError, ValueError):
    """A track file or DataFrame does not follow the documented schema (a user-facing error: the CLI
    prints its one line and exits 2)."""


MAX_FRAME_SIDE = 16384   # px: above 16K video; a header claiming more is damaged or hostile


@dataclass(frozen=True)
class TrackMeta:
    """Where a track came from and how it was made."""

    source: str = ""
    fps: float = float("nan")          # nominal rate reported by the container (may be variable)
    width: int = 0                     # upright frame size in pixels, after applying rotation
    height: int = 0
    rotation: int = 0                  # degrees clockwise applied to decoded frames to make them upright
    model: str = ""
    smoothing: dict[str, Any] = field(default_factory=dict)
    subject: str = ""                  # how the single subject was chosen when several people appear
    gaps: dict[str, Any] = field(default_factory=dict)   # reason -> {frames, ranges, why} (vision.subject)
    search: dict[str, Any] = field(default_factory=dict)  # frames, and how many were searched for everybody
    notes: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION
    scene_roll: dict[str, Any] = field(default_factory=dict)   # vision.scene_roll.SceneRoll.to_dict(); {} = none

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: an unknown rate (a still image) is null, never NaN (not valid JSON)."""
        d = dataclasses.asdict(self)
        d["notes"] = list(self.notes)
        if not (isinstance(self.fps, (int, float)) and np.isfinite(self.fps)):
            d["fps"] = None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrackMeta":
        """From a track file's metadata (outside input): each known field checked for its type."""
        if not isinstance(d, dict):
            raise TrackFormatError("track metadata must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        for key, value in kw.items():
            if not _META_CHECKS.get(key, lambda _v: True)(value):
                raise TrackFormatError(f"track metadata field {key!r} has an invalid value {str(value)[:40]!r}")
        if "notes" in kw:
            kw["notes"] = tuple(kw["notes"])
        if kw.get("fps", 0.0) is None:
            kw["fps"] = float("nan")
        return cls(**kw)

    def check(self) -> "TrackMeta":
        """Reject a header no real video has (a 50000x50000 px claim made ``assess`` allocate 7 GiB)."""
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FRAME_SIDE:
                raise TrackFormatError(f"track header: {name} must be a whole number of pixels from 0 to "
                                       f"{MAX_FRAME_SIDE}, not {value!r}")
        if not isinstance(self.fps, (int, float)) or isinstance(self.fps, bool) or \
                not (np.isnan(self.fps) or 0 < self.fps <= 10_000):
            raise TrackFormatError(f"track header: fps must be a rate above 0, not {self.fps!r}")
        if self.rotation not in (0, 90, 180, 270):
            raise TrackFormatError(f"track header: rotation must be 0, 90, 180 or 270, not {self.rotation!r}")
        return self

    def replace(self, **changes: Any) -> "TrackMeta":
        return dataclasses.replace(self, **changes)


_META_CHECKS = {          # types of the free-form fields; numbers are checked by TrackMeta.check
    "source": lambda v: isinstance(v, str), "model": lambda v: isinstance(v, str),
    "subject": lambda v: isinstance(v, str), "smoothing": lambda v: isinstance(v, dict),
    "notes": lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v),
    "fps": lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)),
}


def _mirrored_scene(scene: dict[str, Any], width: int) -> dict[str, Any]:
    """The scene-roll record (vision.scene_roll) of the mirrored frames: roll negated, x -> width - x."""
    if not scene:
        return {}
    out = dict(scene)
    out["roll_deg"] = -scene["roll_deg"]
    if "vp" in scene:
        vx, vy, vw = scene["vp"]
        out["vp"] = [width * vw - vx, vy, vw]
    if "point" in scene:
        out["point"] = [width - scene["point"][0], scene["point"][1]]
    return out


@dataclass
class LandmarkTrack:
    frame_index: np.ndarray
    timestamp_ms: np.ndarray
    image: np.ndarray
    world: np.ndarray
    n_people: np.ndarray
    meta: TrackMeta = field(default_factory=TrackMeta)

    def __post_init__(self) -> None:
        n = len(self.frame_index)
        self.frame_index = np.asarray(self.frame_index, dtype=np.int64)
        self.timestamp_ms = np.asarray(self.timestamp_ms, dtype=np.float64)
        self.image = np.asarray(self.image, dtype=np.float64).reshape(n, N_LANDMARKS, 5)
        self.world = np.asarray(self.world, dtype=np.float64).reshape(n, N_LANDMARKS, 3)
        self.n_people = np.asarray(self.n_people, dtype=np.int64)
        for name in ("timestamp_ms", "n_people"):
            if len(getattr(self, name)) != n:
                raise TrackFormatError(f"{name} has {len(getattr(self, name))} rows, expected {n}")

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(cls, meta: TrackMeta | None = None) -> "LandmarkTrack":
        return cls(np.zeros(0), np.zeros(0), np.zeros((0, N_LANDMARKS, 5)),
                   np.zeros((0, N_LANDMARKS, 3)), np.zeros(0), meta or TrackMeta())

    @classmethod
    def from_frames(cls, frames: Sequence["PoseFrame"], meta: TrackMeta) -> "LandmarkTrack":
        """Stack per-frame poses (see ``PoseFrame``) into a track."""
        if not frames:
            return cls.empty(meta)
        return cls(
            frame_index=np.array([f.frame_index for f in frames]),
            timestamp_ms=np.array([f.timestamp_ms for f in frames]),
            image=np.stack([f.image for f in frames]),
            world=np.stack([f.world for f in frames]),
            n_people=np.array([f.n_people for f in frames]),
            meta=meta,
        )

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return len(self.frame_index)

    @property
    def detected(self) -> np.ndarray:
        """(N,) bool — a subject pose is present in the frame."""
        return np.isfinite(self.image[:, 0, 0])

    @property
    def visibility(self) -> np.ndarray:
        """(N,33) visibility, 0 where no pose was found."""
        return np.nan_to_num(self.image[..., 3], nan=0.0)

    def pixels(self) -> np.ndarray:
        """(N,33,2) image coordinates in pixels of the upright frame (x right, y down).

        Angles must be measured here, not in normalized units: x and y are normalized by different
        lengths whenever the frame is not square.
        """
        if not (self.meta.width and self.meta.height):
            raise TrackFormatError("track metadata lacks the frame size needed for pixel coordinates")
        return self.image[..., :2] * np.array([self.meta.width, self.meta.height], dtype=np.float64)

    def detection_rate(self) -> float:
        return float(self.detected.mean()) if len(self) else 0.0

    def select(self, mask_or_index: np.ndarray | slice) -> "LandmarkTrack":
        """A sub-track (rows chosen by boolean mask, index array or slice)."""
        return LandmarkTrack(self.frame_index[mask_or_index], self.timestamp_ms[mask_or_index],
                             self.image[mask_or_index], self.world[mask_or_index],
                             self.n_people[mask_or_index], self.meta)

    def mirrored(self) -> "LandmarkTrack":
        """The track a horizontally mirrored video would give: x -> 1-x, left <-> right swapped."""
        image = self.image[:, MIRROR_PERMUTATION].copy()
        image[..., 0] = 1.0 - image[..., 0]
        world = self.world[:, MIRROR_PERMUTATION].copy()
        world[..., 0] = -world[..., 0]
        return LandmarkTrack(self.frame_index, self.timestamp_ms, image, world, self.n_people,
                             self.meta.replace(notes=self.meta.notes + ("mirrored",),
                                               scene_roll=_mirrored_scene(self.meta.scene_roll, self.meta.width)))

    # ------------------------------------------------------------------ DataFrame I/O
    def to_dataframe(self) -> "pd.DataFrame":
        import pandas as pd

        n = len(self)
        block = np.concatenate([self.image, self.world], axis=2).reshape(n, -1)
        cols = track_columns()
        df = pd.DataFrame(block, columns=cols[len(FRAME_COLUMNS):])
        df.insert(0, "frame", self.frame_index)
        df.insert(1, "timestamp_ms", self.timestamp_ms)
        df.insert(2, "n_people", self.n_people)
        df.attrs["isobalance_meta"] = self.meta.to_dict()
        return df

    @classmethod
    def from_dataframe(cls, df: "pd.DataFrame", meta: TrackMeta | None = None) -> "LandmarkTrack":
        expected = track_columns()
        missing = [c for c in expected if c not in df.columns]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise TrackFormatError(f"not an isobalance landmark track: missing columns {shown}")
        if meta is None:
            meta = TrackMeta.from_dict(df.attrs.get("isobalance_meta", {}))
        try:
            values = df[expected[len(FRAME_COLUMNS):]].to_numpy(dtype=np.float64)
            counts = df[["frame", "n_people"]].to_numpy(dtype=np.float64)
            ts = df["timestamp_ms"].to_numpy(dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise TrackFormatError(f"landmark track has non-numeric values: {exc}") from None
        if not (np.isfinite(ts).all() and np.isfinite(values[~np.isnan(values)]).all()
                and np.isfinite(counts).all() and (counts == np.round(counts)).all() and (np.abs(counts) < 2**53).all()):
            raise TrackFormatError("landmark track has missing or infinite values (frame, n_people: whole "
                                   "numbers; timestamp_ms: a number; coordinates: numbers or empty)")
        frames, n_people = counts[:, 0].astype(np.int64), counts[:, 1].astype(np.int64)
        n = len(df)
        block = values.reshape(n, N_LANDMARKS, len(IMAGE_FIELDS) + len(WORLD_FIELDS))
        return cls(frames, ts, block[..., :5], block[..., 5:], n_people, meta)

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write ``.csv`` (metadata in a leading ``#`` JSON line) or ``.parquet`` (schema metadata)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta_json = json.dumps(self.meta.to_dict(), sort_keys=True)
        tmp = path.with_name(path.name + ".partial")
        if path.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(self.to_dataframe(), preserve_index=False)
            table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                                   b"isobalance_meta": meta_json.encode()})
            pq.write_table(table, tmp)
        elif path.suffix == ".csv":
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                fh.write(f"# isobalance-track {meta_json}\n")
                self._write_csv_rows(fh)
        else:
            raise TrackFormatError(f"unknown track format {path.suffix!r}: use .csv or .parquet")
        tmp.replace(path)  # atomic: a crash never leaves a half-written track under the real name
        return path

    def _write_csv_rows(self, fh) -> None:
        """The CSV ``to_dataframe().to_csv(index=False, float_format="%.6g")`` writes, byte for byte
        (tests/vision/test_track.py), without pandas: ``landmarks`` writes its track after inference and
        would otherwise import pandas (~60-96 MB) for this one call."""
        fh.write(",".join(track_columns()) + "\n")
        block = np.concatenate([self.image, self.world], axis=2).reshape(len(self), -1)
        gaps = np.isnan(block).any(axis=1)
        # one %-format per row where no value is NaN (most rows): 0.08 against 0.21 CPU s for 1200 rows,
        # on the serial tail of ``landmarks``; the same "%.6g" of each value, so the same bytes
        whole = ",".join(["%.6g"] * block.shape[1])
        for frame, t, people, row, gap in zip(self.frame_index, self.timestamp_ms, self.n_people, block, gaps):
            if gap:
                values = ",".join(["" if v != v else "%.6g" % v for v in row.tolist()])   # NaN -> empty
            else:
                values = whole % tuple(row.tolist())
            fh.write(f"{int(frame)},{'' if t != t else '%.6g' % t},{int(people)},{values}\n")

    @classmethod
    def load(cls, path: str | Path) -> "LandmarkTrack":
        path = Path(path)
        if not path.is_file():
            raise TrackFormatError(f"track file not found: {path}")
        import pandas as pd

        meta: dict[str, Any] = {}
        try:
            if path.suffix == ".parquet":
                import pyarrow.parquet as pq

                table = pq.read_table(path)
                raw = (table.schema.metadata or {}).get(b"isobalance_meta")
                meta = json.loads(raw) if raw else {}
                df = table.to_pandas()
            else:
                text = path.read_text(encoding="utf-8")
                first, _, rest = text.partition("\n")
                if first.startswith("# isobalance-track "):
                    meta = json.loads(first[len("# isobalance-track "):])
                else:
                    rest = text
                df = pd.read_csv(io.StringIO(rest))
        except (UnicodeDecodeError, json.JSONDecodeError, pd.errors.ParserError,
                pd.errors.EmptyDataError, OSError) as exc:
            raise TrackFormatError(f"cannot read landmark track {path}: {exc}") from None
        except Exception as exc:  # pyarrow raises its own error types for corrupt files
            raise TrackFormatError(f"cannot read landmark track {path}: {exc}") from None
        if not isinstance(meta, dict):
            raise TrackFormatError(f"landmark track {path}: its header is not a JSON object")
        try:
            header = TrackMeta.from_dict(meta).check()
        except TypeError as exc:
            raise TrackFormatError(f"landmark track {path}: bad header ({exc})") from None
        track = cls.from_dataframe(df, header)
        if not len(track):
            raise TrackFormatError(f"landmark track {path} holds no frames (a header only)")
        values = (track.timestamp_ms, track.image, track.world)
        if any(np.isinf(v).any() for v in values):   # NaN marks a gap; infinity is never measured
            raise TrackFormatError(f"landmark track {path} holds infinite values")
        return track


@dataclass
class PoseFrame:
    """One frame's chosen subject pose, as plain arrays (NaN when nobody was found)."""

    frame_index: int
    timestamp_ms: float
    image: np.ndarray   # (33,5)
    world: np.ndarray   # (33,3)
    n_people: int

    @classmethod
    def missing(cls, frame_index: int, timestamp_ms: float) -> "PoseFrame":
        return cls(frame_index, timestamp_ms, np.full((N_LANDMARKS, 5), np.nan),
                   np.full((N_LANDMARKS, 3), np.nan), 0)

    @property
    def detected(self) -> bool:
        return bool(np.isfinite(self.image[0, 0]))
