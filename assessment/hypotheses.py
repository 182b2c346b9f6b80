"""Flagged findings -> muscle-pair hypotheses ("suggests", never a diagnosis), judged together.

The rules live in ``assessment/data/rules.toml`` (clinical-reference.md §2) so a therapist can read and
change them without touching code. Muscle sides are stated relative to the finding's ``side`` (the
subject's higher / affected side), so a mirrored video gives the mirrored hypothesis.

Findings are not judged one at a time (``hypothesize``):

1. one hypothesis per flagged finding a rule covers;
2. contradictory sides: two whole-body asymmetries (line tilts, trunk lean) that name the same muscle
   short on opposite sides cannot both be right. If one rule is ``explained_by`` the other (a trunk
   lean toward the lower hip is what a lateral pelvic tilt carries with it) that rule's hypothesis is
   folded in; otherwise the muscle is left unresolved on both sides and not treated;
3. duplicates (the same rule and the same muscle sides, e.g. both CVA proxies) merge into one
   hypothesis with several findings as evidence;
4. referral: shoulder, pelvis and trunk asymmetry flagged together, or one frontal asymmetry of
   ``LARGE_ASYMMETRY_DEG`` or more, point beyond muscle balance (scoliosis, leg length): a referral
   hypothesis is added and ``assessment.exercises.plan_for`` then plans no exercise;
5. confidence (``decide_confidence``): every hypothesis starts low; it rises to moderate only with
   agreeing evidence - several findings, the same hypothesis in earlier sessions, a confirmation test
   the therapist recorded as positive - and never while a measurement-quality problem stands.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
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
# Whole-body frontal asymmetries: one body has one lateral direction, so two of them naming the same
# muscle short on opposite sides contradict each other (per-limb metrics such as knee FPPA do not).
WHOLE_BODY_ASYMMETRIES = ("head_tilt", "shoulder_line_tilt", "pelvis_line_tilt", "trunk_lateral_lean")
# Referral (our inference, ⚠: no published referral rule for 2-D photos was found). Shoulder, pelvis
# and trunk asymmetry together is the picture of a structural curve or a leg-length difference, which
# muscle balancing does not treat; bone shape alone gives up to 16 mm pelvic height difference
# [Preece08] and asymmetry is common without symptoms [Krawiec03] [Ferreira11].
REFERRAL_COMBINATION = ("shoulder_line_tilt", "pelvis_line_tilt", "trunk_lateral_lean")
# Twice the 5-deg single-reading error bound (assessment.thresholds.SINGLE_READING_ERROR_DEG): a tilt
# this large is unlikely to be a muscle-tone asymmetry alone (⚠ inference, no published cut-off).
LARGE_ASYMMETRY_DEG = 10.0
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
    explained_by: str = ""    # rule id whose hypothesis stands when the two contradict (see module doc)

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
    confidence_reasons: tuple[str, ...]  # why this confidence: what agrees, what holds it back
    tests: tuple[ConfirmationTest, ...]
    evidence: dict[str, Any]             # the (first) finding, as a plain dict
    evidence_note: str
    sources: tuple[str, ...]
    kind: str = "hypothesis"             # hypothesis | referral
    supporting: tuple[dict[str, Any], ...] = ()   # further agreeing findings (merged duplicates)
    notes: tuple[str, ...] = ()          # contradictions resolved, findings folded in
    confirmed: bool | None = None        # the therapist's confirmation test: True / False / not recorded

    @property
    def muscles(self) -> tuple[MuscleSide, ...]:
        return self.short + self.lengthened

    @property
    def key(self) -> str:
        """Stable across sessions and mirror-aware: rule and side (how earlier sessions and the
        therapist's recorded tests are matched)."""
        return hypothesis_key(self.rule, self.side)

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,) + tuple(str(f.get("metric")) for f in self.supporting)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "rule": self.rule, "pattern": self.pattern, "metric": self.metric,
            "side": self.side, "statement": self.statement,
            "short": [m.to_dict() for m in self.short],
            "lengthened": [m.to_dict() for m in self.lengthened],
            "confidence": self.confidence, "confidence_reasons": list(self.confidence_reasons),
            "confirmation_tests": [t.to_dict() for t in self.tests],
            "evidence": self.evidence, "evidence_note": self.evidence_note,
            "sources": list(self.sources), "kind": self.kind, "key": self.key,
            "supporting": list(self.supporting), "notes": list(self.notes), "confirmed": self.confirmed,
        }


