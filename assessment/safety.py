"""Safety before an isometric exercise: the red-flag screen, pain 0-10 with a stop rule, the blood
pressure caution, and therapist-only techniques. Pure functions over ``data/safety.toml`` and the
exercise catalog; the dashboard and ``isobalance hold`` only ask the questions and show the answers.

* any red flag answered yes (or left unanswered) stops: see a professional, no exercise;
* pain: no start at ``no_start_at``/10 or more; after an exercise, stop when pain rose by
  ``stop_rise`` points or reached ``stop_at``;
* a technique marked ``therapist_only`` in the catalog (SCM PIR: extension with rotation of the neck;
  pectoralis minor MET: applied by the therapist) starts only once a therapist has confirmed the
  hypothesis it treats - i.e. it is in a plan the therapist saved for this patient.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from assessment.hypotheses import DATA_DIR, _read_toml
from vision.errors import IsobalanceError

SAFETY_PATH = DATA_DIR / "safety.toml"
SEE_PROFESSIONAL = ("Please do not start these exercises: see a physiotherapist or doctor first and tell "
                    "them about: {what}. If symptoms are severe or sudden, seek urgent care.")


class SafetyStop(IsobalanceError):
    """The safety screen stops the exercise (a red flag, too much pain, or a therapist-only technique)."""

    exit_code = 5


@dataclass(frozen=True)
class RedFlag:
    id: str
    question: str


@dataclass(frozen=True)
class PainRule:
    no_start_at: int
    stop_rise: int
    stop_at: int


@dataclass(frozen=True)
class SafetyRules:
    red_flags: tuple[RedFlag, ...]
    pain: PainRule
    bp_caution: str
    bp_sources: tuple[str, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.red_flags)


def load_safety(path: Path | str | None = None) -> SafetyRules:
    path = Path(path) if path else SAFETY_PATH
    doc = _read_toml(path, "safety rules", SafetyStop)
    try:
        flags = tuple(RedFlag(str(f["id"]), str(f["question"])) for f in doc["red_flag"])
        pain = PainRule(int(doc["pain"]["no_start_at"]), int(doc["pain"]["stop_rise"]), int(doc["pain"]["stop_at"]))
        bp = doc["blood_pressure"]
        return SafetyRules(flags, pain, str(bp["caution"]), tuple(bp.get("sources", ())))
    except (KeyError, TypeError, ValueError) as exc:
        raise SafetyStop(f"safety rules file {path} is malformed ({exc}); it needs [[red_flag]], [pain], "
                         "[blood_pressure]") from None


@dataclass(frozen=True)
class Decision:
    ok: bool
    message: str
    reasons: tuple[str, ...] = ()

    def raise_if_stopped(self) -> None:
        if not self.ok:
            raise SafetyStop(self.message)


def screen(answers: Mapping[str, bool | None], rules: SafetyRules | None = None) -> Decision:
    """Red-flag screen: every question must be answered; any yes stops."""
    rules = rules or load_safety()
    unknown = sorted(set(answers) - set(rules.ids))
    if unknown:
        return Decision(False, f"unknown red-flag question(s) {', '.join(unknown)}; the questions are: "
                               f"{', '.join(rules.ids)}")
    missing = [f.id for f in rules.red_flags if answers.get(f.id) is None]
    if missing:
        return Decision(False, "Answer every safety question before starting (unanswered: "
                               + ", ".join(m.replace("_", " ") for m in missing) + ").")
    yes = [f for f in rules.red_flags if answers[f.id]]
    if yes:
        what = "; ".join(f.question.rstrip("?").split(" - ")[0] for f in yes)
        return Decision(False, SEE_PROFESSIONAL.format(what=what.lower()), tuple(f.id for f in yes))
    return Decision(True, "No red flag: you may go on.")


def _check_score(score: Any, what: str) -> int:
    if isinstance(score, bool) or not isinstance(score, (int, float)) or score != int(score) or not 0 <= score <= 10:
        raise SafetyStop(f"{what} must be a whole number from 0 (no pain) to 10 (worst imaginable), got {score!r}")
    return int(score)


def pain_before(score: Any, rules: SafetyRules | None = None) -> Decision:
    rules = rules or load_safety()
    s = _check_score(score, "pain before the exercise")
    if s >= rules.pain.no_start_at:
        return Decision(False, f"Pain {s}/10 is too much to start isometric exercises: see a physiotherapist or "
                               "doctor first.", ("pain_before",))
    return Decision(True, f"Pain {s}/10 before: you may start; stop at once if it gets worse.")


def pain_after(before: Any, after: Any, rules: SafetyRules | None = None) -> Decision:
    """After one exercise: stop the session when pain rose by ``stop_rise`` or reached ``stop_at``."""
    rules = rules or load_safety()
    b, a = _check_score(before, "pain before the exercise"), _check_score(after, "pain after the exercise")
    if a >= rules.pain.stop_at or a - b >= rules.pain.stop_rise:
        return Decision(False, f"Pain went from {b}/10 to {a}/10: stop the exercises for today and tell your "
                               "therapist before doing them again.", ("pain_after",))
    return Decision(True, f"Pain {b}/10 before, {a}/10 after: fine to go on.")


def may_start(exercise: Any, therapist_confirmed: bool) -> Decision:
    """A therapist-only technique needs the therapist's confirmation (a plan they saved)."""
    if getattr(exercise, "therapist_only", False) and not therapist_confirmed:
        return Decision(False, f"{exercise.name} is a therapist-only technique: it can be started only once a "
                               "therapist has confirmed the finding it treats and put it in your plan.",
                        ("therapist_only",))
    return Decision(True, "")


def pain_record(before: Any, after: Any | None, rules: SafetyRules | None = None) -> dict[str, Any]:
    """What is saved with a hold (``context.safety``): pain before and after and the stop rule's answer
    (``pain_after`` None = not given; the rule then has nothing to judge)."""
    b = _check_score(before, "pain before the exercise")
    if after is None:
        return {"red_flags": "none", "pain_before": b, "pain_after": None, "stop": None, "pain_message": ""}
    decision = pain_after(b, after, rules)
    return {"red_flags": "none", "pain_before": b, "pain_after": int(after), "stop": not decision.ok,
            "pain_message": decision.message}
