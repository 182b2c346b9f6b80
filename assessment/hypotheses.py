"""Flagged findings -> muscle-pair hypotheses ("suggests", never a diagnosis).

The rules live in ``assessment/data/rules.toml`` (clinical-reference.md §2) so a therapist can read and
change them without touching code. Muscle sides are stated relative to the finding's ``side`` (the
subject's higher / affected side), so a mirrored video gives the mirrored hypothesis.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from vision.errors import IsobalanceError

DATA_DIR = Path(__file__).resolve().parent / "data"
RULES_PATH = DATA_DIR / "rules.toml"
REFERENCES_PATH = DATA_DIR / "references.toml"
RULES_SCHEMA_VERSION = 1

SIDES = ("left", "right")
RELATIONS = ("same", "opposite", "both")
EVIDENCE_LEVELS = ("moderate", "weak")
VALUE_SIGNS = ("any", "positive", "negative")
ROLES = ("short", "lengthened")
# A value within this of its threshold is "near": 2-D angle SEMs are about 2-4° (FPPA vs 3-D, vision
# app SEM 1.7-3.5° [Ceballos23] [Schurr17]), so 2° is the smallest margin that is not noise. Units
# other than degrees use a share of the threshold instead (our inference).
NEAR_THRESHOLD_DEG = 2.0
NEAR_THRESHOLD_FRACTION = 0.10
OBLIQUE_HINTS = ("oblique", "unknown")


class RulesError(IsobalanceError):
    """The hypothesis rules or reference list are malformed."""


# ---------------------------------------------------------------------------------------- data types
@dataclass(frozen=True)
class Reference:
    key: str
    cite: str
    url: str = ""
    weak: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "cite": self.cite, "url": self.url, "weak": self.weak}


@dataclass(frozen=True)
class ConfirmationTest:
    id: str
    name: str
    how: str
    sources: tuple[str, ...]
    weak: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "how": self.how, "sources": list(self.sources),
                "weak": self.weak}


@dataclass(frozen=True)
class MuscleLink:
    """One muscle a rule names, with its side relative to the finding's side."""

    muscle: str
    relation: str  # same | opposite | both


@dataclass(frozen=True)
class Rule:
    id: str
    pattern: str
    metrics: tuple[str, ...]
    statement: str
    short: tuple[MuscleLink, ...]
    lengthened: tuple[MuscleLink, ...]
    tests: tuple[str, ...]
    evidence: str
    evidence_note: str
    sources: tuple[str, ...]
    value_sign: str = "any"   # any | positive | negative: which sign of the finding's value it covers

    def applies_to(self, value: Any) -> bool:
        if self.value_sign == "any":
            return True
        try:
            v = float(value)
        except (TypeError, ValueError):
            return False
        return v > 0 if self.value_sign == "positive" else v < 0


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    muscles: Mapping[str, str]                  # id -> display name
    tests: Mapping[str, ConfirmationTest]
    references: Mapping[str, Reference]

    def rule_for(self, metric: str) -> Rule | None:
        for rule in self.rules:
            if metric in rule.metrics:
                return rule
        return None

    def named_muscles(self) -> dict[str, set[str]]:
        """muscle id -> roles ("short"/"lengthened") in which some rule names it."""
        named: dict[str, set[str]] = {}
        for rule in self.rules:
            for role, links in (("short", rule.short), ("lengthened", rule.lengthened)):
                for link in links:
                    named.setdefault(link.muscle, set()).add(role)
        return named


@dataclass(frozen=True)
class MuscleSide:
    muscle: str
    name: str
    side: str   # left | right | both
    role: str   # short | lengthened

    @property
    def label(self) -> str:
        return self.name if self.side == "both" else f"{self.side} {self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"muscle": self.muscle, "name": self.name, "side": self.side, "role": self.role,
                "label": self.label}


@dataclass(frozen=True)
class Hypothesis:
    id: str
    rule: str
    pattern: str
    metric: str
    side: str | None
    statement: str
    short: tuple[MuscleSide, ...]
    lengthened: tuple[MuscleSide, ...]
    confidence: str                      # low | moderate
    confidence_reasons: tuple[str, ...]
    tests: tuple[ConfirmationTest, ...]
    evidence: dict[str, Any]             # the finding, as a plain dict
    evidence_note: str
    sources: tuple[str, ...]
    kind: str = "hypothesis"

    @property
    def muscles(self) -> tuple[MuscleSide, ...]:
        return self.short + self.lengthened

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "rule": self.rule, "pattern": self.pattern, "metric": self.metric,
            "side": self.side, "statement": self.statement,
            "short": [m.to_dict() for m in self.short],
            "lengthened": [m.to_dict() for m in self.lengthened],
            "confidence": self.confidence, "confidence_reasons": list(self.confidence_reasons),
            "confirmation_tests": [t.to_dict() for t in self.tests],
            "evidence": self.evidence, "evidence_note": self.evidence_note,
            "sources": list(self.sources), "kind": self.kind,
        }


