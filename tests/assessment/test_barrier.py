"""PIR/MET outcome: the barrier angle at each new barrier, known by construction, and the range gained.

The synthetic person (``hold_synth``: exact skeleton + MediaPipe-like jitter) follows the monitor's
instructions frame by frame: during each stretch phase the head side-bends further, over 2 s, to the
next barrier of a schedule we choose, then rests there. Only the head landmarks turn (about the ear
midpoint), so the ear line against the level shoulder line is exactly the scheduled angle.
"""

from __future__ import annotations

import numpy as np
import pytest

from assessment.barrier import gain, gain_over_sessions, measure_barrier, pixels_and_visibility, thigh_spread
from assessment.exercises import load_catalog
from assessment.hold import HoldMonitor, HoldProtocol, HoldSettings, Phase, check_hold
from tests.assessment.hold_synth import Jitter, still_recording
from vision.track import LANDMARK_INDEX, LandmarkTrack

HEAD = list(range(11))
SCHEDULE = [20.0, 26.0, 31.0, 35.0]        # first barrier, then after each of 3 stretches (deg)


def turn_head(frame: np.ndarray, deg: float, size: tuple[int, int]) -> np.ndarray:
    out = frame.copy()
    wh = np.array(size, dtype=float)
    px = out[:, :2] * wh
    mid = (px[LANDMARK_INDEX["left_ear"]] + px[LANDMARK_INDEX["right_ear"]]) / 2
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    d = px[HEAD] - mid
    px[HEAD] = mid + np.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]], axis=1)
    out[:, :2] = px / wh
    return out


def pir_protocol() -> HoldProtocol:
    base = HoldProtocol.from_exercise(load_catalog().get("upper-trapezius-pir"))
    assert base.barrier_angle == "head_side_bend"
    return HoldProtocol(base.exercise_id, hold_s=5, relax_s=2, stretch_s=4, repetitions=3,
                        still_landmarks=base.still_landmarks, still_angles=base.still_angles,
                        technique="PIR", barrier_angle="head_side_bend")


def follow_instructions(schedule, seed=0, jitter=Jitter(), settings=HoldSettings()):
    """Feed the monitor a person who stretches to the next barrier in each stretch phase."""
    rec = still_recording(60.0, seed=seed, jitter=jitter)
    size = (rec.width, rec.height)
    mon = HoldMonitor(pir_protocol(), size, settings)
    stage, angle, ramp_from, stretch_t0, frames = 0, schedule[0], schedule[0], None, []
    for i, t in enumerate(rec.timestamp_ms):
        if mon.phase is Phase.STRETCH:
            if stretch_t0 is None:
                stretch_t0, ramp_from, stage = t, angle, stage + 1
            k = min(1.0, (t - stretch_t0) / 2000.0)
            angle = ramp_from + (schedule[stage] - ramp_from) * k
        else:
            stretch_t0 = None
        frame = turn_head(rec.image[i], angle, size)
        frames.append(frame)
        mon.update_image(frame, t)
        if mon.phase is Phase.DONE:
            break
    track = LandmarkTrack(np.arange(len(frames)), rec.timestamp_ms[:len(frames)], np.stack(frames),
                          np.zeros((len(frames), 33, 3)), np.ones(len(frames), dtype=np.int64),
                          rec.track().meta)
    return mon.result(), track


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_barrier_is_measured_within_one_degree(seed):
    result, _ = follow_instructions(SCHEDULE, seed=seed)
    assert result.completed == 3 and result.final_phase is Phase.DONE
    b = result.to_dict()["barrier"]
    measured = [b["first"]["angle_deg"]] + [x["angle_deg"] for x in b["after_each_stretch"]]
    assert len(measured) == 4
    for got, truth in zip(measured, SCHEDULE):
        assert got == pytest.approx(truth, abs=1.0), (measured, SCHEDULE)
    # every barrier carries its error, and the gain over the set is 15 deg, well beyond it
    assert all(0 < x["error_deg"] < 5 for x in [b["first"], *b["after_each_stretch"]])
    assert b["gain"]["gain_deg"] == pytest.approx(SCHEDULE[-1] - SCHEDULE[0], abs=1.0)
    assert b["gain"]["beyond_noise"] is True
    rows = result.to_dict()["summary"]["per_repetition"]
    assert [r["barrier_deg"] for r in rows] == pytest.approx(SCHEDULE[1:], abs=1.0)


def test_no_gain_is_not_called_a_gain():
    result, _ = follow_instructions([20.0, 20.0, 20.0, 20.0], seed=4)
    g = result.to_dict()["barrier"]["gain"]
    assert abs(g["gain_deg"]) < 1.0 and g["beyond_noise"] is False


def test_live_and_offline_measure_the_same_barriers():
    live, track = follow_instructions(SCHEDULE, seed=5)
    offline = check_hold(track, live.protocol)
    assert offline.to_dict()["barrier"] == live.to_dict()["barrier"]


def test_isometric_and_unmeasurable_barriers_say_so():
    catalog = load_catalog()
    rec = still_recording(20.0, seed=6)
    iso = check_hold(rec.track(), HoldProtocol.from_exercise(catalog.get("lower-trapezius-low-row-hold")))
    assert iso.to_dict()["barrier"] == {"angle": None, "note": "a plain isometric has no stretch to a new barrier"}
    ql = HoldProtocol.from_exercise(catalog.get("quadratus-lumborum-met"))
    assert "cannot be measured" in check_hold(rec.track(), ql).to_dict()["barrier"]["note"]


def test_thigh_spread_is_the_angle_between_the_thighs():
    rec = still_recording(1.0, jitter=Jitter(0, 0, 0, 300, 0, 0, 0))
    px, vis = pixels_and_visibility(rec.image, (rec.width, rec.height))
    base = thigh_spread(px, vis)
    for spread in (10.0, 40.0, 70.0):
        moved = px.copy()
        for side, sign in (("left", 1), ("right", -1)):
            hip, knee = LANDMARK_INDEX[f"{side}_hip"], LANDMARK_INDEX[f"{side}_knee"]
            d = moved[:, knee] - moved[:, hip]
            a = np.radians(sign * spread / 2)
            moved[:, knee] = moved[:, hip] + np.stack([np.cos(a) * d[:, 0] - np.sin(a) * d[:, 1],
                                                       np.sin(a) * d[:, 0] + np.cos(a) * d[:, 1]], axis=1)
        b = measure_barrier("thigh_spread", rec.timestamp_ms, moved, vis)
        assert b.angle_deg == pytest.approx(spread + base[0], abs=1e-6)


def test_gain_over_sessions_needs_the_mdc():
    def session(first, last):
        return {"barrier": {"angle": "head_side_bend", "first": {"range_deg": first, "error_deg": 1.0},
                            "last": {"range_deg": last, "error_deg": 1.0}}}

    small = gain_over_sessions([session(20, 22), session(21, 24)])
    assert small["gain_deg"] == 4 and small["beyond_noise"] is False and "minimal detectable change" in small["rule"]
    big = gain_over_sessions([session(20, 22), session(21, 24), session(22, 27)])
    assert big["gain_deg"] == 7 and big["beyond_noise"] is True and big["sessions"] == 3
    assert gain_over_sessions([session(20, 22)]) is None
    # within one set the error of the difference alone decides
    assert gain({"range_deg": 20, "error_deg": 1.0}, {"range_deg": 22, "error_deg": 1.0})["beyond_noise"] is True
