"""Hold checker: breaks found on time and only when real, the protocol timeline, real clips.

Synthetic recordings (``hold_synth``): an exact standing skeleton plus MediaPipe-like jitter, with
movements of known size injected at known times. Ground truth for a break's time is when the
injected (noise-free) displacement first exceeds the band; the checker must date it within +-100 ms.
Real clips run the real model (``vision.pipeline.extract_track``).
"""

from __future__ import annotations

import json
from typing import Iterator

import numpy as np
import pytest

from assessment.exercises import load_catalog
from assessment.hold import HoldMonitor, HoldProtocol, HoldSettings, Phase, Stillness, check_hold
from assessment.stillness import DEFAULT_LANDMARK_BAND, NotMeasurableError
from tests.assessment.hold_synth import NO_JITTER, Jitter, Move, inject, still_recording
from vision.errors import IsobalanceError
from vision.sources import Frame, FrameSource, SourceInfo, open_source
from vision.track import LANDMARK_INDEX, LandmarkTrack

LANDMARKS = ("nose", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_hip", "right_hip")
LONG_HOLD = HoldProtocol("test-long-hold", hold_s=600, relax_s=3, stretch_s=0, repetitions=1,
                         still_landmarks=LANDMARKS, still_angles=("head_tilt", "shoulder_line_tilt"))


def breaks_of(result):
    return [b for r in result.repetitions for b in r.breaks]


# ---------------------------------------------------------------------- synthetic: breaks
# out-and-back movements (away for less than settle_s = 1 s, so each is one break; a longer stay
# at a new place re-anchors the hold, see test_holding_still_at_a_new_place_re_anchors)
MOVES = [   # (joints, start, size in torso lengths, hold, rise, direction)
    Move(("left_shoulder",), 6000, 0.15, hold_ms=800, rise_ms=0, direction_deg=-90),
    Move(("nose", "left_ear", "right_ear"), 11000, 0.12, hold_ms=600, rise_ms=250, direction_deg=0),
    Move(("right_hip",), 16000, 0.30, hold_ms=700, rise_ms=400, direction_deg=180),
    Move(("left_hip", "right_hip"), 23000, 0.10, hold_ms=500, rise_ms=0, direction_deg=90),
    Move(("left_shoulder", "right_shoulder"), 28000, 0.20, hold_ms=300, rise_ms=600, direction_deg=45),
]


@pytest.mark.parametrize("fps", [15, 30, 60])
@pytest.mark.parametrize("calibrate_s", [0.0, 3.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_every_injected_break_is_found_on_time(fps, calibrate_s, seed):
    rec = inject(still_recording(36.0, fps=fps, seed=seed), MOVES)
    result = check_hold(rec.track(), LONG_HOLD, HoldSettings(calibrate_s=calibrate_s))
    band = dict(zip(LONG_HOLD.channels.names, result.band.values))
    found = breaks_of(result)
    assert len(found) == len(MOVES), [b.to_dict() for b in found]
    for move, brk in zip(MOVES, found):
        truth = min(move.crossing_ms(band[j]) for j in move.landmarks)
        assert abs(brk.onset_ms - truth) <= 100, (move, brk)
        assert brk.channel in move.landmarks or brk.unit == "deg"
        if brk.unit == "body_scale":
            assert brk.magnitude == pytest.approx(move.size, abs=0.04)
        # the break ends when the joint is back, and is confirmed within the grace period + 1 frame
        back = move.start_ms + move.hold_ms + move.rise_ms
        assert brk.end_ms is not None and back - 200 <= brk.end_ms <= back + move.rise_ms + 200
        assert brk.confirmed_ms - brk.onset_ms <= 300 + 1000 / fps + 6   # +-3 ms timestamp jitter
    # every moved joint's largest drift is reported about the injected size
    drift = dict(zip(LONG_HOLD.channels.names, result.repetitions[0].max_drift))
    assert drift["right_hip"] == pytest.approx(0.30, abs=0.04)


@pytest.mark.parametrize("seed", [3, 4, 5])
@pytest.mark.parametrize("calibrate_s", [0.0, 3.0])
def test_jitter_alone_never_breaks_a_hold(seed, calibrate_s):
    rec = still_recording(60.0, fps=30, seed=seed)
    result = check_hold(rec.track(), LONG_HOLD, HoldSettings(calibrate_s=calibrate_s))
    rep = result.repetitions[0]
    assert breaks_of(result) == []
    assert rep.held_ms == pytest.approx(rep.hold_end_ms - rep.hold_start_ms, abs=1)
    assert rep.longest_unbroken_ms == pytest.approx(rep.held_ms, abs=1)


def test_movement_below_the_band_or_shorter_than_the_grace_period_is_not_a_break():
    small = [Move(("left_shoulder",), 5000 + 4000 * i, 0.5 * DEFAULT_LANDMARK_BAND, hold_ms=2500,
                  rise_ms=300, direction_deg=40 * i) for i in range(4)]
    twitches = [Move(("nose", "left_ear", "right_ear"), 22000 + 2000 * i, 0.2, hold_ms=150) for i in range(3)]
    rec = inject(still_recording(32.0, seed=7), small + twitches)
    result = check_hold(rec.track(), LONG_HOLD)
    assert breaks_of(result) == []
    drift = dict(zip(LONG_HOLD.channels.names, result.repetitions[0].max_drift))
    assert drift["left_shoulder"] < DEFAULT_LANDMARK_BAND
    # a twitch is not a break but it is seen: its filtered drift exceeds the band
    assert drift["nose"] > DEFAULT_LANDMARK_BAND


def test_angle_only_movement_is_caught_by_the_angle_channel():
    # tilt the head 12 deg about the ear midpoint: the ears move only ~0.03 torso (inside the
    # landmark band) but the head-tilt angle changes by 12 deg (band 5 deg)
    rec = still_recording(12.0, seed=8, jitter=Jitter(spike_rate=0.0))
    px = rec.pixels()
    t = rec.timestamp_ms
    rows = (t >= 6000) & (t < 6800)
    le, re = 7, 8
    mid = (px[rows, le] + px[rows, re]) / 2
    c, s = np.cos(np.radians(12)), np.sin(np.radians(12))
    for j in (le, re):
        d = px[rows, j] - mid
        px[rows, j] = mid + np.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]], axis=1)
    rec.set_pixels(px)
    found = breaks_of(check_hold(rec.track(), LONG_HOLD))
    assert len(found) == 1
    assert found[0].channel == "head_tilt" and found[0].magnitude == pytest.approx(12, abs=2.5)
    assert abs(found[0].onset_ms - 6000) <= 100


