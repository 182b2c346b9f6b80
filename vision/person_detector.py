"""BlazePose's person detector alone: the bundle's ``pose_detector.tflite`` on a LiteRT interpreter.

The bystander search (``vision.search``) only needs to know who is in view, not their landmarks, so
it runs the first stage of MediaPipe's pose pipeline without the landmark model or a MediaPipe graph:
preprocess -> inference -> postprocess, returning plain numpy arrays (``Detections``).

Every constant below is the one MediaPipe's pose detection configures, read from its sources:
``mediapipe/modules/pose_detection/pose_detection_cpu.pbtxt`` and the Tasks graph that PoseLandmarker
runs, ``mediapipe/tasks/cc/vision/pose_detector/pose_detector_graph.cc`` (its options proto
``pose_detector_graph_options.proto``):

* ImageToTensor: 224x224, aspect ratio kept (letterbox, zero border), values in [-1, 1];
* SsdAnchors: 5 layers, strides 8/16/32/32/32, anchor offset 0.5, aspect ratio 1.0 plus the
  interpolated one (the proto's default ``interpolated_scale_aspect_ratio: 1.0``), fixed anchor size
  -> 2 anchors per cell per layer, layers of one stride sharing a grid: 28²·2 + 14²·2 + 7²·6 = 2254;
* TensorsToDetections: 12 values per anchor in x-first order (``reverse_output_order``): box centre
  x, y, width, height, then 4 keypoints (x, y), all divided by 224 and offset by the anchor centre
  (the anchor's width and height are 1); score = sigmoid of the raw score clipped to ±100, kept when
  >= the detection confidence (Tasks: ``min_pose_detection_confidence``, default 0.5);
* NonMaxSuppression: WEIGHTED, IoU of the boxes, threshold 0.5 (Tasks' ``min_suppression_threshold``
  default; the legacy pbtxt used 0.3): the best-scoring detection absorbs every remaining one that
  overlaps it by more than the threshold, its box and keypoints becoming their score-weighted mean;
* DetectionLetterboxRemoval: coordinates mapped back from the letterboxed square to the frame.

The box is the *face* box (the pbtxt says so); the keypoints are 0 hip centre, 1 a point whose
distance from it is the full body's radius, 2 shoulder centre, 3 the same for the upper body.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np

INPUT_SIZE = 224
STRIDES = (8, 16, 32, 32, 32)
NUM_BOXES = 2254
HIP, BODY, SHOULDER, UPPER_BODY = range(4)   # keypoint indices
SCORE_CLIP = 100.0
SUPPRESSION_IOU = 0.5


@dataclass(frozen=True)
class Detections:
    """People found in one frame, normalized to the frame (x / width, y / height), best first:
    ``boxes`` (N,4) face boxes xmin, ymin, xmax, ymax; ``keypoints`` (N,4,2); ``scores`` (N,)."""

    boxes: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def ssd_anchors(size: int = INPUT_SIZE, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """(NUM_BOXES, 2) anchor centres in the model's order: per run of equal strides one grid, row by
    row, each cell repeated for its anchors (2 per layer of that stride)."""
    centres = []
    k = 0
    while k < len(strides):
        same = 1
        while k + same < len(strides) and strides[k + same] == strides[k]:
            same += 1
        cells = int(np.ceil(size / strides[k]))
        grid = (np.arange(cells) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cell_centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell_centres, 2 * same, axis=0))
        k += same
    return np.concatenate(centres).astype(np.float32)


def preprocess(rgb: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Letterbox ``rgb`` (H,W,3 uint8) into a (1,size,size,3) float32 tensor in [-1, 1] (the border is
    black, i.e. -1) and return it with the padding (left, top, right, bottom) as fractions of ``size``."""
    import cv2

    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("expected an (H, W, 3) uint8 RGB image")
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    x0, y0 = (size - nw) // 2, (size - nh) // 2
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[y0:y0 + nh, x0:x0 + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1
                                                else cv2.INTER_LINEAR)
    tensor = canvas.astype(np.float32)[None] * (2.0 / 255.0) - 1.0
    return tensor, np.array([x0, y0, size - x0 - nw, size - y0 - nh], np.float32) / size


