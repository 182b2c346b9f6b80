"""Flag thresholds, each with its value, unit, direction, source keys and the quantity the cited
figure was published for (clinical-reference.md).

Why a table: every flag must be traceable to a published figure, and a reader must see at once
which thresholds are weak (⚠). Three rules a clinician would insist on:

* a cut-off is applied only to the quantity it was published for. The clinical CVA cut-off (50 deg,
  C7 -> tragus) is not applied to our shoulder-joint -> ear proxy, and the drop-jump FPPA norms are not
  applied to squats: those metrics are reported, never flagged, and ``published_for`` says why;
* a minimal detectable change (MDC) says how large a *change between sessions* must be to be real
  (``store.progress.MDC``); it is not a boundary of normal;
* side-view metrics (CVA proxy, forward head offset, knee hyperextension, trunk flexion) stay
  reported-only until validated against a reference (none is, for MediaPipe).

Where no normal range exists for a frontal asymmetry, the flag (``basis == "measurement error"``) marks
an asymmetry larger than a single 2-D measurement can invent, never an abnormality; the hypotheses it
leads to say so and start at low confidence.

Directions: ``"abs"`` flags |value| > threshold (left/right asymmetry, either side);
``"below"`` flags value < threshold; ``"above"`` flags value > threshold.
``value=None`` = reported only, never flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

WEAK = "⚠"

# Minimal detectable change of a 2-D posture-app angle: for CHANGE between sessions only
# (CVA app MDC 5.0 deg intra-rater [Gallego20]; FPPA app MDC 4.7-9.7 deg [Ceballos23]).
POSTURE_ANGLE_MDC_DEG = 5.0
# Error of one 2-D angle measurement: standard error of measurement of a vision-app angle, SEM 1.7-3.5
# deg [Ceballos23] (2-D vs 3-D FPPA SEM 2-4 deg [Gwynne14] agrees); 2.5 deg is the middle of that range
# (our choice, ⚠: measured for FPPA, not for line tilts). A single reading differs from level (0 deg)
# beyond its error at 95% when |value| > 1.96 x SEM = 4.9 ~ 5 deg.
ANGLE_SEM_DEG = 2.5
SINGLE_READING_ERROR_DEG = 5.0     # 1.96 x ANGLE_SEM_DEG, rounded


@dataclass(frozen=True)
class Threshold:
    metric: str
    value: float | None
    unit: str
    direction: str          # "abs" | "below" | "above"
    source: str             # keys from clinical-reference.md and the figure used
    weak: bool = False      # True = no validated cut-off (⚠)
    published_for: str = "" # the quantity the cited figure was published for (and why it is or is not used)

    @property
    def source_text(self) -> str:
        return f"{WEAK} {self.source}" if self.weak else self.source

    @property
    def flags(self) -> bool:
        return self.value is not None

    @property
    def basis(self) -> str:
        """What a flag means: 'published cut-off', 'measurement error' (asymmetry beyond what the
        measurement can invent, not an abnormality) or 'reported only'."""
        if self.value is None:
            return "reported only"
        return "measurement error" if "beyond measurement error" in self.published_for else "published cut-off"

    def exceeds(self, value: float) -> bool:
        """True when ``value`` is past the threshold in its flag direction."""
        if self.value is None or value is None or value != value:
            return False
        if self.direction == "abs":
            return abs(value) > self.value
        if self.direction == "below":
            return value < self.value
        return value > self.value

    def ci_beyond(self, lo: float, hi: float) -> bool:
        """True when the whole confidence interval lies past the threshold (so does not contain it)."""
        if self.value is None or not (lo == lo and hi == hi):
            return False
        if self.direction == "abs":
            return lo > self.value or hi < -self.value
        if self.direction == "below":
            return hi < self.value
        return lo > self.value


_ERROR_NOTE = (f"no published normal range; {SINGLE_READING_ERROR_DEG:g} deg = 1.96 x SEM {ANGLE_SEM_DEG:g} deg of a "
               "2-D vision-app angle ([Ceballos23] SEM 1.7-3.5 deg): flags an asymmetry beyond measurement "
               "error, not an abnormality")
_FRONTAL_ERROR = "asymmetry beyond measurement error (no normal range published for this quantity)"
_SIDE_VIEW = "side-view metric: reported only until validated against a reference for MediaPipe"
_CVA_PUBLISHED = ("clinical CVA (C7 spinous process -> tragus, side photo): asymptomatic 50.6 +/- 2.1 deg, "
                  "neck pain 43.9 +/- 3.6 deg [Auto25]; our proxy starts at the shoulder joint centre, not C7, "
                  "so the 50-deg cut-off does not apply (not interchangeable, no validation found); "
                  + _SIDE_VIEW)

STATIC_THRESHOLDS: dict[str, Threshold] = {t.metric: t for t in (
    Threshold("head_tilt", SINGLE_READING_ERROR_DEG, "deg", "abs",
              f"[Roggio24] [Ferreira11] [Singla17]: {_ERROR_NOTE}; 88% of young adults show some head tilt",
              weak=True, published_for=f"ear line vs horizontal: {_FRONTAL_ERROR}"),
    Threshold("shoulder_line_tilt", SINGLE_READING_ERROR_DEG, "deg", "abs",
              f"[Roggio24] [Ferreira11] [Singla17]: {_ERROR_NOTE}; joint centres, not acromion; 68% lean right",
              weak=True, published_for=f"shoulder joint line vs horizontal: {_FRONTAL_ERROR}"),
    Threshold("pelvis_line_tilt", SINGLE_READING_ERROR_DEG, "deg", "abs",
              f"[Patel] [Krawiec03] [Preece08]: {_ERROR_NOTE}; hip joints, not iliac crests; bone shape "
              "alone gives up to 16 mm height difference", weak=True,
              published_for=f"hip joint line vs horizontal (textbook crest cut-off of 1/2 inch does not apply "
                            f"to hip joint centres): {_FRONTAL_ERROR}"),
    Threshold("trunk_lateral_lean", SINGLE_READING_ERROR_DEG, "deg", "abs",
              f"[Ferreira11] [LTM13]: {_ERROR_NOTE}; 66% lean right", weak=True,
              published_for=f"mid-hip -> mid-shoulder vs vertical: {_FRONTAL_ERROR}"),
    Threshold("body_axis_lean", None, "deg", "abs",
              "reported only (used to recognise camera roll); no published cut-off", weak=True,
              published_for="no published figure"),
    Threshold("trunk_flexion", None, "deg", "abs",
              "[Schurr17]: reported only; no normal range found (2-D vs 3-D trunk difference 1.7 deg)",
              weak=True, published_for=f"no normal range published; {_SIDE_VIEW}"),
    Threshold("cva_proxy_left", None, "deg", "below",
              "[Auto25] [Gallego20]: reported only; the 50-deg clinical CVA cut-off is for C7 -> tragus, "
              "not this shoulder-joint -> ear proxy", weak=True, published_for=_CVA_PUBLISHED),
    Threshold("cva_proxy_right", None, "deg", "below",
              "[Auto25] [Gallego20]: reported only; the 50-deg clinical CVA cut-off is for C7 -> tragus, "
              "not this shoulder-joint -> ear proxy", weak=True, published_for=_CVA_PUBLISHED),
    Threshold("forward_head_offset_left", None, "% trunk", "above",
              "[Mostafaee24] [Singla17]: reported only; ear-shoulder offsets are unvalidated", weak=True,
              published_for=f"no published figure; {_SIDE_VIEW}"),
    Threshold("forward_head_offset_right", None, "% trunk", "above",
              "[Mostafaee24] [Singla17]: reported only; ear-shoulder offsets are unvalidated", weak=True,
              published_for=f"no published figure; {_SIDE_VIEW}"),
    Threshold("knee_hyperextension_left", None, "deg", "above",
              "[BoneSpine]: reported only; > 5 deg past neutral is a secondary web page's clinical figure",
              weak=True, published_for=f"clinical (goniometer) knee extension past neutral, secondary web page; "
                                       f"{_SIDE_VIEW}"),
    Threshold("knee_hyperextension_right", None, "deg", "above",
              "[BoneSpine]: reported only; > 5 deg past neutral is a secondary web page's clinical figure",
              weak=True, published_for=f"clinical (goniometer) knee extension past neutral, secondary web page; "
                                       f"{_SIDE_VIEW}"),
    Threshold("knee_fppa_left", None, "deg", "above",
              "[Herrington10] [Munro12]: reported only when standing; FPPA norms exist for landing and "
              "squat tasks, not for quiet standing", weak=True,
              published_for="FPPA at the deepest point of a drop jump or step landing; none for quiet standing"),
    Threshold("knee_fppa_right", None, "deg", "above",
              "[Herrington10] [Munro12]: reported only when standing; FPPA norms exist for landing and "
              "squat tasks, not for quiet standing", weak=True,
              published_for="FPPA at the deepest point of a drop jump or step landing; none for quiet standing"),
)}

# Movement (per repetition). Left/right range-of-motion difference: no published cut-off for
# webcam squats; 10 deg sits above the upper FPPA-app MDC (9.7 deg [Ceballos23]) and above the
# side-view squat knee error SD (6.4 deg [Cosoli26]).
MOVEMENT_ROM_DIFF = Threshold(
    "rom_difference", 10.0, "deg", "abs",
    "[Ceballos23] app SEM 1.7-3.5 deg; [Cosoli26] side-view squat knee error -2.3 +/- 6.4 deg: no published "
    "left/right cut-off, 10 deg chosen above the error of a left-right difference (1.96 x sqrt(2) x 3.5 = "
    "9.7 deg)", weak=True,
    published_for="left/right difference of squat range of motion: asymmetry beyond measurement error "
                  "(no normal range published)")
# Model-error allowance for a per-rep left/right ROM difference, by angle source. Measured on
# tfjs_pose_squats.mp4 as |difference(original) + difference(pixel-flipped run)| per rep, divided by
# sqrt(2) (two independent runs): 3-D world angles 14.8-19.3 deg -> 10.5 deg; 2-D image angles
# 2.0-7.0 deg (knee and hip) -> 3.0 deg. MediaPipe's depth is the weak part [Cerfoglio25].
ROM_MODEL_ERROR_DEG = {"world": 10.5, "image": 3.0}

MOVEMENT_TIMING_DIFF = Threshold(
    "timing_difference", None, "s", "abs", "reported only: no published cut-off for left/right timing", weak=True,
    published_for="no published figure")
# The FPPA norms (drop jump F 7-13 deg, M 3-8 deg; step landing F 5-12, M 1-9) were published for
# landing tasks filmed at the deepest point with a thigh-midpoint marker; a bilateral squat loads the
# knee differently and no squat norm is in the reference, so the squat FPPA is reported, not flagged.
MOVEMENT_FPPA = Threshold(
    "knee_fppa", None, "deg", "above",
    "[Herrington10] [Munro12]: reported only; the normal FPPA ranges (drop jump F 7-13 deg, M 3-8 deg) are "
    "for landing tasks, not squats; 2-D FPPA SEM 2-4 deg [Gwynne14]", weak=True,
    published_for="FPPA at the deepest point of a drop jump or step landing (thigh-midpoint marker); "
                  "no squat norm published")


# Model (systematic) landmark error, in torso lengths per landmark. Measured as the median distance
# between the landmarks of a clip and the mirrored landmarks of the same clip with its pixels flipped
# (two real model runs that should agree exactly): 0.022 on pose2sim_static_cam02.mp4 and 0.017 on
# tfjs_pose_squats.mp4. Frame-to-frame jitter does not show this error, so a flag must also clear it.
LANDMARK_ERROR_TORSO = 0.02

# Camera roll: shoulder line, pelvis line and whole-body axis all tilted the same way.
ROLL_MIN_DEG = 3.0        # below this a common tilt is within single-angle 2-D error (SEM 1.7-3.5 deg [Ceballos23])
ROLL_AGREEMENT_DEG = 1.0  # max spread of the three estimates. Under a pure roll they agree up to jitter:
# still-window medians move < 0.3 deg on the sample clips (measured), so three cues agree within ~1 deg
# (pose2sim: spread 0.7 deg). A wider tolerance gave a false roll on tfjs_pose_squats.mp4, where the
# body cues spread 1.5 deg around -4 deg while background verticals (Hough lines) show the camera level
# within 0.6 deg (measured): a real whole-body tilt must not be explained away as camera roll.
# Square-on view needed for left/right comparisons from 2-D front/back views.
SQUARE_VIEW_MAX_YAW_DEG = 15.0  # [OP-Angle25] off-standard views bias angles; [Stevens06] >20 deg out of plane


def static_threshold(metric: str) -> Threshold | None:
    return STATIC_THRESHOLDS.get(metric)