def test_dropouts_pause_the_timer_without_breaking_the_hold():
    rec = still_recording(20.0, seed=9)
    t = rec.timestamp_ms
    brief = (t >= 5000) & (t < 5300)            # still joints low-visibility for 300 ms
    rec.image[brief][:, :, 3] = 0.1
    rec.image[brief, :, 3] = 0.1
    gone = (t >= 10000) & (t < 12000)           # nobody in the frame for 2 s
    rec.image[gone] = np.nan
    result = check_hold(rec.track(), LONG_HOLD)
    rep = result.repetitions[0]
    assert breaks_of(result) == []
    # bridged: the 300-ms dropout counts; of the 2-s gap all but the 500-ms dropout hold is paused
    assert rep.not_visible_ms == pytest.approx(1500, abs=70)
    assert rep.held_ms == pytest.approx(rep.hold_end_ms - rep.hold_start_ms - 1500, abs=70)


# ---------------------------------------------------------------------- only the head moves
HEAD = tuple(range(11))      # nose, eyes, ears, mouth: the landmarks that move with the head


def move_head(image: np.ndarray, timestamp_ms: np.ndarray, size: tuple[int, int], start_ms: float,
              stop_ms: float, turn_deg: float = 20.0, shift_torso: float = 0.08) -> np.ndarray:
    """A copy of ``image`` where, from start to stop, only the head landmarks turn ``turn_deg`` about
    the ear midpoint and shift ``shift_torso`` torso lengths sideways; everything else is untouched."""
    out = image.copy()
    wh = np.array(size, dtype=float)
    rows = (timestamp_ms >= start_ms) & (timestamp_ms < stop_ms)
    px = out[rows, :, :2] * wh
    sh = (px[:, 11] + px[:, 12]) / 2
    hp = (px[:, 23] + px[:, 24]) / 2
    torso = np.nanmedian(np.linalg.norm(sh - hp, axis=1))
    mid = (px[:, 7] + px[:, 8]) / 2
    c, s = np.cos(np.radians(turn_deg)), np.sin(np.radians(turn_deg))
    d = px[:, HEAD] - mid[:, None]
    px[:, HEAD] = mid[:, None] + np.stack([c * d[..., 0] - s * d[..., 1], s * d[..., 0] + c * d[..., 1]], -1)
    px[:, HEAD, 0] += shift_torso * torso
    out[rows, :, :2] = px / wh
    return out


def long_version(ex) -> HoldProtocol:
    p = HoldProtocol.from_exercise(ex)
    return HoldProtocol(p.exercise_id, hold_s=600, relax_s=0, stretch_s=0, repetitions=1,
                        still_landmarks=p.still_landmarks, still_angles=p.still_angles)


def head_only_breaks(track: LandmarkTrack, start_ms: float, stop_ms: float) -> dict[str, tuple[int, int]]:
    """exercise id -> (breaks on the track, breaks with the head moved)."""
    moved = LandmarkTrack(track.frame_index, track.timestamp_ms,
                          move_head(track.image, track.timestamp_ms, (track.meta.width, track.meta.height),
                                    start_ms, stop_ms), track.world, track.detected, track.meta)
    return {ex.id: (len(breaks_of(check_hold(track, long_version(ex)))),
                    len(breaks_of(check_hold(moved, long_version(ex))))) for ex in load_catalog()}


