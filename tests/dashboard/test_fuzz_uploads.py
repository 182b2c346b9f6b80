"""Fuzzing the upload checks (dashboard/uploads.py): any uploaded name and size is accepted with a video
suffix or refused with ``UploadRejected``; the name shown is always one safe line; any upload id, even
tampered with, reaches nothing but a folder inside the uploads folder; any bytes that are not a video
are refused and leave nothing behind."""

from __future__ import annotations

import io
import shutil

from hypothesis import example, given
from hypothesis import strategies as st

from dashboard.uploads import (VIDEO_SUFFIXES, UploadRejected, check_name_and_size, display_name, save_upload,
                               upload_folder, uploads_dir)
from isobalance.config import Config
from tests.fuzzing import budget

NAMES = st.one_of(st.text(max_size=300), st.sampled_from(["../../etc/passwd.mp4", "/abs/x.MP4", "..\\x.mov", ".mp4",
                                                          "a.mp4\x00.txt", "\x1b[31mred.mp4", "x." + "m" * 300]),
                  st.builds(lambda a, b: a + b, st.text(max_size=40), st.sampled_from(VIDEO_SUFFIXES)))


def config(tmp_path) -> Config:
    return Config().override("dashboard", data_dir=str(tmp_path / "data"), max_upload_mb=1)


@budget(300)
@given(name=NAMES, size=st.integers(-2**40, 2**40))
@example(name="clip.mp4", size=-5)                  # a negative announced size was accepted
def test_any_name_and_size_is_accepted_as_a_video_or_refused(tmp_path, name, size):
    try:
        suffix = check_name_and_size(name, size, config(tmp_path))
    except UploadRejected as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert suffix in VIDEO_SUFFIXES and 0 < size <= 1 << 20


@budget(300)
@given(name=NAMES)
def test_the_name_shown_is_one_safe_line(name):
    shown = display_name(name)
    assert 0 < len(shown) <= 80
    assert not any(c in shown for c in "/\\\n\r\x00\x1b")


@budget(200)
@given(upload_id=st.one_of(st.text(max_size=80), st.from_regex(r"[0-9a-f]{32}", fullmatch=True),
                           st.sampled_from(["..", "/", "../" + "a" * 29, "a" * 32 + "/..", "A" * 32])))
def test_any_upload_id_reaches_only_a_folder_inside_the_uploads_folder(tmp_path, upload_id):
    cfg = config(tmp_path)
    root = uploads_dir(cfg).resolve()
    (root / ("a" * 32)).mkdir(exist_ok=True)
    try:
        folder = upload_folder(cfg, upload_id)
    except UploadRejected:
        return
    assert folder.resolve().parent == root


@budget(25)
@given(data=st.binary(min_size=1, max_size=4000), name=st.sampled_from(["x.mp4", "x.mov", "x.webm", "x.avi"]))
def test_bytes_that_are_not_a_video_are_refused_and_leave_nothing(tmp_path, data, name):
    cfg = config(tmp_path)
    try:
        saved = save_upload(name, io.BytesIO(data), len(data), cfg)
    except UploadRejected:
        assert list(uploads_dir(cfg).iterdir()) == []
    else:                                     # a few bytes can be a valid stream header; then it is kept whole
        assert saved.video.read_bytes() == data
        shutil.rmtree(saved.folder)
