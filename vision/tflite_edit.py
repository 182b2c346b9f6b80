"""Edits of a TFLite model's graph that leave every output isobalance reads bit-identical.

The pose landmark model computes, beside the landmarks, a 256x256 person segmentation mask through its own
decoder branch: 20 ops at full input resolution, ~29 % of the model's CPU (LiteRT, one thread: 17.6 ->
12.5 ms an invoke on this machine). MediaPipe's PoseLandmarker only turns that tensor into a mask when
``output_segmentation_masks`` is set, which isobalance never does (``vision.landmarker.PoseEstimator``).
``constant_output`` removes such a branch: the output stays in the graph, with its shape, so MediaPipe's
graph wiring is unchanged, but holds zeros and costs nothing to compute.
"""

from __future__ import annotations

import numpy as np


def _producers(graph) -> dict[int, int]:
    return {int(t): k for k, op in enumerate(graph.operators) for t in op.outputs}


def _cone(graph, producers: dict[int, int], tensor: int) -> set[int]:
    """Indices of every op ``tensor`` depends on (itself included through its producer)."""
    seen: set[int] = set()
    todo = [tensor]
    while todo:
        k = producers.get(todo.pop())
        if k is not None and k not in seen:
            seen.add(k)
            todo.extend(int(i) for i in graph.operators[k].inputs if i >= 0)
    return seen


def segmentation_output(model: bytes) -> str | None:
    """The name of the pose landmark model's segmentation output: its only output of shape
    (1, H, W, 1) for its (1, H, W, 3) input. None when the model has no such single output."""
    from ai_edge_litert import schema_py_generated as schema

    graph = schema.ModelT.InitFromPackedBuf(model, 0).subgraphs[0]
    if len(graph.inputs) != 1:
        return None
    shape = [int(n) for n in graph.tensors[int(graph.inputs[0])].shape]
    if len(shape) != 4 or shape[3] != 3:
        return None
    masks = [graph.tensors[int(t)].name.decode() for t in graph.outputs
             if [int(n) for n in graph.tensors[int(t)].shape] == [1, shape[1], shape[2], 1]]
    return masks[0] if len(masks) == 1 else None


def constant_output(model: bytes, name: str) -> bytes:
    """``model`` with its output ``name`` made a constant float32 zero tensor of the same shape, and
    every op that fed only that output removed (with the weights only they read). The other outputs
    are computed by the same ops in the same order from the same weights: bit-identical
    (tests/vision/test_tflite_edit.py). Raises ValueError when ``name`` is not a float32 output of
    static shape, or no op computes only it (nothing to remove)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tree = schema.ModelT.InitFromPackedBuf(model, 0)
    graph = tree.subgraphs[0]
    outputs = [int(t) for t in graph.outputs]
    chosen = [t for t in outputs if graph.tensors[t].name.decode() == name]
    if len(chosen) != 1:
        raise ValueError(f"the model has no output named {name!r}")
    target = chosen[0]
    tensor = graph.tensors[target]
    shape = [int(n) for n in tensor.shape]
    if tensor.type != schema.TensorType.FLOAT32 or not shape or min(shape) < 1:
        raise ValueError(f"output {name!r} is not a float32 tensor of static shape")
    producers = _producers(graph)
    kept_by_others = set().union(*(_cone(graph, producers, t) for t in outputs if t != target))
    removed = _cone(graph, producers, target) - kept_by_others
    if not removed:
        raise ValueError(f"no op computes only {name!r}: nothing to remove")
    graph.operators = [op for k, op in enumerate(graph.operators) if k not in removed]
    zeros = schema.BufferT()
    zeros.data = np.zeros(int(np.prod(shape)) * 4, np.uint8)
    tree.buffers.append(zeros)
    tensor.buffer = len(tree.buffers) - 1
    # weights (and activations) only the removed ops read: their bytes leave the file
    used = {int(i) for op in graph.operators for i in (*op.inputs, *op.outputs) if i >= 0}
    used |= {int(i) for i in (*graph.inputs, *graph.outputs)}
    shared = {int(t.buffer) for k, t in enumerate(graph.tensors) if k in used}
    for k, t in enumerate(graph.tensors):
        if k not in used and t.buffer and t.buffer not in shared:
            tree.buffers[t.buffer].data = None
            t.buffer = 0
    builder = flatbuffers.Builder(len(model) + zeros.data.size + 1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
