"""vision.drawing: the skeleton lands where the landmarks are, in the side's colour; the yuv420p frame is
OpenCV's conversion; the annotated-video writer encodes with its declared x264 settings and every frame
decodes back in order with its own timestamp (what vision.render's packet-copy join relies on)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from vision.drawing import (LEFT_COLOR, MID_COLOR, RIGHT_COLOR, X264_OPTIONS, AnnotatedVideoWriter, draw_pose,
                            yuv420p_frame)
from vision.track import LANDMARK_INDEX


def pose(points: dict[str, tuple[float, float]], visibility: float = 1.0) -> np.ndarray:
    """(33, 5) normalized landmarks: the named points where given, the others invisible far off-frame."""
    lm = np.zeros((33, 5))
    lm[:, :2] = -1.0
    for name, (x, y) in points.items():
        lm[LANDMARK_INDEX[name]] = (x, y, 0.0, visibility, visibility)
    return lm


def test_skeleton_lines_in_the_sides_colours_at_the_landmarks():
    rgb = np.zeros((200, 300, 3), np.uint8)
    lm = pose({"left_shoulder": (0.2, 0.2), "left_elbow": (0.2, 0.8),        # a vertical left upper arm
               "right_shoulder": (0.8, 0.2), "right_elbow": (0.8, 0.8)})     # and a right one
    draw_pose(rgb, lm)
    assert tuple(rgb[100, 60]) == LEFT_COLOR          # x 0.2 * 300, midway down the left arm
    assert tuple(rgb[100, 240]) == RIGHT_COLOR
    assert tuple(rgb[40, 150]) == MID_COLOR           # shoulder to shoulder, across the middle
    assert tuple(rgb[40, 60]) == (255, 255, 255)      # the joint's white dot
    assert not rgb[100, 150].any() and not rgb[180, 10].any()   # nothing elsewhere


def test_hidden_landmarks_and_missing_poses_draw_nothing():
    lm = pose({"left_shoulder": (0.2, 0.2), "left_elbow": (0.2, 0.8)}, visibility=0.3)
    rgb = np.zeros((200, 300, 3), np.uint8)
    draw_pose(rgb, lm)
    assert not rgb.any()
    lm[LANDMARK_INDEX["left_shoulder"], 3] = lm[LANDMARK_INDEX["left_elbow"], 3] = 0.9
    draw_pose(rgb, lm)
    assert tuple(rgb[100, 60]) == LEFT_COLOR          # the same pair, visible: drawn
    empty = np.zeros((200, 300, 3), np.uint8)
    draw_pose(empty, np.full((33, 5), np.nan))
    assert not empty.any()


@pytest.mark.parametrize("height", [48, 50])      # 50: PyAV's from_numpy_buffer would make it 48 rows
def test_yuv420p_frame_holds_opencvs_conversion(height):
    import cv2

    rgb = np.random.default_rng(0).integers(0, 256, (height, 64, 3), np.uint8)
    frame = yuv420p_frame(rgb)
    assert (frame.width, frame.height, frame.format.name) == (64, height, "yuv420p")
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    assert np.array_equal(frame.to_ndarray(format="yuv420p"), i420)
    blocks = np.kron(rgb[:height // 8, :8], np.ones((8, 8, 1), np.uint8))   # 8x8 blocks: 4:2:0 loses no colour
    back = yuv420p_frame(blocks).to_ndarray(format="rgb24").astype(int)
    assert np.abs(back - blocks).mean() < 2 and np.abs(back - blocks).max() <= 6


def x264_settings(path) -> dict[str, str]:
    """x264's own record of its settings (the SEI it writes in the first packet)."""
    import av

    with av.open(str(path)) as c:
        first = next(p for p in c.demux(c.streams.video[0]) if p.size)
    found = re.search(rb"options: ([ -~]+)", bytes(first))
    assert found, "no x264 settings in the first packet"
    return dict(kv.split("=", 1) for kv in found.group(1).decode().split() if "=" in kv)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """30 distinct frames (a moving bar) with uneven, variable timestamps, odd size (padded to 96x62: a
    height 2 more than a multiple of 4, see yuv420p_frame)."""
    out = tmp_path_factory.mktemp("writer") / "v.mp4"
    frames, times = [], np.cumsum([0] + [33, 34, 50, 33, 100] * 6)[:30].astype(float)
    with AnnotatedVideoWriter(out, 95, 61, 30.0) as w:
        for k, t in enumerate(times):
            rgb = np.full((61, 95, 3), 40, np.uint8)
            rgb[50:] = (250, 250, 250)                 # a band along the bottom: the rows must all arrive
            rgb[:, 3 * k: 3 * k + 6] = (250, 250, 250)
            frames.append(rgb)
            w.write(rgb, t)
    assert w.frames_written == 30 and not out.with_name("v.mp4.partial.mp4").exists()
    return out, frames, times