def hypothesis_key(rule: str, side: str | None) -> str:
    return f"{rule}:{side or 'both'}"


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
            if r.get("explained_by") and r["explained_by"] not in {x.get("id") for x in doc.get("rule", [])}:
                problems.append(f"rule {rid!r}: explained_by {r['explained_by']!r} is not a rule id")
            if r.get("value_sign", "any") not in VALUE_SIGNS:
                problems.append(f"rule {rid!r}: value_sign must be one of {VALUE_SIGNS}")
            for m in r["metrics"]:
                if m in seen_metrics:
                    problems.append(f"rule {rid!r}: metric {m!r} already handled by rule {seen_metrics[m]!r}")
                seen_metrics[m] = rid
            rules.append(Rule(rid, r["pattern"], tuple(r["metrics"]), r["statement"], links["short"],
                              links["lengthened"], tuple(r.get("tests", [])), r["evidence"],
                              r.get("evidence_note", ""), check_sources(f"rule {rid!r}", r.get("sources", [])),
                              r.get("value_sign", "any"), r.get("explained_by", "")))
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


def quality_problems(rule: Rule, finding: Any) -> list[str]:
    """Measurement-quality reasons that keep a hypothesis at low confidence whatever agrees with it."""
    reasons: list[str] = []
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
    return reasons


def _weakness(rule: Rule, finding: Any, refs: Mapping[str, Reference]) -> list[str]:
    """Why the evidence behind a hypothesis is weak (it then needs more agreement to rise)."""
    reasons: list[str] = []
    if rule.evidence == "weak":
        reasons.append("the muscle pattern rests on expert opinion or inference (⚠)")
    source = str(_get(finding, "threshold_source", "") or "")
    if "⚠" in source or any(k in source and r.weak for k, r in refs.items()):
        reasons.append("the threshold comes from a weak or unvalidated source (⚠)")
    if "beyond measurement error" in source:
        reasons.append("no normal range is published: the flag marks an asymmetry beyond measurement error, "
                       "not an abnormality")
    return reasons


def decide_confidence(weak: bool, quality: list[str], agreeing: list[str], confirmed: bool | None,
                      weakness: list[str]) -> tuple[str, tuple[str, ...]]:
    """Low unless evidence agrees; every reason, for and against, is returned.

    Points: several findings this session +1; the same hypothesis in an earlier session +1; the
    therapist's confirmation test positive +2. A sourced pattern needs 1 point, a weak (expert
    opinion) pattern 2 - i.e. two kinds of agreement or a positive test. A measurement-quality
    problem or a negative test keeps it low.
    """
    points = sum(2 if a.startswith("the therapist") else 1 for a in agreeing)
    need = 2 if weak else 1
    reasons = [f"+ {a}" for a in agreeing] + [f"- {w}" for w in weakness] + [f"- {q}" for q in quality]
    if confirmed is False:
        reasons.append("- the therapist's confirmation test was negative: not supported")
    if quality or confirmed is False or points < need:
        if not agreeing and confirmed is not False:
            reasons.append("- no agreeing evidence yet (one finding, one session, no confirmation test recorded)")
        elif points < need and not quality and confirmed is not False:
            reasons.append(f"- agreeing evidence counts {points} of the {need} this pattern needs")
        return "low", tuple(reasons)
    return "moderate", tuple(reasons)


def _earlier_keys(earlier_sessions: Iterable[Iterable[Any]]) -> list[set[str]]:
    out = []
    for session in earlier_sessions:
        keys = set()
        for h in session:
            kind = _get(h, "kind", "hypothesis")
            if kind == "hypothesis" and _get(h, "confirmed") is not False:
                keys.add(hypothesis_key(_get(h, "rule"), _get(h, "side")))
        out.append(keys)
    return out


