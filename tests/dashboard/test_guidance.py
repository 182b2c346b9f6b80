"""Live guidance during the guided exercise (issue #13, bug 3): the patient is told why the hold has not
started, which joint is outside the still zone and which way to move it back; a rest calibration is
refused while the person moves; the on-video text stays off the head.

Real model on real frames of tfjs_pose_squats.mp4 letterboxed to 640x480 at a simulated 15 fps:
frames 20-26 (standing between squats, forward and back) are "still"; the whole clip (three squats)
is "moving". "Moved up by a known amount" is the standing frame translated 40 px up (a construction:
every landmark moves up by the same 40 px).
"""

from __future__ import annotations

import numpy as np
import pytest

from assessment.hold import HoldProtocol, HoldSettings, Phase
from dashboard.guidance import direction_words, facing_camera
from dashboard.live import GuidedCapture, LiveHold, LiveSession
from dashboard.overlay import head_box, text_corner
from tests.dashboard.frames import letterbox
from tests.dashboard.test_live_processors import FakeClock, standing_loop
from vision.drawing import label_box
from vision.pipeline import PipelineSettings

FPS = 15.0
NECK = ("nose", "left_ear", "right_ear", "left_shoulder", "right_shoulder")


@pytest.fixture(scope="module")
def clock():
    return FakeClock()


def protocol(hold_s: float = 30.0) -> HoldProtocol:
    return HoldProtocol("neck-test", hold_s=hold_s, relax_s=1.0, stretch_s=0.0, repetitions=1, still_landmarks=NECK)