# ---------------------------------------------------------------------------------------- loading
def _read_toml(path: Path, what: str, error: type[IsobalanceError]) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise error(f"{what} file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise error(f"cannot read {what} file {path}: {exc}") from None


def load_references(path: Path | str | None = None) -> dict[str, Reference]:
    path = Path(path) if path else REFERENCES_PATH
    raw = _read_toml(path, "reference list", RulesError).get("references", {})
    refs = {}
    for key, entry in raw.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("cite"), str):
            raise RulesError(f"reference {key!r} in {path} needs a 'cite' text")
        refs[key] = Reference(key, entry["cite"], entry.get("url", ""), bool(entry.get("weak", False)))
    return refs


def load_rules(path: Path | str | None = None, references: Mapping[str, Reference] | None = None) -> RuleSet:
    """Read and check the rules file; every muscle, test and source it names must exist."""
    path = Path(path) if path else RULES_PATH
    refs = dict(references) if references is not None else load_references()
    doc = _read_toml(path, "hypothesis rules", RulesError)
    problems: list[str] = []
    if doc.get("schema_version") != RULES_SCHEMA_VERSION:
        problems.append(f"schema_version must be {RULES_SCHEMA_VERSION}, found {doc.get('schema_version')!r}")
    muscles = doc.get("muscles", {})
    if not muscles or not all(isinstance(v, str) for v in muscles.values()):
        problems.append("[muscles] must map muscle ids to display names")

    def check_sources(where: str, keys: Iterable[str]) -> tuple[str, ...]:
        keys = tuple(keys)
        for k in keys:
            if k not in refs:
                problems.append(f"{where}: unknown source {k!r}")
        return keys

    tests = {}
    for tid, t in doc.get("tests", {}).items():
        if not all(isinstance(t.get(k), str) for k in ("name", "how")):
            problems.append(f"test {tid!r}: needs 'name' and 'how'")
            continue
        tests[tid] = ConfirmationTest(tid, t["name"], t["how"],
                                      check_sources(f"test {tid!r}", t.get("sources", [])),
                                      bool(t.get("weak", False)))
    rules = []
    seen_metrics: dict[str, str] = {}
    for i, r in enumerate(doc.get("rule", [])):
        rid = r.get("id", f"#{i + 1}")
        try:
            links = {}
            for role in ROLES:
                links[role] = tuple(MuscleLink(m["muscle"], m["side"]) for m in r.get(role, []))
                for link in links[role]:
                    if link.muscle not in muscles:
                        problems.append(f"rule {rid!r}: unknown muscle {link.muscle!r}")
                    if link.relation not in RELATIONS:
                        problems.append(f"rule {rid!r}: side {link.relation!r} must be one of {RELATIONS}")
            for tid in r.get("tests", []):
                if tid not in tests:
                    problems.append(f"rule {rid!r}: unknown confirmation test {tid!r}")
            if r.get("evidence") not in EVIDENCE_LEVELS:
                problems.append(f"rule {rid!r}: evidence must be one of {EVIDENCE_LEVELS}")
            if r.get("value_sign", "any") not in VALUE_SIGNS:
                problems.append(f"rule {rid!r}: value_sign must be one of {VALUE_SIGNS}")
            for m in r["metrics"]:
                if m in seen_metrics:
                    problems.append(f"rule {rid!r}: metric {m!r} already handled by rule {seen_metrics[m]!r}")
                seen_metrics[m] = rid
            rules.append(Rule(rid, r["pattern"], tuple(r["metrics"]), r["statement"], links["short"],
                              links["lengthened"], tuple(r.get("tests", [])), r["evidence"],
                              r.get("evidence_note", ""), check_sources(f"rule {rid!r}", r.get("sources", [])),
                              r.get("value_sign", "any")))
        except (KeyError, TypeError) as exc:
            problems.append(f"rule {rid!r}: missing or malformed field {exc}")
    if problems:
        raise RulesError(f"hypothesis rules {path} have {len(problems)} problem(s): " + "; ".join(problems))
    return RuleSet(tuple(rules), dict(muscles), tests, refs)