def postprocess(raw_boxes: np.ndarray, raw_scores: np.ndarray, padding: np.ndarray, anchors: np.ndarray,
                min_score: float = 0.5, iou: float = SUPPRESSION_IOU, size: int = INPUT_SIZE) -> Detections:
    """Decode the model's (NUM_BOXES,12) boxes and (NUM_BOXES,) raw scores into ``Detections``."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1).astype(np.float64), -SCORE_CLIP, SCORE_CLIP)))
    keep = np.flatnonzero(scores >= min_score)
    raw, centre = raw_boxes.reshape(-1, 12)[keep] / size, anchors[keep]
    mid, half = raw[:, :2] + centre, raw[:, 2:4] / 2
    boxes = np.concatenate([mid - half, mid + half], axis=1)
    keypoints = raw[:, 4:12].reshape(-1, 4, 2) + centre[:, None, :]
    boxes, keypoints, scores = _weighted_nms(boxes, keypoints, scores[keep], iou)
    left, top, right, bottom = padding
    gain = np.array([1.0 - left - right, 1.0 - top - bottom])
    offset = np.array([left, top])
    boxes = ((boxes.reshape(-1, 2, 2) - offset) / gain).reshape(-1, 4)
    keypoints = (keypoints - offset) / gain
    return Detections(boxes.astype(np.float32), keypoints.astype(np.float32), scores.astype(np.float32))


def _weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                  threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED non-maximum suppression: best first, each keeps its own score and takes the
    score-weighted mean box and keypoints of the remaining detections overlapping it by IoU > threshold."""
    order = np.argsort(-scores, kind="stable")
    out_b, out_k, out_s = [], [], []
    while len(order):
        best = order[0]
        overlap = _iou(boxes[best], boxes[order]) > threshold
        overlap[0] = True
        group, w = order[overlap], scores[order[overlap]]
        out_b.append((boxes[group] * w[:, None]).sum(axis=0) / w.sum())
        out_k.append((keypoints[group] * w[:, None, None]).sum(axis=0) / w.sum())
        out_s.append(scores[best])
        order = order[~overlap]
    if not out_s:
        return np.zeros((0, 4)), np.zeros((0, 4, 2)), np.zeros(0)
    return np.array(out_b), np.array(out_k), np.array(out_s)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lo, hi = np.maximum(box[:2], boxes[:, :2]), np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def unpacked_model(model: bytes) -> bytes:
    """``model`` with every constant weight stored as the float32 tensor XNNPACK packs, and no op left
    that makes it at run time (the bundle's detector stores them sparse or as float16, expanded by
    DENSIFY and DEQUANTIZE ops).

    Why: XNNPACK keeps the float32 weights it unpacks from those ops for the interpreter's lifetime
    (``static_unpacked_data_``, ~12 MB here) beside its packed copy. Stored float32 in a file the
    interpreter maps, they are read once while it packs them and their pages can then be dropped
    (``vision.memory.release_file_pages``). The values are the ones those ops compute (LiteRT's own
    kernels run them once here, without XNNPACK), so the packed weights, and every detection, are
    bit-identical (tests/vision/test_person_detector.py)."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from vision.tflite_edit import drop_unread, packed

    tree = schema.ModelT.InitFromPackedBuf(model, 0)
    graph = tree.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in tree.operatorCodes]
    unpack = (schema.BuiltinOperator.DEQUANTIZE, schema.BuiltinOperator.DENSIFY)
    # every tensor kept after the invoke (without it some unpacked weights share memory with activations)
    reference = Interpreter(model_content=model, num_threads=1, experimental_preserve_all_tensors=True,
                            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    reference.allocate_tensors()
    given = reference.get_input_details()[0]
    reference.set_tensor(given["index"], np.zeros(given["shape"], given["dtype"]))
    reference.invoke()
    kept = []
    for op in graph.operators:
        code = codes[op.opcodeIndex]
        if code not in unpack:
            kept.append(op)
        elif code == schema.BuiltinOperator.DEQUANTIZE:    # its output: the float32 weights
            out = int(op.outputs[0])
            values = reference.get_tensor(out)
            if values.dtype != np.float32:
                raise ValueError(f"DEQUANTIZE gave {values.dtype}, not float32")
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(values.tobytes(), np.uint8)
            tree.buffers.append(buffer)
            graph.tensors[out].buffer = len(tree.buffers) - 1
    del reference
    graph.operators = kept
    drop_unread(tree, graph)                               # the float16 / sparse originals
    return packed(tree, len(model) * 5)


class PersonDetector:
    """``detect(rgb) -> Detections`` with the bundle's person detector on one LiteRT interpreter
    (XNNPACK, one thread). Thread-safe: the parallel path's segments share one detector, the
    interpreter (its tensors are shared state) runs one frame at a time under a lock; one per thread
    would cost ~31 MB each (measured per interpreter created: README, Measured; ~27 MB with the
    float32 weights of ``unpacked_model``). ``calls`` counts frames detected."""

    def __init__(self, model_path: str | os.PathLike, min_detection_confidence: float = 0.5,
                 num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        from vision.models import ModelError, read_detector, unpacked_detector

        self.min_score = float(min_detection_confidence)
        # float32 weights from a file, whose pages are dropped once XNNPACK has packed them (first
        # detect): ~11 MB less than the bundle's float16/sparse weights, which XNNPACK unpacks and keeps
        # (unpacked_model); the bundle's own bytes when the model cache cannot be written or the
        # rewrite fails (a bundle error is raised as before, by read_detector)
        self._unpacked = self._interpreter = None
        try:
            self._unpacked = unpacked_detector(model_path)
            if self._unpacked is not None:
                self._interpreter = Interpreter(model_path=str(self._unpacked), num_threads=num_threads)
        except ModelError:
            raise
        except Exception:  # noqa: BLE001 - any failure of the rewrite: the bundle's weights as they are
            self._unpacked = self._interpreter = None
        if self._interpreter is None:
            self._interpreter = Interpreter(model_content=read_detector(model_path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {tuple(d["shape"]): d["index"] for d in self._interpreter.get_output_details()}
        self._boxes, self._scores = outputs[(1, NUM_BOXES, 12)], outputs[(1, NUM_BOXES, 1)]
        self._anchors = ssd_anchors()
        self._lock = threading.Lock()
        self.calls = 0

    def detect(self, rgb: np.ndarray) -> Detections:
        tensor, padding = preprocess(rgb)
        with self._lock:
            self._interpreter.set_tensor(self._input, tensor)
            self._interpreter.invoke()
            raw_boxes = self._interpreter.get_tensor(self._boxes)[0]
            raw_scores = self._interpreter.get_tensor(self._scores)[0]
            self.calls += 1
            if self._unpacked is not None:        # packed and run once: the file is read no more
                from vision.memory import release_file_pages

                release_file_pages(self._unpacked)
                self._unpacked = None
        return postprocess(raw_boxes, raw_scores, padding, self._anchors, self.min_score)

    def close(self) -> None:
        self._interpreter = None

    def __enter__(self) -> "PersonDetector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