def test_only_the_head_moving_breaks_the_neck_exercises_and_nothing_else():
    rec = still_recording(14.0, seed=21)
    counts = head_only_breaks(rec.track(), 6000, 6800)   # away < settle_s: one break
    neck = {ex.id for ex in load_catalog() if "head_neck" in ex.crosses}
    assert {i for i, (before, after) in counts.items() if after > before} == neck, counts
    assert counts["lower-trapezius-low-row-hold"] == (0, 0)
    assert all(counts[i] == (0, 1) for i in neck), counts


# ---------------------------------------------------------------------- synthetic: protocol
def test_protocol_runs_calibrate_position_hold_relax_stretch_per_repetition():
    p = HoldProtocol("pir-test", hold_s=5, relax_s=3, stretch_s=4, repetitions=2, still_landmarks=LANDMARKS,
                     technique="PIR")
    rec = still_recording(40.0, fps=30, jitter=NO_JITTER)
    mon = HoldMonitor(p, (rec.width, rec.height), HoldSettings(calibrate_s=2.0, settle_s=1.0))
    phases = [mon.update_image(rec.image[i], rec.timestamp_ms[i]).phase for i in range(len(rec.timestamp_ms))]
    t = rec.timestamp_ms

    def first(phase, after=0.0):
        return t[[i for i, ph in enumerate(phases) if ph is phase and t[i] >= after][0]]

    frame = 1000 / 30 + 1
    # calibrate 0-2 s, position 2-3 s, hold 3-8 s, relax 8-11, stretch 11-15, position 15-16, hold 16-21 ...
    expected = [(Phase.POSITION, 0, 2000), (Phase.HOLD, 0, 3000), (Phase.RELAX, 0, 8000),
                (Phase.STRETCH, 0, 11000), (Phase.POSITION, 12000, 15000), (Phase.HOLD, 12000, 16000),
                (Phase.RELAX, 12000, 21000), (Phase.STRETCH, 22000, 24000), (Phase.DONE, 0, 28000)]
    for phase, after, when in expected:
        assert abs(first(phase, after) - when) <= 2 * frame, (phase, first(phase, after), when)
    result = mon.result()
    assert result.completed == 2 and [r.outcome for r in result.repetitions] == ["completed"] * 2
    for r in result.repetitions:
        assert r.held_ms == pytest.approx(5000, abs=frame)
    assert result.band.source == "calibration"


def test_a_break_costs_hold_time_and_splits_the_unbroken_hold():
    p = HoldProtocol("iso-test", hold_s=10, relax_s=2, stretch_s=0, repetitions=1, still_landmarks=LANDMARKS)
    rec = inject(still_recording(25.0, seed=11), [Move(("left_hip",), 5000, 0.2, hold_ms=500, rise_ms=300)])
    result = check_hold(rec.track(), p)
    rep = result.repetitions[0]
    assert rep.outcome == "completed" and len(rep.breaks) == 1
    b = rep.breaks[0]
    assert rep.held_ms == pytest.approx(10000, abs=40)
    # the hold lasts 10 s of stillness plus the break (onset to return)
    assert rep.hold_end_ms - rep.hold_start_ms == pytest.approx(10000 + (b.end_ms - b.onset_ms), abs=80)
    assert rep.longest_unbroken_ms == pytest.approx(max(b.onset_ms - rep.hold_start_ms,
                                                        rep.hold_end_ms - b.end_ms), abs=80)


def test_holding_still_at_a_new_place_re_anchors():
    # the hip shifts 0.2 torso and stays there for 4 s, then comes back: two movements, two breaks;
    # the 4 s at the new place count as held once the hip has been still there for settle_s
    rec = inject(still_recording(20.0, seed=17), [Move(("left_hip",), 5000, 0.2, hold_ms=4000, rise_ms=200)])
    rep = check_hold(rec.track(), LONG_HOLD).repetitions[0]
    assert len(rep.breaks) == 2 and rep.reanchors == 2
    out, back = rep.breaks
    assert abs(out.onset_ms - Move(("left_hip",), 5000, 0.2, rise_ms=200).crossing_ms(0.06)) <= 100
    assert out.resumed == "still at a new position" and out.end_ms <= 5200 + 1000 + 100
    assert abs(back.onset_ms - (5000 + 200 + 4000 + 200 * 0.3)) <= 150
    moving_ms = sum(b.end_ms - b.onset_ms for b in rep.breaks)
    assert rep.held_ms == pytest.approx(rep.hold_end_ms - rep.hold_start_ms - moving_ms, abs=40)


def test_held_still_figure_never_runs_backwards():
    # confirmed breaks, twitches shorter than the grace period and a re-anchor: the figure the patient
    # sees only grows within a hold, and ends at the true held time
    moves = MOVES + [Move(("nose",), 33000 + 700 * i, 0.2, hold_ms=150) for i in range(3)]
    rec = inject(still_recording(45.0, seed=31), moves)
    p = HoldProtocol("mono", hold_s=40, relax_s=2, stretch_s=0, repetitions=1, still_landmarks=LANDMARKS)
    mon = HoldMonitor(p, (rec.width, rec.height))
    shown = [mon.update_image(rec.image[i], rec.timestamp_ms[i]) for i in range(len(rec.timestamp_ms))]
    held = [s.held_s for s in shown if s.phase is Phase.HOLD]
    assert len(held) > 1000 and all(b >= a for a, b in zip(held, held[1:]))
    rep = mon.result().repetitions[0]
    assert len(rep.breaks) == len(MOVES)
    assert held[-1] <= rep.held_ms / 1000 <= held[-1] + 0.25 + 0.04     # lags by at most the filter window


