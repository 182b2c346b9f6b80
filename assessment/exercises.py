"""The isometric balancing exercise catalog (data file) and the plan built from hypotheses.

Catalog entries live in ``assessment/data/exercises.toml`` with exactly the keys in ``EXERCISE_KEYS``;
the hold checker reads ``still_landmarks`` / ``still_angles`` to know what must stay still. Each entry
declares the joints its target muscle ``crosses``; the loader rejects one that does not watch them
(an isometric that lets the crossed joint move is no longer isometric). Loading
validates every entry so a typo fails loudly at start-up instead of silently mis-coaching a hold.
PIR/MET entries treat muscles suggested short; ``isometric`` entries treat muscles suggested lengthened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from assessment.barrier import BARRIER_ANGLES
from assessment.hypotheses import (DATA_DIR, Hypothesis, MuscleSide, RuleSet, _read_toml, load_references,
                                   load_rules)
from vision.errors import IsobalanceError
from vision.track import LANDMARK_INDEX

CATALOG_PATH = DATA_DIR / "exercises.toml"
CATALOG_SCHEMA_VERSION = 1

EXERCISE_KEYS = (
    "id", "name", "technique", "target_muscle", "crosses", "side", "start_position", "steps", "effort_pct",
    "hold_s", "relax_s", "stretch_s", "barrier_angle", "repetitions", "still_landmarks", "still_angles", "camera_view",
    "therapist_only", "safety", "sources",
)
TECHNIQUES = ("PIR", "MET", "isometric")
EXERCISE_SIDES = ("left", "right", "affected", "both")
CAMERA_VIEWS = ("front", "side", "any")
# Which technique treats which hypothesis role (clinical-reference §3).
TECHNIQUES_FOR_ROLE = {"short": ("PIR", "MET"), "lengthened": ("isometric",)}
# The joints a muscle can cross, each seen through the landmarks whose movement shows it moving.
# Head/neck: the head moves on the cervical spine, seen at the nose and ears (the shoulders are the
# other end, watched as the shoulder girdle). Hip: the femur against the pelvis, seen at hips + knees.
JOINT_LANDMARKS: dict[str, tuple[str, ...]] = {
    "head_neck": ("nose", "left_ear", "right_ear"),
    "shoulder_girdle": ("left_shoulder", "right_shoulder"),
    "trunk_pelvis": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
    "hip": ("left_hip", "right_hip", "left_knee", "right_knee"),
    "knee": ("left_knee", "right_knee", "left_ankle", "right_ankle"),
}
# Anatomy (origin -> insertion) of the muscles the rules name: which of those joints each crosses.
# An exercise for the muscle must declare (and so watch) at least these.
MUSCLE_JOINTS: dict[str, tuple[str, ...]] = {
    "upper_trapezius": ("head_neck", "shoulder_girdle"),   # occiput, nuchal ligament -> clavicle, acromion
    "levator_scapulae": ("head_neck", "shoulder_girdle"),  # C1-C4 -> superior angle of the scapula
    "sternocleidomastoid": ("head_neck",),                 # sternum, clavicle -> mastoid
    "suboccipitals": ("head_neck",),                       # C1, C2 -> occiput
    "deep_neck_flexors": ("head_neck",),                   # cervical vertebrae -> occiput (longus capitis)
    "pectoralis_minor": ("shoulder_girdle",),              # ribs 3-5 -> coracoid
    "lower_trapezius": ("shoulder_girdle",),               # T4-T12 -> spine of the scapula
    "quadratus_lumborum": ("trunk_pelvis",),               # iliac crest -> 12th rib, L1-L4
    "hip_adductors": ("hip",),                             # pubis -> femur
    "gluteus_medius": ("hip",),                            # ilium -> greater trochanter
}
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class CatalogError(IsobalanceError):
    """The exercise catalog is malformed, incomplete, or an unknown exercise was asked for."""


@dataclass(frozen=True)
class Exercise:
    id: str
    name: str
    technique: str
    target_muscle: str
    crosses: tuple[str, ...]
    side: str
    start_position: str
    steps: tuple[str, ...]
    effort_pct: tuple[float, float]
    hold_s: float
    relax_s: float
    stretch_s: float
    barrier_angle: str
    repetitions: int
    still_landmarks: tuple[str, ...]
    still_angles: tuple[str, ...]
    camera_view: str
    therapist_only: bool
    safety: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def role(self) -> str:
        """'short' for PIR/MET (lengthen a short muscle), 'lengthened' for plain isometrics."""
        return "lengthened" if self.technique == "isometric" else "short"

    @property
    def still_landmark_indices(self) -> tuple[int, ...]:
        return tuple(LANDMARK_INDEX[n] for n in self.still_landmarks)

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in ((k, getattr(self, k)) for k in EXERCISE_KEYS)}


@dataclass(frozen=True)
class Catalog:
    exercises: tuple[Exercise, ...]
    path: Path

    def __iter__(self) -> Iterator[Exercise]:
        return iter(self.exercises)

    def __len__(self) -> int:
        return len(self.exercises)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.exercises)

    def get(self, exercise_id: str) -> Exercise:
        for e in self.exercises:
            if e.id == exercise_id:
                return e
        raise CatalogError(f"no exercise {exercise_id!r} in the catalog; valid ids: {', '.join(self.ids)}")

    def for_muscle(self, muscle: str, role: str) -> tuple[Exercise, ...]:
        """Exercises that treat ``muscle`` in the given hypothesis role ('short' or 'lengthened')."""
        return tuple(e for e in self.exercises
                     if e.target_muscle == muscle and e.technique in TECHNIQUES_FOR_ROLE[role])


@dataclass(frozen=True)
class PlannedExercise:
    exercise: Exercise
    side: str                      # left | right | both, resolved from the hypotheses
    why: tuple[str, ...]           # plain sentences, one per hypothesis that asked for it
    hypothesis_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"exercise": self.exercise.to_dict(), "side": self.side, "why": list(self.why),
                "hypothesis_ids": list(self.hypothesis_ids)}


# ---------------------------------------------------------------------------------------- validation
def _known_angle_ids() -> set[str] | None:
    """Angle ids from the measurement table, or None while that table is unavailable."""
    try:
        from assessment import angles  # noqa: PLC0415  (optional: written by the measurement engineer)
    except ImportError:
        return None
    for name in ("ANGLE_IDS", "ANGLES", "ANGLE_TABLE", "METRICS"):
        table = getattr(angles, name, None)
        if isinstance(table, Mapping):
            return set(table)
        if isinstance(table, (list, tuple, set, frozenset)):
            return {getattr(a, "id", a) for a in table}
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_entry(raw: Any, where: str, muscles: Mapping[str, str], refs: Mapping[str, Any],
                 angle_ids: set[str] | None, problems: list[str]) -> Exercise | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: not a table")
        return None
    before = len(problems)
    unknown = sorted(set(raw) - set(EXERCISE_KEYS))
    missing = [k for k in EXERCISE_KEYS if k not in raw]
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(unknown)} (valid keys: {', '.join(EXERCISE_KEYS)})")
    if missing:
        problems.append(f"{where}: missing key(s) {', '.join(missing)}")
        return None

    def need(cond: bool, msg: str) -> None:
        if not cond:
            problems.append(f"{where}: {msg}")

    def str_list(key: str, allow_empty: bool = False) -> bool:
        v = raw[key]
        ok = isinstance(v, list) and all(isinstance(s, str) and s.strip() for s in v) and (allow_empty or v)
        need(ok, f"{key} must be a {'' if allow_empty else 'non-empty '}list of texts")
        return bool(ok)

    need(isinstance(raw["id"], str) and bool(_SLUG.match(raw["id"])),
         f"id {raw['id']!r} must be a lowercase slug like 'upper-trapezius-pir'")
    for key in ("name", "start_position", "target_muscle"):
        need(isinstance(raw[key], str) and raw[key].strip() != "", f"{key} must be a non-empty text")
    need(raw["technique"] in TECHNIQUES, f"technique {raw['technique']!r} must be one of {', '.join(TECHNIQUES)}")
    need(raw["side"] in EXERCISE_SIDES, f"side {raw['side']!r} must be one of {', '.join(EXERCISE_SIDES)}")
    need(raw["camera_view"] in CAMERA_VIEWS,
         f"camera_view {raw['camera_view']!r} must be one of {', '.join(CAMERA_VIEWS)}")
    need(raw["target_muscle"] in muscles,
         f"target_muscle {raw['target_muscle']!r} is not a muscle named in rules.toml [muscles]")
    eff = raw["effort_pct"]
    need(isinstance(eff, list) and len(eff) == 2 and all(_is_number(v) and 0 <= v <= 100 for v in eff)
         and eff[0] <= eff[1], f"effort_pct {eff!r} must be [low, high] percentages within 0-100, low <= high")
    need(_is_number(raw["hold_s"]) and raw["hold_s"] > 0, "hold_s must be a positive number of seconds")
    for key in ("relax_s", "stretch_s"):
        need(_is_number(raw[key]) and raw[key] >= 0, f"{key} must be a number of seconds >= 0")
    need(raw["barrier_angle"] == "" or raw["barrier_angle"] in BARRIER_ANGLES,
         f"barrier_angle {raw['barrier_angle']!r} must be \"\" or one of {', '.join(BARRIER_ANGLES)}")
    if raw["technique"] == "isometric":
        need(raw["stretch_s"] == 0, "stretch_s must be 0 for a plain isometric")
        need(raw["barrier_angle"] == "", "barrier_angle must be \"\" for a plain isometric (no new barrier)")
    elif raw["technique"] in TECHNIQUES:
        need(_is_number(raw["stretch_s"]) and raw["stretch_s"] > 0,
             f"stretch_s must be > 0 for {raw['technique']} (the relaxation phase takes up slack)")
    need(isinstance(raw["repetitions"], int) and not isinstance(raw["repetitions"], bool)
         and raw["repetitions"] >= 1, "repetitions must be a whole number >= 1")
    for key in ("steps", "safety", "sources"):
        str_list(key)
    need(isinstance(raw["therapist_only"], bool), "therapist_only must be true or false")
    if str_list("still_landmarks"):
        bad = [n for n in raw["still_landmarks"] if n not in LANDMARK_INDEX]
        need(not bad, f"still_landmarks {', '.join(map(repr, bad))} are not BlazePose landmark names "
                      f"(see vision.track.LANDMARK_NAMES, e.g. 'left_shoulder')")
    if str_list("crosses"):
        _check_joints(raw, need)
    if str_list("still_angles", allow_empty=True) and angle_ids is not None:
        bad = [a for a in raw["still_angles"] if a not in angle_ids]
        need(not bad, f"still_angles {', '.join(map(repr, bad))} are not angle ids of assessment.angles "
                      f"(valid: {', '.join(sorted(angle_ids))})")
    if isinstance(raw["sources"], list):
        bad = [s for s in raw["sources"] if s not in refs]
        need(not bad, f"sources {', '.join(map(repr, bad))} are not keys of references.toml")
    if len(problems) > before:
        return None
    return Exercise(
        id=raw["id"], name=raw["name"], technique=raw["technique"], target_muscle=raw["target_muscle"],
        crosses=tuple(raw["crosses"]), side=raw["side"], start_position=raw["start_position"], steps=tuple(raw["steps"]),
        effort_pct=(float(eff[0]), float(eff[1])), hold_s=float(raw["hold_s"]),
        relax_s=float(raw["relax_s"]), stretch_s=float(raw["stretch_s"]), barrier_angle=raw["barrier_angle"], repetitions=raw["repetitions"],
        still_landmarks=tuple(raw["still_landmarks"]), still_angles=tuple(raw["still_angles"]),
        camera_view=raw["camera_view"], therapist_only=raw["therapist_only"], safety=tuple(raw["safety"]), sources=tuple(raw["sources"]))


def _check_joints(raw: Mapping[str, Any], need: Callable[[bool, str], None]) -> None:
    """The exercise declares every joint its muscle crosses, and watches every landmark of each."""
    need(raw["target_muscle"] in MUSCLE_JOINTS,
         f"the joints {raw['target_muscle']!r} crosses are not recorded in assessment.exercises.MUSCLE_JOINTS")
    unknown = [j for j in raw["crosses"] if j not in JOINT_LANDMARKS]
    need(not unknown, f"crosses {', '.join(map(repr, unknown))} are not joints "
                      f"(valid: {', '.join(JOINT_LANDMARKS)})")
    omitted = [j for j in MUSCLE_JOINTS.get(raw["target_muscle"], ()) if j not in raw["crosses"]]
    need(not omitted, f"crosses must include {', '.join(omitted)}: {raw['target_muscle']} crosses it")
    watched = set(raw["still_landmarks"]) if isinstance(raw["still_landmarks"], list) else set()
    for joint in raw["crosses"]:
        missing = [n for n in JOINT_LANDMARKS.get(joint, ()) if n not in watched]
        need(not missing, f"still_landmarks must watch the {joint} joint the muscle crosses: "
                          f"add {', '.join(missing)}")


def load_catalog(path: Path | str | None = None, rules: RuleSet | None = None) -> Catalog:
    """Read and validate the catalog; every muscle the rules name must have a fitting exercise.

    Raises one ``CatalogError`` listing every problem found, so a file is fixed in one pass.
    """
    path = Path(path) if path else CATALOG_PATH
    rules = rules or load_rules()
    refs = rules.references or load_references()
    doc = _read_toml(path, "exercise catalog", CatalogError)
    problems: list[str] = []
    if doc.get("schema_version") != CATALOG_SCHEMA_VERSION:
        problems.append(f"schema_version must be {CATALOG_SCHEMA_VERSION}, found {doc.get('schema_version')!r}")
    extra = sorted(set(doc) - {"schema_version", "exercise"})
    if extra:
        problems.append(f"unknown top-level key(s) {', '.join(extra)}; exercises go in [[exercise]] tables")
    entries = doc.get("exercise", [])
    if not isinstance(entries, list) or not entries:
        problems.append("no [[exercise]] entries")
        entries = []
    angle_ids = _known_angle_ids()
    exercises: list[Exercise] = []
    for i, raw in enumerate(entries):
        where = f"exercise {raw.get('id', '#' + str(i + 1))!r}" if isinstance(raw, dict) else f"exercise #{i + 1}"
        ex = _check_entry(raw, where, rules.muscles, refs, angle_ids, problems)
        if ex is not None:
            exercises.append(ex)
    ids = [e.id for e in exercises]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.append(f"duplicate exercise id(s) {', '.join(dupes)}")
    catalog = Catalog(tuple(exercises), path)
    if not problems:
        for muscle, roles in sorted(rules.named_muscles().items()):
            for role in sorted(roles):
                if not catalog.for_muscle(muscle, role):
                    problems.append(f"no {'/'.join(TECHNIQUES_FOR_ROLE[role])} exercise for {muscle!r}, "
                                    f"which the rules can suggest as {role}")
    if problems:
        raise CatalogError(f"exercise catalog {path} has {len(problems)} problem(s): " + "; ".join(problems))
    return catalog


# ---------------------------------------------------------------------------------------- plan
def _resolved_side(exercise: Exercise, muscle: MuscleSide) -> str:
    return muscle.side if exercise.side == "affected" else exercise.side


def plan_for(hypotheses: Iterable[Hypothesis], catalog: Catalog | None = None) -> list[PlannedExercise]:
    """Exercises for the muscles the hypotheses name: release the short ones first, then hold the long.

    One entry per (exercise, side); when several hypotheses ask for the same one their reasons merge,
    and an exercise planned for both sides absorbs its one-side entries. No plan at all when a
    referral hypothesis says the picture points beyond muscle balance; a hypothesis whose confirmation
    test the therapist recorded as negative asks for nothing.
    """
    catalog = catalog or load_catalog()
    hypotheses = list(hypotheses)
    if any(h.kind == "referral" for h in hypotheses):
        return []
    hypotheses = [h for h in hypotheses if h.confirmed is not False]
    order: list[tuple[str, str]] = []
    why: dict[tuple[str, str], list[str]] = {}
    hyp_ids: dict[tuple[str, str], list[str]] = {}
    for role in ("short", "lengthened"):
        for hyp in hypotheses:
            for muscle in (hyp.short if role == "short" else hyp.lengthened):
                for ex in catalog.for_muscle(muscle.muscle, role):
                    key = (ex.id, _resolved_side(ex, muscle))
                    word = "shortened" if role == "short" else "lengthened (weak)"
                    reason = (f"{hyp.evidence.get('label') or hyp.metric} {_evidence_phrase(hyp)} suggests a "
                              f"{word} {muscle.label} ({hyp.confidence} confidence)")
                    if key not in why:
                        order.append(key)
                        why[key], hyp_ids[key] = [], []
                    if reason not in why[key]:
                        why[key].append(reason)
                    if hyp.id not in hyp_ids[key]:
                        hyp_ids[key].append(hyp.id)
    for eid, side in list(order):
        if side in ("left", "right") and (eid, "both") in why:
            order.remove((eid, side))
            why[(eid, "both")] += [w for w in why[(eid, side)] if w not in why[(eid, "both")]]
            hyp_ids[(eid, "both")] += [h for h in hyp_ids[(eid, side)] if h not in hyp_ids[(eid, "both")]]
    return [PlannedExercise(catalog.get(eid), side, tuple(why[(eid, side)]), tuple(hyp_ids[(eid, side)]))
            for eid, side in order]


def _evidence_phrase(hyp: Hypothesis) -> str:
    ev = hyp.evidence
    value, threshold, unit = ev.get("value"), ev.get("threshold"), ev.get("unit") or ""
    if isinstance(value, (int, float)) and isinstance(threshold, (int, float)):
        return f"({value:.1f}{unit} vs threshold {threshold:.1f}{unit})"
    return ""
