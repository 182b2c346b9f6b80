"""vision.tflite_edit on the real pose landmark model: the segmentation head goes, every other output
stays bit-identical on a real person's frame, and the mask is zeros of its shape (the input's first channel minus itself)."""

from __future__ import annotations

import zipfile

import cv2
import numpy as np
import pytest


def _landmark_model(model_path) -> bytes:
    from vision.models import BUNDLE_MEMBERS
    from vision.person_detector import unpacked_model

    with zipfile.ZipFile(model_path) as zf:
        return unpacked_model(zf.read(BUNDLE_MEMBERS[1]))


def _outputs(model: bytes, image: np.ndarray) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model, num_threads=1)
    it.allocate_tensors()
    given = it.get_input_details()[0]
    it.set_tensor(given["index"], image[None])
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]).copy() for d in it.get_output_details()}


def _ops(model: bytes) -> int:
    from ai_edge_litert import schema_py_generated as schema

    return len(schema.ModelT.InitFromPackedBuf(model, 0).subgraphs[0].operators)


def test_removing_the_mask_head_keeps_every_landmark_output_bit_identical(model_path, sample_clip):
    """A real frame of the squats clip (the person's crop resized to the model's 256x256 input, values
    in [0, 1] as MediaPipe feeds them): landmarks, presence, heatmap and world landmarks equal the full
    model's bit for bit; the mask output keeps its shape and is all zeros (the full model's is not);
    ops are removed."""
    from vision.tflite_edit import segmentation_output, zero_output

    full = _landmark_model(model_path)
    mask = segmentation_output(full)
    assert mask is not None
    edited = zero_output(full, mask)
    assert _ops(edited) < _ops(full) - 10                  # measured: 20 of 332 ops go

    cap = cv2.VideoCapture(str(sample_clip("tfjs_pose_squats.mp4")))
    ok, bgr = cap.read()
    cap.release()
    assert ok
    rgb = cv2.cvtColor(cv2.resize(bgr, (256, 256), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    image = (rgb / 255.0).astype(np.float32)
    before, after = _outputs(full, image), _outputs(edited, image)
    assert before.keys() == after.keys()
    for name in before:
        assert before[name].shape == after[name].shape, name
        if name == mask:
            assert not after[name].any() and before[name].any()
        else:
            assert np.array_equal(before[name], after[name]), name
    landmarks = max(before.values(), key=lambda a: a.size if a.ndim == 2 else 0)
    assert np.isfinite(landmarks).all() and np.ptp(landmarks) > 1     # a real output, not zeros


def test_only_a_mask_shaped_output_is_recognised_and_unknown_names_are_refused(model_path):
    """The person detector has no (1, H, W, 1) output; a name the model lacks is a ValueError, and so is
    the mask of an already edited model (nothing of the model's own left to remove)."""
    from vision.models import read_detector
    from vision.tflite_edit import segmentation_output, zero_output

    assert segmentation_output(read_detector(model_path)) is None
    full = _landmark_model(model_path)
    with pytest.raises(ValueError, match="no output named"):
        zero_output(full, "no_such_output")
    once = zero_output(full, segmentation_output(full))
    with pytest.raises(ValueError, match="nothing to remove"):
        zero_output(once, segmentation_output(once))     # already edited: nothing of the model's left to remove