def test_a_repetition_counts_only_within_the_allowed_breaks():
    p = HoldProtocol("iso-test", hold_s=10, relax_s=2, stretch_s=0, repetitions=1, still_landmarks=LANDMARKS)
    three = [Move(("left_hip",), 4000 + 2500 * i, 0.2, hold_ms=400, rise_ms=100) for i in range(3)]
    rec = inject(still_recording(30.0, seed=32), three)
    for max_breaks, counted in ((2, 0), (3, 1)):
        result = check_hold(rec.track(), p, HoldSettings(max_breaks=max_breaks))
        rep = result.repetitions[0]
        assert rep.outcome == "completed" and len(rep.breaks) == 3
        assert result.counted == counted
        [row] = result.to_dict()["summary"]["per_repetition"]
        assert row["counted"] is bool(counted) and row["breaks"] == 3
        assert row["held_still_s"] == pytest.approx(10.0, abs=0.05)
        assert row["longest_still_s"] < 5.0
        assert ("more than the 2 allowed" in row["why_not"]) if not counted else row["why_not"] == ""


def test_a_hold_that_never_gets_still_times_out():
    p = HoldProtocol("iso-test", hold_s=5, relax_s=1, stretch_s=0, repetitions=1, still_landmarks=LANDMARKS)
    rec = still_recording(30.0, seed=12)
    px = rec.pixels()
    sway = 0.3 * rec.torso_px * np.sin(2 * np.pi * rec.timestamp_ms / 1500)     # never settles
    px[rec.timestamp_ms > 3000, :, 0] += sway[rec.timestamp_ms > 3000, None]
    rec.set_pixels(px)
    rep = check_hold(rec.track(), p, HoldSettings(hold_timeout_s=12)).repetitions[0]
    assert rep.outcome == "timeout"
    assert rep.hold_end_ms - rep.hold_start_ms == pytest.approx(12000, abs=40)


def test_same_movement_at_different_frame_rates_gives_the_same_timings():
    outs = []
    for fps in (24, 30, 60):
        rec = inject(still_recording(20.0, fps=fps, seed=13), [Move(("right_shoulder",), 8000, 0.2, rise_ms=300, hold_ms=600)])
        outs.append(check_hold(rec.track(), LONG_HOLD).repetitions[0])
    for rep in outs:
        assert len(rep.breaks) == 1
        assert rep.breaks[0].onset_ms == pytest.approx(outs[1].breaks[0].onset_ms, abs=45)
        assert rep.held_ms == pytest.approx(outs[1].held_ms, abs=90)


def test_result_is_deterministic_and_serialisable(tmp_path):
    rec = inject(still_recording(15.0, seed=14), [Move(("nose",), 6000, 0.2)])
    a = check_hold(rec.track(), LONG_HOLD, HoldSettings(calibrate_s=2)).to_dict()
    b = check_hold(rec.track(), LONG_HOLD, HoldSettings(calibrate_s=2)).to_dict()
    assert a == b
    path = check_hold(rec.track(), LONG_HOLD).save_json(tmp_path / "hold.json")
    loaded = json.loads(path.read_text())
    rep = loaded["repetitions"][0]
    assert rep["breaks"][0]["joint"] in ("nose", "head_tilt")
    assert set(rep["max_drift"]) == set(LONG_HOLD.channels.names)
    assert loaded["timeline"] and all(0 <= row["still_fraction"] <= 1 for row in loaded["timeline"])
    # second by second: the second with the movement is not fully still, the ones before are
    by_sec = {row["second"]: row["still_fraction"] for row in loaded["timeline"]}
    assert by_sec[6] < 0.5 and by_sec[3] == 1.0


def test_repeated_or_backwards_timestamps_change_nothing():
    rec = still_recording(6.0, seed=15)
    mon = HoldMonitor(LONG_HOLD, (rec.width, rec.height))
    for i in range(len(rec.timestamp_ms)):
        s1 = mon.update_image(rec.image[i], rec.timestamp_ms[i])
        s2 = mon.update_image(rec.image[i], rec.timestamp_ms[i])
        assert s1 == s2


# ---------------------------------------------------------------------- bad input
def test_joints_never_visible_is_a_clear_error():
    rec = still_recording(5.0, seed=16)
    rec.image[..., 3] = 0.05
    with pytest.raises(NotMeasurableError, match="nose.*visible in any of the 150 frames") as exc:
        check_hold(rec.track(), LONG_HOLD)
    assert isinstance(exc.value, IsobalanceError)
    rec.image[:] = np.nan
    with pytest.raises(NotMeasurableError, match="film so that they are in view"):
        check_hold(rec.track(), LONG_HOLD)