def test_writer_applies_its_x264_settings(written):
    out, _, _ = written
    opts = x264_settings(out)
    assert float(opts["crf"]) == float(X264_OPTIONS["crf"])
    assert opts["threads"] == X264_OPTIONS["threads"] == "1" and opts["lookahead_threads"] == "1"
    assert opts["bframes"] == "0"                      # presentation order: parts join by packet copy
    assert (opts["cabac"], opts["me"], opts["subme"]) == PRESET_SIGNS[X264_OPTIONS["preset"]]


# what x264's presets set (x264 --fullhelp): CABAC, motion search, subpixel refinement
PRESET_SIGNS = {"ultrafast": ("0", "dia", "0"), "superfast": ("1", "dia", "1"), "veryfast": ("1", "hex", "2")}


def test_every_frame_decodes_in_order_with_its_timestamp(written):
    import av

    out, frames, times = written
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        packets = [p for p in c.demux(stream) if p.size]
        assert all(p.pts == p.dts for p in packets)    # no reordering
    with av.open(str(out)) as c:
        got = [(f.time, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    assert len(got) == 30 and got[0][1].shape == (62, 96, 3)
    np.testing.assert_allclose([t for t, _ in got], times / 1000, atol=5e-4)
    for k, (_, rgb) in enumerate(got):
        bright = np.flatnonzero(rgb[:48, :95].mean(axis=(0, 2)) > 145)      # the bar's columns
        away = slice(70, 95) if k < 18 else slice(0, 30)      # columns away from this frame's bar
        rows = rgb[:, away].mean(axis=(1, 2))          # grey, the band, then the padding row
        assert (rows[:48] < 60).all() and (rows[51:61] > 220).all() and rows[61] < 60, (k, rows.round())
        assert abs(bright.mean() - (3 * k + 2.5)) <= 1, k                  # frame k's bar, not a neighbour's


@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_a_label_is_the_pixels_opencv_draws_in_place_also_when_drawn_again(corner):
    """draw_label keeps the last labels' pixels and copies them in again: on any frame, first time or
    repeated, the result is exactly OpenCV's band and text drawn in place, and nothing outside the band
    changes (the band is opaque and holds its text)."""
    import cv2

    from vision.drawing import _label_layout, draw_label, label_box

    rng = np.random.default_rng(1)
    texts = ["HOLD  rep 1/5", "still 3.2/10 s  breaks 1", "frame 17  0.57 s  no person", "g", "x" * 40]
    for k in range(3):                                      # the third and later rounds copy kept labels
        for shape in ((576, 576, 3), (480, 640, 3)):
            for row, text in enumerate(texts):
                color = tuple(int(c) for c in rng.integers(0, 256, 3))
                frame = rng.integers(0, 256, shape, np.uint8)
                want = frame.copy()
                (x0, y0, x1, y1), th, scale, thick = _label_layout(shape, text, row, corner)
                cv2.rectangle(want, (x0, y0), (x1, y1), (0, 0, 0), -1)
                cv2.putText(want, text, (x0 + 5, y0 + th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick,
                            cv2.LINE_AA)
                got = draw_label(frame, text, row=row, color=color, corner=corner)
                assert got is frame and np.array_equal(got, want), (k, shape, row, text)
                assert (x0, y0, x1, y1) == label_box(shape, text, row, corner)
    small = rng.integers(0, 256, (40, 60, 3), np.uint8)    # a band wider than the frame: drawn, clipped
    want = small.copy()
    (x0, y0, x1, y1), th, scale, thick = _label_layout(small.shape, texts[-1], 0, corner)
    cv2.rectangle(want, (x0, y0), (x1, y1), (0, 0, 0), -1)
    cv2.putText(want, texts[-1], (x0 + 5, y0 + th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick,
                cv2.LINE_AA)
    assert np.array_equal(draw_label(small, texts[-1], corner=corner), want)



def test_a_label_on_a_four_channel_frame_is_drawn_in_place():
    """Kept bands are 8-bit RGB; on any other frame (here RGBA) the label is drawn in place as before."""
    import cv2

    from vision.drawing import _label_layout, draw_label

    frame = np.random.default_rng(2).integers(0, 256, (200, 300, 4), np.uint8)
    want = frame.copy()
    (x0, y0, x1, y1), th, scale, thick = _label_layout(frame.shape, "HOLD", 0, "top-left")
    cv2.rectangle(want, (x0, y0), (x1, y1), (0, 0, 0), -1)
    cv2.putText(want, "HOLD", (x0 + 5, y0 + th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (40, 200, 80), thick,
                cv2.LINE_AA)
    assert np.array_equal(draw_label(frame, "HOLD", color=(40, 200, 80)), want)
