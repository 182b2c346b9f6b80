"""Flag thresholds, each with its value, unit, direction and source keys (clinical-reference.md).

Why a table: every flag must be traceable to a published figure, and a reader must see at once
which thresholds are weak (⚠). Where the literature gives no cut-off we say so and choose a
conservative value grounded in published measurement error (MDC), so that a flag is at least
larger than what the measurement itself can invent.

Directions: ``"abs"`` flags |value| > threshold (left/right asymmetry, either side);
``"below"`` flags value < threshold; ``"above"`` flags value > threshold.
``value=None`` = reported only, never flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

WEAK = "⚠"

# One figure reused by the frontal line tilts: smallest published MDC of a smartphone/vision-app
# posture angle (CVA app MDC 5.0 deg [Gallego20]; FPPA app MDC 4.7-9.7 deg [Ceballos23]).
POSTURE_ANGLE_MDC_DEG = 5.0


@dataclass(frozen=True)
class Threshold:
    metric: str
    value: float | None
    unit: str
    direction: str          # "abs" | "below" | "above"
    source: str             # keys from clinical-reference.md and the figure used
    weak: bool = False      # True = no validated cut-off (⚠)

    @property
    def source_text(self) -> str:
        return f"{WEAK} {self.source}" if self.weak else self.source

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


_MDC_NOTE = (f"no published cut-off; {POSTURE_ANGLE_MDC_DEG:g} deg = smallest published MDC of a 2-D "
             "posture-app angle ([Gallego20] 5.0 deg; [Ceballos23] 4.7-9.7 deg), chosen as a conservative flag")

STATIC_THRESHOLDS: dict[str, Threshold] = {t.metric: t for t in (
    Threshold("head_tilt", POSTURE_ANGLE_MDC_DEG, "deg", "abs",
              f"[Roggio24] [Ferreira11] [Singla17]: {_MDC_NOTE}; 88% of young adults show some head tilt",
              weak=True),
    Threshold("shoulder_line_tilt", POSTURE_ANGLE_MDC_DEG, "deg", "abs",
              f"[Roggio24] [Ferreira11] [Singla17]: {_MDC_NOTE}; joint centres, not acromion; 68% lean right",
              weak=True),
    Threshold("pelvis_line_tilt", POSTURE_ANGLE_MDC_DEG, "deg", "abs",
              f"[Patel] [Krawiec03] [Preece08]: {_MDC_NOTE}; hip joints, not iliac crests; bone shape "
              "alone gives up to 16 mm height difference", weak=True),
    Threshold("trunk_lateral_lean", POSTURE_ANGLE_MDC_DEG, "deg", "abs",
              f"[Ferreira11] [LTM13]: {_MDC_NOTE}; 66% lean right", weak=True),
    Threshold("body_axis_lean", None, "deg", "abs",
              "reported only (used to recognise camera roll); no published cut-off", weak=True),
    Threshold("trunk_flexion", None, "deg", "abs",
              "[Schurr17]: reported only; no normal range found (2-D vs 3-D trunk difference 1.7 deg)",
              weak=True),
    Threshold("cva_proxy_left", 50.0, "deg", "below",
              "[Auto25] asymptomatic CVA 50.6 +/- 2.1 deg vs neck pain 43.9 +/- 3.6 deg; [Gallego20] app MDC "
              "5.0 deg; proxy uses the shoulder joint, not C7, and is not validated for MediaPipe", weak=True),
    Threshold("cva_proxy_right", 50.0, "deg", "below",
              "[Auto25] asymptomatic CVA 50.6 +/- 2.1 deg vs neck pain 43.9 +/- 3.6 deg; [Gallego20] app MDC "
              "5.0 deg; proxy uses the shoulder joint, not C7, and is not validated for MediaPipe", weak=True),
    Threshold("forward_head_offset_left", None, "% trunk", "above",
              "[Mostafaee24] [Singla17]: reported only; ear-shoulder offsets are unvalidated", weak=True),
    Threshold("forward_head_offset_right", None, "% trunk", "above",
              "[Mostafaee24] [Singla17]: reported only; ear-shoulder offsets are unvalidated", weak=True),
    Threshold("knee_hyperextension_left", 5.0, "deg", "above",
              "[BoneSpine] > 5 deg past neutral (secondary web page; no measurement-error data)", weak=True),
    Threshold("knee_hyperextension_right", 5.0, "deg", "above",
              "[BoneSpine] > 5 deg past neutral (secondary web page; no measurement-error data)", weak=True),
    Threshold("knee_fppa_left", None, "deg", "above",
              "[Herrington10] [Munro12]: reported only when standing; FPPA norms exist for landing and "
              "squat tasks, not for quiet standing", weak=True),
    Threshold("knee_fppa_right", None, "deg", "above",
              "[Herrington10] [Munro12]: reported only when standing; FPPA norms exist for landing and "
              "squat tasks, not for quiet standing", weak=True),
)}

# Movement (per repetition). Left/right range-of-motion difference: no published cut-off for
# webcam squats; 10 deg sits above the upper FPPA-app MDC (9.7 deg [Ceballos23]) and above the
# side-view squat knee error SD (6.4 deg [Cosoli26]).
MOVEMENT_ROM_DIFF = Threshold(
    "rom_difference", 10.0, "deg", "abs",
    "[Ceballos23] app MDC 4.7-9.7 deg; [Cosoli26] side-view squat knee error -2.3 +/- 6.4 deg: no published "
    "left/right cut-off, 10 deg chosen above both", weak=True)
# Model-error allowance for a per-rep left/right ROM difference, by angle source. Measured on
# tfjs_pose_squats.mp4 as |difference(original) + difference(pixel-flipped run)| per rep, divided by
# sqrt(2) (two independent runs): 3-D world angles 14.8-19.3 deg -> 10.5 deg; 2-D image angles
# 2.0-7.0 deg (knee and hip) -> 3.0 deg. MediaPipe's depth is the weak part [Cerfoglio25].
ROM_MODEL_ERROR_DEG = {"world": 10.5, "image": 3.0}

MOVEMENT_TIMING_DIFF = Threshold(
    "timing_difference", None, "s", "abs", "reported only: no published cut-off for left/right timing", weak=True)
MOVEMENT_FPPA = Threshold(
    "knee_fppa", 13.0, "deg", "above",
    "[Herrington10] [Munro12]: normal drop-jump FPPA F 7-13 deg, M 3-8 deg; upper bound used since sex is "
    "unknown; 2-D FPPA SEM 2-4 deg [Gwynne14]", weak=False)

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