def test_unknown_exercise_lists_the_valid_ids():
    with pytest.raises(IsobalanceError, match="upper-trapezius-pir"):
        load_catalog().get("no-such-exercise")


def test_every_catalog_exercise_builds_a_protocol():
    for ex in load_catalog():
        p = HoldProtocol.from_exercise(ex)
        assert p.hold_s == ex.hold_s and p.repetitions == ex.repetitions
        assert p.channels.names == tuple(ex.still_landmarks) + tuple(ex.still_angles)


# ---------------------------------------------------------------------- real clips, real model
class LoopedSource(FrameSource):
    """Chosen decoded frames of a real clip, replayed in the given order at a fixed frame interval."""

    def __init__(self, frames: list[Frame], info: SourceInfo, order: list[int], interval_ms: float):
        self.frames, self.order, self.interval = frames, order, interval_ms
        self.info = SourceInfo("video", info.name + "+looped", 1000 / interval_ms, info.width, info.height,
                               0, len(order))

    def __iter__(self) -> Iterator[Frame]:
        for k, i in enumerate(self.order):
            yield Frame(k, k * self.interval, self.frames[i].rgb)


def ping_pong(indices: list[int], n: int) -> list[int]:
    cycle = indices + indices[-2:0:-1]
    return [cycle[k % len(cycle)] for k in range(n)]


def real_track(path, order_fn, interval_ms, model_path, num_poses: int = 2) -> LandmarkTrack:
    from vision.pipeline import PipelineSettings, extract_track

    with open_source(path) as src:
        frames, info = list(src), src.info
    return extract_track(LoopedSource(frames, info, order_fn(len(frames)), interval_ms), model_path,
                         PipelineSettings(num_poses=num_poses))


LOW_ROW = "lower-trapezius-low-row-hold"   # shoulders + hips + shoulder-line and trunk-lean angles


@pytest.fixture(scope="module")
def still_tpose(model_path, sample_clip):
    # pose2sim_static_cam02.mp4: a man holding a still T-pose, 11 frames. Played forward and back
    # (ping-pong, so no jump at the seam) at 30 fps for 10 s = 300 frames through the real model.
    return real_track(sample_clip("pose2sim_static_cam02.mp4"), lambda n: ping_pong(list(range(n)), 300),
                      1000 / 30, model_path)


@pytest.fixture(scope="module")
def still_standing(model_path, sample_clip):
    # tfjs_pose_squats.mp4 standing frames 42-51 (between squats 2 and 3; README: standing ~43-51),
    # ping-pong at the clip's own 5 fps for 12 s = 60 frames through the real model.
    return real_track(sample_clip("tfjs_pose_squats.mp4"), lambda n: ping_pong(list(range(42, 52)), 60),
                      200.0, model_path)


@pytest.fixture(scope="module")
def still_standing_tracked(model_path, sample_clip):
    # the same frames with MediaPipe's tracker (num_poses=1 + the bounded search, vision.search): its
    # landmarks jitter less, so a 2-s calibration gives the band's floor; with the old 3 % floor the
    # clip's natural sway (right shoulder up to 5 % from its reference) read as 5 breaks (72 % held)
    return real_track(sample_clip("tfjs_pose_squats.mp4"), lambda n: ping_pong(list(range(42, 52)), 60),
                      200.0, model_path, num_poses=1)


@pytest.mark.slow
@pytest.mark.parametrize("calibrate_s", [0.0, 2.0])
@pytest.mark.parametrize("clip", ["still_tpose", "still_standing", "still_standing_tracked"])
def test_a_real_person_standing_still_is_judged_still(clip, calibrate_s, request):
    track = request.getfixturevalue(clip)
    p = HoldProtocol.from_exercise(load_catalog().get(LOW_ROW))
    p = HoldProtocol(p.exercise_id, hold_s=600, relax_s=0, stretch_s=0, repetitions=1,
                     still_landmarks=p.still_landmarks, still_angles=p.still_angles)
    rep = check_hold(track, p, HoldSettings(calibrate_s=calibrate_s)).repetitions[0]
    assert rep.hold_end_ms - rep.hold_start_ms >= 5000
    assert rep.held_ms / (rep.hold_end_ms - rep.hold_start_ms) >= 0.95


@pytest.mark.slow
def test_real_still_clip_with_only_the_head_moved_breaks_only_the_neck_exercises(still_standing):
    # the real model's landmarks of a person standing still; the head landmarks alone are turned
    # 20 deg and shifted 0.08 torso from 5.0 to 5.8 s (4 of the 60 frames at 5 fps)
    counts = head_only_breaks(still_standing, 5000, 5800)
    neck = {ex.id for ex in load_catalog() if "head_neck" in ex.crosses}
    for ex_id, (before, after) in counts.items():
        assert (after > before) if ex_id in neck else (after == before), (ex_id, counts)
    assert counts["lower-trapezius-low-row-hold"] == (0, 0)


