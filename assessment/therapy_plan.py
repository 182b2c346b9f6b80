"""The therapist's plan for one patient: exercises, each with its side resolved and its dose.

A suggested plan (``assessment.exercises.plan_for``) is a starting point; the therapist edits it in the
review page and saves it for the patient (``store.plans``), or writes it to a JSON file. The guided
exercise page and ``isobalance hold --plan FILE`` / ``--patient ID`` then run exactly these items: the
side is left, right or both - never "affected" - and the dose is the therapist's, not the catalog's.
Saving a plan is the therapist confirming the hypotheses behind it, which is what lets a
therapist-only technique start (``assessment.safety.may_start``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from assessment.exercises import Catalog, Exercise, load_catalog
from assessment.hold import HoldProtocol
from vision.errors import IsobalanceError

PLAN_SIDES = ("left", "right", "both")
PLAN_KIND = "isobalance.plan"
# Effort never above half of maximal: MET "never > 1/2" [Chaitow-MBB]; isometric strengthening gained most
# at 50% MVC [IsoIntensity] (clinical-reference.md section 3). The catalog's highest is 50% too.
MAX_EFFORT_PCT = 50.0


class PlanError(IsobalanceError):
    """A plan file or plan item is malformed or names something the catalog does not have."""


@dataclass(frozen=True)
class PlanItem:
    exercise_id: str
    side: str                 # left | right | both
    hold_s: float
    relax_s: float
    stretch_s: float
    repetitions: int
    per_week: int = 7         # sessions a week the therapist asks for (adherence = done / per_week)
    note: str = ""
    effort_pct: tuple[float, float] | None = None   # % of maximal effort [low, high]; None = the catalog's

    @property
    def label(self) -> str:
        return f"{self.exercise_id} ({self.side})"

    def effort(self, catalog: Catalog | None = None) -> tuple[float, float]:
        """The therapist's effort range, or the catalog's when the plan does not set one."""
        return self.effort_pct or (catalog or load_catalog()).get(self.exercise_id).effort_pct

    def protocol(self, catalog: Catalog | None = None) -> HoldProtocol:
        """The hold protocol with the therapist's dose and the catalog's watched joints."""
        ex = (catalog or load_catalog()).get(self.exercise_id)
        base = HoldProtocol.from_exercise(ex)
        return HoldProtocol(base.exercise_id, hold_s=self.hold_s, relax_s=self.relax_s, stretch_s=self.stretch_s,
                            repetitions=self.repetitions, still_landmarks=base.still_landmarks,
                            still_angles=base.still_angles, name=f"{base.name} ({self.side})",
                            technique=base.technique, barrier_angle=base.barrier_angle)


@dataclass(frozen=True)
class TherapyPlan:
    items: tuple[PlanItem, ...]
    patient_id: str = ""
    note: str = ""
    saved_utc: str = ""
    plan_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": PLAN_KIND, "version": 1, "patient_id": self.patient_id, "note": self.note,
                "saved_utc": self.saved_utc, "plan_id": self.plan_id, "items": [asdict(i) for i in self.items]}

    def save_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        return path

    def item(self, exercise_id: str | None = None, side: str | None = None) -> PlanItem:
        """The item to run: the one named (and side), or the only one; a clear error otherwise."""
        found = [i for i in self.items if (exercise_id is None or i.exercise_id == exercise_id)
                 and (side is None or i.side == side)]
        if len(found) == 1:
            return found[0]
        listing = ", ".join(i.label for i in self.items)
        if not found:
            raise PlanError(f"the plan has no item {exercise_id or ''} {side or ''}".strip() + f"; it has: {listing}")
        raise PlanError(f"the plan has {len(found)} matching items ({listing}); choose one with --exercise "
                        "(and --side)")


def _num(raw: Mapping[str, Any], key: str, where: str, whole: bool = False, minimum: float = 0.0) -> float:
    v = raw.get(key)
    ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= minimum
          and (not whole or v == int(v)))
    if not ok:
        raise PlanError(f"{where}: {key} must be a {'whole ' if whole else ''}number >= {minimum:g}, got {v!r}")
    return int(v) if whole else float(v)


def item_from_dict(raw: Any, where: str, catalog: Catalog) -> PlanItem:
    if not isinstance(raw, Mapping):
        raise PlanError(f"{where}: not an object")
    ex_id = raw.get("exercise_id")
    if not isinstance(ex_id, str):
        raise PlanError(f"{where}: exercise_id missing")
    try:
        ex = catalog.get(ex_id)
    except IsobalanceError as exc:
        raise PlanError(f"{where}: {exc}") from None
    side = raw.get("side")
    if side not in PLAN_SIDES:
        raise PlanError(f"{where}: side must be one of {', '.join(PLAN_SIDES)} (resolved by the therapist), "
                        f"got {side!r}")
    if ex.side == "both" and side != "both":
        raise PlanError(f"{where}: {ex_id} is done on both sides; side must be 'both'")
    if ex.side != "both" and side == "both" and ex.side not in ("affected", "both"):
        raise PlanError(f"{where}: {ex_id} is done on the {ex.side} side only")
    stretch = _num(raw, "stretch_s", where)
    if ex.technique == "isometric" and stretch != 0:
        raise PlanError(f"{where}: a plain isometric has no stretch phase (stretch_s must be 0)")
    return PlanItem(ex_id, side, _num(raw, "hold_s", where, minimum=1), _num(raw, "relax_s", where), stretch,
                    int(_num(raw, "repetitions", where, whole=True, minimum=1)),
                    int(_num(raw, "per_week", where, whole=True, minimum=1)) if "per_week" in raw else 7,
                    str(raw.get("note", "") or ""), _effort(raw.get("effort_pct"), where))


def _effort(raw: Any, where: str) -> tuple[float, float] | None:
    if raw is None:
        return None
    ok = (isinstance(raw, (list, tuple)) and len(raw) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= MAX_EFFORT_PCT for v in raw)
          and raw[0] <= raw[1])
    if not ok:
        raise PlanError(f"{where}: effort_pct must be [low, high] percentages of maximal effort within "
                        f"0-{MAX_EFFORT_PCT:g}, low <= high, got {raw!r}")
    return float(raw[0]), float(raw[1])


def plan_from_dict(doc: Any, catalog: Catalog | None = None) -> TherapyPlan:
    catalog = catalog or load_catalog()
    if not isinstance(doc, Mapping) or doc.get("kind") != PLAN_KIND:
        raise PlanError(f"not an isobalance plan (expected \"kind\": \"{PLAN_KIND}\")")
    raw_items = doc.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise PlanError("the plan has no items")
    items = tuple(item_from_dict(r, f"plan item {k + 1}", catalog) for k, r in enumerate(raw_items))
    return TherapyPlan(items, str(doc.get("patient_id", "") or ""), str(doc.get("note", "") or ""),
                       str(doc.get("saved_utc", "") or ""), str(doc.get("plan_id", "") or ""))


def load_plan(path: str | Path, catalog: Catalog | None = None) -> TherapyPlan:
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError(f"plan file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"plan file {path} cannot be read as JSON: {exc}") from None
    return plan_from_dict(doc, catalog)


def item_for(exercise: Exercise, side: str, dose: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A plan item dict from a catalog exercise, its resolved side and an edited dose."""
    dose = dict(dose or {})
    return {"exercise_id": exercise.id, "side": side,
            "hold_s": float(dose.get("hold_s", exercise.hold_s)), "relax_s": float(dose.get("relax_s", exercise.relax_s)),
            "stretch_s": float(dose.get("stretch_s", exercise.stretch_s)),
            "repetitions": int(dose.get("repetitions", exercise.repetitions)),
            "per_week": int(dose.get("per_week", 7)), "note": str(dose.get("note", "") or ""),
            "effort_pct": list(dose.get("effort_pct", exercise.effort_pct))}


def plan_of(items: Iterable[Mapping[str, Any]], patient_id: str = "", note: str = "",
            catalog: Catalog | None = None) -> TherapyPlan:
    return plan_from_dict({"kind": PLAN_KIND, "items": list(items), "patient_id": patient_id, "note": note}, catalog)