# ---------------------------------------------------------------------------------------- rules -> hypotheses
def _get(finding: Any, name: str, default: Any = None) -> Any:
    """Read a field from a Finding object or its to_dict() form."""
    if isinstance(finding, Mapping):
        return finding.get(name, default)
    return getattr(finding, name, default)


def _as_dict(finding: Any) -> dict[str, Any]:
    if isinstance(finding, Mapping):
        return dict(finding)
    return finding.to_dict()


def other_side(side: str) -> str:
    return {"left": "right", "right": "left"}[side]


def resolve_side(relation: str, finding_side: str | None) -> str:
    """Muscle side for a rule relation; 'both' when the rule is bilateral or the finding has no side."""
    if relation == "both" or finding_side not in SIDES:
        return "both"
    return finding_side if relation == "same" else other_side(finding_side)


def _half_width(ci: Any) -> float:
    """Half the width of an interval [lo, hi] (or a bare half-width); NaN when unknown."""
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        lo, hi = (float(v) if v is not None else math.nan for v in ci)
        return abs(hi - lo) / 2
    try:
        return abs(float(ci))
    except (TypeError, ValueError):
        return math.nan


def _near_margin(threshold: float, unit: str | None) -> float:
    unit = (unit or "").strip().lower()
    return NEAR_THRESHOLD_DEG if unit in ("deg", "°", "degrees") else NEAR_THRESHOLD_FRACTION * abs(threshold)


def _confidence(rule: Rule, finding: Any, refs: Mapping[str, Reference]) -> tuple[str, tuple[str, ...]]:
    """'moderate' only for a sourced pattern measured clearly past its threshold in a proper view."""
    reasons: list[str] = []
    if rule.evidence == "weak":
        reasons.append("the muscle pattern rests on expert opinion or inference (⚠)")
    source = str(_get(finding, "threshold_source", "") or "")
    if "⚠" in source or any(k in source and r.weak for k, r in refs.items()):
        reasons.append("the threshold comes from a weak or unvalidated source (⚠)")
    value, threshold = _get(finding, "value"), _get(finding, "threshold")
    try:
        value, threshold = float(value), float(threshold)
    except (TypeError, ValueError):
        value = threshold = math.nan
    if math.isfinite(value) and math.isfinite(threshold):
        unc = _get(finding, "uncertainty") or {}
        margin = max(v for v in (_half_width(unc.get("ci95")), _half_width(unc.get("iqr")),
                                 _near_margin(threshold, _get(finding, "unit", ""))) if math.isfinite(v))
        distance = abs(abs(value) - abs(threshold))
        if distance <= margin:
            unit = _get(finding, "unit", "") or ""
            reasons.append(f"the value {value:.1f}{unit} is within {margin:.1f}{unit} of the "
                           f"{threshold:.1f}{unit} threshold")
    view = str(_get(finding, "view", "") or "").lower()
    if any(h in view for h in OBLIQUE_HINTS):
        reasons.append(f"the camera view was {view}, not a square-on view")
    if _get(finding, "side") not in SIDES and any(
            link.relation != "both" for link in rule.short + rule.lengthened):
        reasons.append("the finding does not say which side is affected")
    return ("low" if reasons else "moderate"), tuple(reasons)


def hypothesize(findings: Iterable[Any], rules: RuleSet | None = None) -> list[Hypothesis]:
    """One hypothesis per flagged finding that a rule covers, in the findings' order."""
    rules = rules or load_rules()
    out = []
    for finding in findings:
        if _get(finding, "status") != "flagged":
            continue
        metric = _get(finding, "metric")
        rule = rules.rule_for(metric)
        if rule is None or not rule.applies_to(_get(finding, "value")):
            continue
        side = _get(finding, "side")
        side = side if side in SIDES else None

        def muscles(links: tuple[MuscleLink, ...], role: str) -> tuple[MuscleSide, ...]:
            return tuple(MuscleSide(l.muscle, rules.muscles[l.muscle], resolve_side(l.relation, side), role)
                         for l in links)

        confidence, reasons = _confidence(rule, finding, rules.references)
        statement = rule.statement.format(side=side or "affected",
                                          other=other_side(side) if side else "affected")
        out.append(Hypothesis(
            id=f"{rule.id}:{_get(finding, 'kind', 'static') or 'static'}:{metric}", rule=rule.id, pattern=rule.pattern, metric=metric, side=side,
            statement=statement, short=muscles(rule.short, "short"),
            lengthened=muscles(rule.lengthened, "lengthened"), confidence=confidence,
            confidence_reasons=reasons, tests=tuple(rules.tests[t] for t in rule.tests),
            evidence=_as_dict(finding), evidence_note=rule.evidence_note, sources=rule.sources))
    return out