@pytest.fixture(scope="module")
def squats(model_path, sample_clip):
    # tfjs_pose_squats.mp4 (5 fps, 3 squats starting at frames ~4, ~28, ~52) preceded by a 3-s lead-in
    # of its first standing frames 0-2 (ping-pong, 15 frames) so the hold can start before squat 1.
    lead = 15
    return real_track(sample_clip("tfjs_pose_squats.mp4"), lambda n: ping_pong([0, 1, 2], lead) + list(range(n)),
                      200.0, model_path), lead


@pytest.mark.slow
def test_each_real_squat_breaks_the_hold(squats):
    track, lead = squats
    p = HoldProtocol.from_exercise(load_catalog().get(LOW_ROW))
    result = check_hold(track, p)
    rep = result.repetitions[0]
    assert rep.hold_start_ms < (lead + 3) * 200        # hold started on the standing lead-in
    found = rep.breaks
    assert len(found) == 3, [b.to_dict() for b in found]
    # squat k descends between its last standing frame and the bottom (clip frames, 200 ms apart)
    descents = [(3, 8), (27, 32), (51, 57)]
    for brk, (last_standing, bottom) in zip(found, descents):
        assert (lead + last_standing) * 200 <= brk.onset_ms <= (lead + bottom) * 200, brk.to_dict()
    # squats 1 and 2 end standing again (frames ~19 and ~42): those breaks end there
    assert (lead + 15) * 200 <= found[0].end_ms <= (lead + 21) * 200
    assert (lead + 38) * 200 <= found[1].end_ms <= (lead + 44) * 200
    assert found[2].end_ms == pytest.approx(track.timestamp_ms[-1])     # still down when the clip ends


# ---------------------------------------------------------------------- command line
def hold_app():
    import typer

    from isobalance.cli_hold import hold_command

    app = typer.Typer()
    app.command("hold")(hold_command)
    app.command("noop")(lambda: None)      # two commands, so "hold" is addressed by name as in the CLI
    return app