def feed(session: LiveSession, clock: FakeClock, frames: list[np.ndarray], seconds: float, repeat: int = 3) -> None:
    for i in range(int(seconds * FPS)):
        clock.t += 1000.0 / FPS
        session.process(frames[(i // repeat) % len(frames)])


def shifted(rgb: np.ndarray, dy: int) -> np.ndarray:
    out = np.zeros_like(rgb)
    if dy < 0:
        out[:dy] = rgb[-dy:]
    else:
        out[dy:] = rgb[:rgb.shape[0] - dy]
    return out


# ----------------------------------------------------------------------------------- words (constructions)
def test_direction_words_use_the_persons_own_left_and_right():
    # the picture's right is the person's left when they face the camera, their right from behind
    assert direction_words(30, 0, facing_camera=True) == "to your left"
    assert direction_words(30, 0, facing_camera=False) == "to your right"
    assert direction_words(0, -30, facing_camera=True) == "up"
    assert direction_words(-20, 25, facing_camera=True) == "down and to your right"
    assert direction_words(30, 0, facing_camera=None) == ""        # side view: left/right not guessed
    assert direction_words(1, 1, facing_camera=True, min_px=2.0) == ""


def test_facing_camera_from_the_shoulders():
    from vision.track import LANDMARK_INDEX

    img = np.full((33, 5), np.nan)
    img[LANDMARK_INDEX["left_shoulder"], 0], img[LANDMARK_INDEX["right_shoulder"], 0] = 0.6, 0.4
    assert facing_camera(img) is True
    img[LANDMARK_INDEX["left_shoulder"], 0], img[LANDMARK_INDEX["right_shoulder"], 0] = 0.4, 0.6
    assert facing_camera(img) is False
    img[LANDMARK_INDEX["left_shoulder"], 0] = 0.59
    assert facing_camera(img) is None


# ----------------------------------------------------------------------------------- real frames
def test_moving_person_is_told_why_the_hold_has_not_started(estimator, squat_frames, clock):
    session = LiveSession(estimator, PipelineSettings(),
                          LiveHold(protocol(), HoldSettings(calibrate_s=0.0, settle_s=1.0)), now_ms=clock.new_session())
    squats = [letterbox(f, 4.0) for f in squat_frames]
    feed(session, clock, squats, 4.0, repeat=1)          # 4 s of squatting at 15 fps
    snap = session.snapshot()
    assert snap.hold.phase is Phase.POSITION
    g = snap.guidance
    assert g.text.startswith("The hold has not started: your ") and "is moving" in g.text, g.text
    assert g.joint in NECK and g.joint.replace("_", " ") in g.text
    assert "keep it still" in g.text.lower() and "for 1 s" in g.text


def test_calibration_is_refused_while_moving_and_accepted_when_still(estimator, squat_frames, clock):
    session = LiveSession(estimator, PipelineSettings(),
                          LiveHold(protocol(), HoldSettings(calibrate_s=2.0, settle_s=1.0)), now_ms=clock.new_session())
    squats = [letterbox(f, 4.0) for f in squat_frames]
    feed(session, clock, squats, 5.0, repeat=1)          # squatting for 5 s: longer than the 2-s calibration
    snap = session.snapshot()
    assert snap.hold.phase is Phase.CALIBRATE, "a calibration made while moving was accepted"
    assert snap.calibration_restarts >= 1
    assert snap.guidance.text.startswith("Calibration started again: your ") and "moved" in snap.guidance.text
    feed(session, clock, standing_loop(squat_frames, 4.0), 5.0)     # then standing still
    snap = session.snapshot()
    assert snap.hold.phase in (Phase.POSITION, Phase.HOLD), snap.hold
    assert session.task.monitor.band.source == "calibration"


def test_a_joint_that_left_the_still_zone_is_named_with_the_way_back(estimator, squat_frames, clock):
    session = LiveSession(estimator, PipelineSettings(),
                          LiveHold(protocol(), HoldSettings(calibrate_s=0.0, settle_s=1.0)), now_ms=clock.new_session())
    still = standing_loop(squat_frames, 4.0)
    feed(session, clock, still, 3.0)
    assert session.snapshot().hold.phase is Phase.HOLD
    feed(session, clock, [shifted(f, -40) for f in still], 1.0)     # everything 40 px higher
    snap = session.snapshot()
    assert snap.hold.stillness.value in ("moving", "broken")
    g = snap.guidance
    assert g.text.startswith("Your ") and "moved out of the still zone: bring it back down" in g.text, g.text
    assert g.joint in NECK


def test_on_video_text_stays_off_the_head(estimator, squat_frames, clock):
    """Guided capture and hold overlays: no label band crosses the head's box (real pose, centred person)."""
    from assessment.hold_drawing import status_lines

    session = LiveSession(estimator, PipelineSettings(), GuidedCapture(), now_ms=clock.new_session())
    frame = standing_loop(squat_frames, 4.0)[0]
    feed(session, clock, [frame], 1.0)
    pose = session.stream.pose(frame)
    head = head_box(pose.image, frame.shape)
    assert head is not None
    lines = session.task.overlay_text(pose.timestamp_ms)
    corner = text_corner(frame.shape, lines, pose.image)
    boxes = [label_box(frame.shape, t, r, corner) for r, t in enumerate(lines)]
    assert all(b[2] <= head[0] or b[0] >= head[2] or b[3] <= head[1] or b[1] >= head[3] for b in boxes), (corner, boxes, head)
    hold = LiveSession(estimator, PipelineSettings(), LiveHold(protocol(), HoldSettings(calibrate_s=0.0)),
                       now_ms=clock.new_session())
    feed(hold, clock, [frame], 2.0)
    lines = status_lines(hold.task.status)
    corner = text_corner(frame.shape, lines, pose.image)
    boxes = [label_box(frame.shape, t, r, corner) for r, t in enumerate(lines)]
    assert all(b[2] <= head[0] or b[0] >= head[2] or b[3] <= head[1] or b[1] >= head[3] for b in boxes)
    # the old placement (top-left, prompt wrapped at 40 characters from row 1 on) crossed it on this frame
    old = [label_box(frame.shape, "Step back or move the camera so your feet", r, "top-left") for r in (1, 2, 3)]
    assert any(not (b[2] <= head[0] or b[0] >= head[2] or b[3] <= head[1] or b[1] >= head[3]) for b in old)


def test_in_frame_needs_head_and_feet_of_a_standing_body(estimator, model_path, sample_clip, squat_frames, clock):
    """The still back-view clip letterboxed to 640x480 (as a webcam would show it): a landmarker that runs
    its person detector on every frame (``num_poses=2``, no tracker) fits the whole skeleton on the legs
    (head found below the hips) although every landmark is inside the picture - "whole body in frame"
    must not pass. The live pages' own estimator (MediaPipe's tracker) fits that person head to feet, and
    the standing squat frames pass."""
    from dashboard.live import head_to_feet_fraction, make_estimator, step_checks
    from vision.sources import open_source
    from vision.track import LandmarkTrack, TrackMeta

    with open_source(str(sample_clip("pose2sim_static_cam02.mp4"))) as src:
        back = [letterbox(f.rgb) for f in src]

    def track_of(frames, seconds, est=estimator):
        session = LiveSession(est, PipelineSettings(), GuidedCapture(), now_ms=clock.new_session())
        poses = []
        for i in range(int(seconds * FPS)):
            clock.t += 1000.0 / FPS
            poses.append(session.stream.pose(frames[(i // 3) % len(frames)]))
        return LandmarkTrack.from_frames(poses[-15:], TrackMeta(width=640, height=480))

    detector = make_estimator(model_path, PipelineSettings(num_poses=2, search_every=0))
    try:
        legs_only = track_of(back + back[::-1], 2.0, detector)
    finally:
        detector.close()
    assert head_to_feet_fraction(legs_only) < 0.5
    in_frame = {c.name: c for c in step_checks(legs_only, "front")}["in_frame"]
    assert in_frame.ok is False and "head and feet" in in_frame.message
    assert head_to_feet_fraction(track_of(back + back[::-1], 2.0)) >= 0.8     # the in-frame check's bar
    standing = track_of(standing_loop(squat_frames, 4.0), 2.0)
    assert head_to_feet_fraction(standing) == 1.0
    assert {c.name: c for c in step_checks(standing, "front")}["in_frame"].ok is True