def _single(finding: Any, rule: Rule, rules: RuleSet) -> Hypothesis:
    side = _get(finding, "side")
    side = side if side in SIDES else None
    metric = _get(finding, "metric")

    def muscles(links: tuple[MuscleLink, ...], role: str) -> tuple[MuscleSide, ...]:
        return tuple(MuscleSide(l.muscle, rules.muscles[l.muscle], resolve_side(l.relation, side), role)
                     for l in links)

    statement = rule.statement.format(side=side or "affected", other=other_side(side) if side else "affected")
    return Hypothesis(
        id=f"{rule.id}:{_get(finding, 'kind', 'static') or 'static'}:{metric}", rule=rule.id, pattern=rule.pattern,
        metric=metric, side=side, statement=statement, short=muscles(rule.short, "short"),
        lengthened=muscles(rule.lengthened, "lengthened"), confidence="low", confidence_reasons=(),
        tests=tuple(rules.tests[t] for t in rule.tests), evidence=_as_dict(finding),
        evidence_note=rule.evidence_note, sources=rule.sources)


def _resolve_contradictions(hyps: list[Hypothesis], rules: RuleSet) -> list[Hypothesis]:
    """Whole-body asymmetries naming one muscle short on opposite sides (see module doc, step 2)."""
    by_rule = {r.id: r for r in rules.rules}
    out = list(hyps)
    changed = True
    while changed:
        changed = False
        for i, a in enumerate(out):
            for j, b in enumerate(out):
                if i >= j or a.rule == b.rule or not ({a.metric, b.metric} <= set(WHOLE_BODY_ASYMMETRIES)):
                    continue
                clash = {(m.muscle, m.role) for m in a.muscles if m.side in SIDES} & {
                    (m.muscle, m.role) for m in b.muscles if m.side in SIDES
                    and any(x.muscle == m.muscle and x.role == m.role and x.side == other_side(m.side)
                            for x in a.muscles)}
                if not clash:
                    continue
                names = ", ".join(sorted(rules.muscles[m] for m, _ in clash))
                for keep, fold in ((a, b), (b, a)):
                    if by_rule[fold.rule].explained_by == keep.rule:
                        note = (f"{fold.evidence.get('label') or fold.metric} ({fold.evidence.get('direction', '')}) "
                                f"is what the {keep.pattern.lower()} carries with it, so it is not read as a "
                                f"separate {names} finding")
                        out[out.index(keep)] = replace(keep, notes=keep.notes + (note,))
                        out.remove(fold)
                        break
                else:
                    note = (f"contradictory sides: {a.pattern.lower()} and {b.pattern.lower()} name the {names} on "
                            f"opposite sides; left unresolved and untreated until a therapist confirms a side")
                    out[i] = _drop_muscles(a, clash, note)
                    out[j] = _drop_muscles(b, clash, note)
                changed = True
                break
            if changed:
                break
    return out


def _drop_muscles(h: Hypothesis, clash: set[tuple[str, str]], note: str) -> Hypothesis:
    keep = lambda ms: tuple(m for m in ms if (m.muscle, m.role) not in clash)  # noqa: E731
    return replace(h, short=keep(h.short), lengthened=keep(h.lengthened), notes=h.notes + (note,))


def _merge_duplicates(hyps: list[Hypothesis]) -> list[Hypothesis]:
    """Same rule and same muscle sides: one hypothesis, several findings."""
    out: list[Hypothesis] = []
    for h in hyps:
        for k, o in enumerate(out):
            if o.rule == h.rule and set(o.muscles) == set(h.muscles):
                out[k] = replace(o, supporting=o.supporting + (h.evidence,) + h.supporting,
                                 notes=o.notes + h.notes)
                break
        else:
            out.append(h)
    return out


def _agreement(h: Hypothesis, hyps: list[Hypothesis], earlier: list[set[str]]) -> list[str]:
    agreeing = []
    others = [o for o in hyps if o is not h and o.kind == "hypothesis" and o.rule != h.rule
              and {(m.muscle, m.role, m.side) for m in o.muscles if m.side in SIDES}
              & {(m.muscle, m.role, m.side) for m in h.muscles if m.side in SIDES}]
    labels = [h.evidence.get("label") or h.metric] + [f.get("label") or f.get("metric") for f in h.supporting]
    labels += [o.evidence.get("label") or o.metric for o in others]
    if len(labels) >= 2:
        agreeing.append(f"{len(labels)} findings agree ({', '.join(labels)})")
    seen = sum(h.key in keys for keys in earlier)
    if seen:
        agreeing.append(f"the same hypothesis was made in {seen} earlier session{'s' if seen > 1 else ''}")
    if h.confirmed:
        agreeing.append("the therapist recorded a positive confirmation test")
    return agreeing