@pytest.mark.slow
def test_hold_command_writes_result_and_annotated_video(tmp_path, sample_clip, model_path):
    from typer.testing import CliRunner

    clip = sample_clip("tfjs_pose_squats.mp4")
    res = CliRunner().invoke(hold_app(), ["hold", str(clip), "--exercise", LOW_ROW, "-o", str(tmp_path),
                                          "--model", str(model_path), "--settle-s", "0.6", "--no-progress",
                                          "--no-red-flags", "--pain-before", "0"])
    assert res.exit_code == 0, res.output
    result = json.loads((tmp_path / "hold.json").read_text())
    assert result["exercise"]["exercise_id"] == LOW_ROW
    assert result["summary"]["frames"] == 65 and result["summary"]["breaks"] >= 3
    import av

    with av.open(str(tmp_path / "hold.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 65 and frames[0].shape == (1280, 720, 3)
    with open_source(clip) as src:
        first = next(iter(src)).rgb
    # the overlay changed the top-left (labels) and the bottom (stillness gauge) of every frame
    assert np.abs(frames[10][:60, :200].astype(int) - first[:60, :200]).mean() > 20


def test_hold_command_bad_input_is_one_clear_message(tmp_path, sample_clip):
    from typer.testing import CliRunner

    clip = str(sample_clip("tfjs_pose_squats.mp4"))
    res = CliRunner().invoke(hold_app(), ["hold", clip, "--exercise", "no-such-exercise", "-o", str(tmp_path),
                                          "--no-red-flags", "--pain-before", "0"])
    assert res.exit_code == 2 and "no-such-exercise" in res.output and "lower-trapezius-low-row-hold" in res.output
    assert "Traceback" not in res.output
    res = CliRunner().invoke(hold_app(), ["hold", str(tmp_path / "missing.mp4"), "--exercise", LOW_ROW,
                                          "-o", str(tmp_path), "--no-red-flags", "--pain-before", "0"])
    assert res.exit_code == 2 and "not found" in res.output


# ---------------------------------------------------------------------- the monitor's cheaper median
def statuses_and_result(track, protocol, settings=HoldSettings()):
    monitor = HoldMonitor.for_track(protocol, track, settings=settings)
    statuses = [repr(monitor.update_image(track.image[i], track.timestamp_ms[i])) for i in range(len(track))]
    return statuses, json.dumps(monitor.result().to_dict(), sort_keys=True)


def assert_same_as_np_median(track, protocol, settings=HoldSettings()):
    """Every status (repr: every field, NaN included) and the result, with ``stillness.median_rows`` and
    with ``np.median`` in its place, are identical."""
    import assessment.stillness as stillness

    fast = statuses_and_result(track, protocol, settings)
    mp = pytest.MonkeyPatch()
    mp.setattr(stillness, "median_rows", lambda x: np.median(x, axis=0))
    try:
        slow = statuses_and_result(track, protocol, settings)
    finally:
        mp.undo()
    assert fast[0] == slow[0] and fast[1] == slow[1]
    return fast


@pytest.mark.parametrize("calibrate_s", [0.0, 3.0])
def test_monitor_statuses_equal_np_medians_on_constructed_breaks(calibrate_s):
    """Constructed series: jitter, the five injected movements (breaks, returns), a re-anchor, 30 fps."""
    rec = inject(still_recording(36.0, fps=30, seed=1), MOVES)
    statuses, result = assert_same_as_np_median(rec.track(), LONG_HOLD, HoldSettings(calibrate_s=calibrate_s))
    assert any("BROKEN" in s for s in statuses) and any("RETURNING" in s for s in statuses)


@pytest.mark.slow
def test_monitor_statuses_equal_np_medians_on_real_squats(squats):
    """The real model's squat track (three breaks, returns, relax and a second repetition)."""
    track, _ = squats
    p = HoldProtocol.from_exercise(load_catalog().get(LOW_ROW))
    statuses, result = assert_same_as_np_median(track, p)
    assert json.loads(result)["summary"]["breaks"] >= 3


# ---------------------------------------------------------------------- the incremental settle window
class RestackedWindow:
    """The settle window as it was before ``SettleWindow``: a list of whole frames (reference)."""

    def __init__(self, settle_ms: float):
        self.settle_ms, self.frames = settle_ms, []

    def clear(self) -> None:
        self.frames = []

    def push(self, t, px, vis, ang) -> bool:
        buf = self.frames
        buf.append((t, px, vis, ang))
        while len(buf) > 1 and buf[1][0] <= t - self.settle_ms:
            buf.pop(0)
        return buf[0][0] <= t - self.settle_ms

    @property
    def first_t(self) -> float:
        return self.frames[0][0]


class RestackingMonitor(HoldMonitor):
    """The straightforward monitor: every settle test stacks its whole window again and works out every
    frame's body scale and the reference from the 33 landmarks (``reference_from_window``, ``deviations``)."""

    def _new_window(self):
        return RestackedWindow(self.settings.settle_s * 1000)

    def _settled(self, window):
        from assessment.stillness import deviations, reference_from_window

        buf = window.frames
        P, V, A = (np.stack([b[k] for b in buf]) for k in (1, 2, 3))
        ref = reference_from_window(P, V, A, self.channels)
        if ref is None:
            return None, np.nan, None
        dev = deviations(P, V, A, ref, self.channels) / self._band
        with np.errstate(invalid="ignore"):
            worst = np.nanmax(np.where(np.isfinite(dev), dev, -np.inf), axis=0)
        k = int(np.argmax(np.where(ref.measured, worst, -np.inf)))
        ratio = float(worst[k])
        return (ref if ratio <= 1.0 else None), ratio, self.channels.names[k]


def run_logged(cls, track, protocol, settings):
    """Every status (repr), every settle test's answer (reference bytes, ratio, worst channel) and the result."""
    mon = cls.for_track(protocol, track, settings=settings)
    tests, settled = [], mon._settled

    def logged(window):
        ref, ratio, worst = out = settled(window)
        tests.append((mon.phase.value, None if ref is None else
                      (ref.points.tobytes(), ref.scale, ref.scale_basis, ref.angles.tobytes()), repr(ratio), worst))
        return out

    mon._settled = logged
    statuses = [repr(mon.update_image(track.image[i], track.timestamp_ms[i])) for i in range(len(track))]
    return statuses, tests, json.dumps(mon.result().to_dict(), sort_keys=True)


def assert_incremental_equals_restacking(track, protocol, settings=HoldSettings()):
    fast = run_logged(HoldMonitor, track, protocol, settings)
    slow = run_logged(RestackingMonitor, track, protocol, settings)
    assert fast[1] == slow[1]          # every settle test: same reference to the bit, same ratio and channel
    assert fast[0] == slow[0]          # every status
    assert fast[2] == slow[2]          # the result
    return fast


PIR_BARRIER = HoldProtocol("pir-barrier", hold_s=4, relax_s=1, stretch_s=2, repetitions=3, still_landmarks=LANDMARKS,
                           still_angles=("head_tilt",), technique="PIR", barrier_angle="head_side_bend")


def partly_hidden(rec):
    """Dropouts inside settle windows: the left shoulder hidden 400 ms in every 2.5 s (a reference from
    the visible frames, or the channel not measured), the hips gone for 2.5 s (the shoulder-width scale),
    nobody in view for 1.5 s."""
    t = rec.timestamp_ms
    rec.image[(t % 2500) < 400, LANDMARK_INDEX["left_shoulder"], 3] = 0.2
    rec.image[(t >= 9000) & (t < 11500), LANDMARK_INDEX["left_hip"]:LANDMARK_INDEX["right_hip"] + 1, 3] = 0.1
    rec.image[(t >= 16000) & (t < 17500)] = np.nan
    return rec


@pytest.mark.parametrize("fps", [15, 20, 30, 60])
@pytest.mark.parametrize("calibrate_s", [0.0, 3.0])
def test_incremental_settle_window_equals_restacking_on_constructed_breaks(fps, calibrate_s):
    """Jitter, the five injected movements (breaks and returns) and a stay at a new place (re-anchors).
    At 20 fps the timestamps are exact multiples of 50 ms: a frame falls exactly at t - settle_s."""
    moves = MOVES + [Move(("left_hip",), 31000, 0.2, hold_ms=3000, rise_ms=200)]
    jitter = Jitter(timestamp_ms=0.0) if fps == 20 else Jitter()
    rec = inject(still_recording(38.0, fps=fps, seed=1, jitter=jitter), moves)
    statuses, tests, result = assert_incremental_equals_restacking(rec.track(), LONG_HOLD,
                                                                  HoldSettings(calibrate_s=calibrate_s))
    assert any("BROKEN" in s for s in statuses) and any("RETURNING" in s for s in statuses)
    # the settle test ran in position (started the hold) and in the hold (re-anchored after the stay)
    assert any(ph == "position" and ref is not None for ph, ref, _, _ in tests)
    assert any(ph == "hold" and ref is not None for ph, ref, _, _ in tests)
    assert json.loads(result)["repetitions"][0]["reanchors"] >= 1


def test_incremental_settle_window_equals_restacking_with_joints_hidden_in_the_window():
    """Stays at new places while joints are hidden: the settle test's NaN paths and the other scale."""
    moves = [Move(("nose", "left_ear", "right_ear"), 4000, 0.15, hold_ms=2500, rise_ms=200),
             Move(("left_shoulder", "right_shoulder"), 9300, 0.15, hold_ms=2000, rise_ms=200),
             Move(("right_hip",), 13000, 0.2, hold_ms=2000, rise_ms=200)]
    rec = partly_hidden(inject(still_recording(22.0, fps=30, seed=5), moves))
    statuses, tests, result = assert_incremental_equals_restacking(rec.track(), LONG_HOLD)
    assert any("NOT_VISIBLE" in s for s in statuses) and json.loads(result)["repetitions"][0]["reanchors"] >= 2
    assert any(r is not None and np.isnan(np.frombuffer(r[0])).any() for _, r, _, _ in tests)   # not measured
    assert any(r is not None and r[2] == "shoulder_width" for _, r, _, _ in tests)


def test_incremental_settle_window_equals_restacking_in_upper_body_framing():
    """Hips never in view, a neck exercise's joints all seen: every window's scale is the shoulder width."""
    neck = HoldProtocol("neck-test", hold_s=600, relax_s=0, stretch_s=0, repetitions=1,
                        still_landmarks=("nose", "left_ear", "right_ear", "left_shoulder", "right_shoulder"),
                        still_angles=("head_tilt",))
    moves = [Move(("nose", "left_ear", "right_ear"), 4000 + 5000 * i, 0.15, hold_ms=2000 + 500 * i, rise_ms=200)
             for i in range(3)]
    rec = inject(still_recording(20.0, fps=30, seed=6), moves)
    rec.image[:, LANDMARK_INDEX["left_hip"]:LANDMARK_INDEX["right_hip"] + 1, 3] = 0.1
    statuses, tests, result = assert_incremental_equals_restacking(rec.track(), neck)
    refs = [r for _, r, _, _ in tests if r is not None]
    assert len(refs) >= 3 and all(r[2] == "shoulder_width" for r in refs)


@pytest.mark.parametrize("settle_s", [0.5, 1.0, 3.0])
def test_incremental_settle_window_equals_restacking_over_repetitions(settle_s):
    """Three repetitions with relax, stretch and barrier (a new window in every position phase), and a
    3-s window at 60 fps (181 frames: the running arrays grow)."""
    moves = [Move(("nose", "left_ear", "right_ear"), 4000 + 6000 * i, 0.15, hold_ms=2500, rise_ms=200)
             for i in range(4)]
    rec = inject(still_recording(30.0, fps=60 if settle_s == 3.0 else 30, seed=5), moves)
    statuses, tests, result = assert_incremental_equals_restacking(rec.track(), PIR_BARRIER,
                                                                  HoldSettings(settle_s=settle_s))
    doc = json.loads(result)
    assert len(doc["repetitions"]) >= 2 and any("STRETCH" in s for s in statuses)
    assert doc["barrier"]["angle"] == "head_side_bend"
    assert sum(ph == "position" and ref is not None for ph, ref, _, _ in tests) >= 2


@pytest.mark.slow
def test_incremental_settle_window_equals_restacking_on_real_clips(squats, still_standing, still_tpose):
    """The real model's tracks: the squats (three breaks, returns, a second repetition) and two still clips."""
    p = HoldProtocol.from_exercise(load_catalog().get(LOW_ROW))
    statuses, tests, result = assert_incremental_equals_restacking(squats[0], p)
    assert json.loads(result)["summary"]["breaks"] >= 3
    assert sum(ref is not None for _, ref, _, _ in tests) >= 2
    for track in (still_standing, still_tpose):
        assert_incremental_equals_restacking(track, p, HoldSettings(calibrate_s=2.0))