def _referral(flagged: list[Any], rules: RuleSet) -> Hypothesis | None:
    by_metric = {_get(f, "metric"): f for f in flagged}
    reasons = []
    if all(m in by_metric for m in REFERRAL_COMBINATION):
        reasons.append("shoulder, pelvis and trunk asymmetry together")
    for m in WHOLE_BODY_ASYMMETRIES:
        f = by_metric.get(m)
        try:
            v = abs(float(_get(f, "value"))) if f is not None else math.nan
        except (TypeError, ValueError):
            v = math.nan
        if v >= LARGE_ASYMMETRY_DEG:
            reasons.append(f"a large {(_get(f, 'label') or m).lower()} ({v:.1f} deg, {LARGE_ASYMMETRY_DEG:g} deg "
                           "or more)")
    if not reasons:
        return None
    first = next(f for f in flagged if _get(f, "metric") in WHOLE_BODY_ASYMMETRIES)
    others = tuple(_as_dict(f) for f in flagged if f is not first and _get(f, "metric") in WHOLE_BODY_ASYMMETRIES)
    statement = (f"{'; '.join(reasons).capitalize()} suggests a cause beyond muscle balance, such as a spinal "
                 "curve (scoliosis) or a leg-length difference: see a physiotherapist or doctor before starting "
                 "exercises. No exercise plan is suggested.")
    return Hypothesis(
        id="referral", rule="referral", pattern="See a professional first", metric=_get(first, "metric"),
        side=None, statement=statement, short=(), lengthened=(), confidence="low",
        confidence_reasons=("- which combinations need a referral is our inference; no published referral rule "
                            "for 2-D posture photos was found (⚠)",),
        tests=(rules.tests["professional_exam"],), evidence=_as_dict(first),
        evidence_note="Structural asymmetry (bone shape, leg length, spinal curve) is common and is not "
                      "changed by muscle-balancing exercises (⚠ inference).",
        sources=rules.tests["professional_exam"].sources, kind="referral", supporting=others)


def hypothesize(findings: Iterable[Any], rules: RuleSet | None = None, *,
                earlier_sessions: Iterable[Iterable[Any]] = (),
                confirmations: Mapping[str, bool] | None = None) -> list[Hypothesis]:
    """Hypotheses for the flagged findings, judged together (see the module docstring).

    ``earlier_sessions``: the hypotheses (objects or dicts) of each earlier session of this person.
    ``confirmations``: hypothesis key (``rule:side``, see ``Hypothesis.key``) -> the therapist's
    confirmation test result. A referral, when there is one, comes first.
    """
    rules = rules or load_rules()
    confirmations = dict(confirmations or {})
    flagged = [f for f in findings if _get(f, "status") == "flagged"]
    raw: list[tuple[Hypothesis, Rule, Any]] = []
    for finding in flagged:
        rule = rules.rule_for(_get(finding, "metric"))
        if rule is None or not rule.applies_to(_get(finding, "value")):
            continue
        raw.append((_single(finding, rule, rules), rule, finding))
    hyps = _merge_duplicates(_resolve_contradictions([h for h, _, _ in raw], rules))
    earlier = _earlier_keys(earlier_sessions)
    by_rule = {r.id: r for r in rules.rules}
    out = []
    for h in hyps:
        rule = by_rule[h.rule]
        findings_of = [h.evidence, *h.supporting]
        quality = [q for f in findings_of for q in quality_problems(rule, f)]
        quality += [n for n in h.notes if n.startswith("contradictory")]
        weakness = list(dict.fromkeys(w for f in findings_of for w in _weakness(rule, f, rules.references)))
        h = replace(h, confirmed=confirmations.get(h.key))
        confidence, reasons = decide_confidence(rule.evidence == "weak", quality, _agreement(h, hyps, earlier),
                                                h.confirmed, weakness)
        out.append(replace(h, confidence=confidence, confidence_reasons=reasons))
    referral = _referral(flagged, rules)
    return ([referral] if referral else []) + out
