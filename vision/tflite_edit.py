"""Edits of a TFLite model's graph that leave every output isobalance reads bit-identical.

The pose landmark model computes, beside the landmarks, a 256x256 person segmentation mask through its own
decoder branch: 20 ops at full input resolution, ~29 % of the model's CPU (LiteRT, one thread: 17.6 ->
12.5 ms an invoke on this machine). MediaPipe's PoseLandmarker only turns that tensor into a mask when
``output_segmentation_masks`` is set, which isobalance never does (``vision.landmarker.PoseEstimator``).
``zero_output`` replaces such a branch with two cheap ops writing zeros: the output stays in the graph, with
its shape, so MediaPipe's graph wiring is unchanged, but costs next to nothing to compute.
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


def zero_output(model: bytes, name: str) -> bytes:
    """``model`` with the ops that fed only its output ``name`` (and the weights only they read) replaced by
    two cheap ops writing zeros of that output's shape: the input's first channel (SLICE) minus itself
    (SUB; the input is a finite image). The output must be shaped (1, H, W, 1) for the (1, H, W, C)
    input, as the mask is. The other outputs are computed by the same ops in the same order from the
    same weights: bit-identical (tests/vision/test_tflite_edit.py).

    Why these: nothing of the model file may be read per frame, or its pages could not stay dropped once
    the weights are packed (``vision.memory.release_file_pages``; tests/vision/test_landmarker.py).
    LiteRT copies a constant output from the file at every invoke (640 kB resident, measured); a FILL,
    which XNNPACK does not take, reads its constant inputs at every invoke, and so does XNNPACK a MUL's
    constant operand (64 kB each). The SLICE's begin and size are read once, when XNNPACK builds its
    plan. Raises ValueError when ``name`` is no such output, or no op computes only it (nothing to
    remove)."""
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
    given = graph.tensors[int(graph.inputs[0])]
    image = [int(n) for n in given.shape]
    if (tensor.type != schema.TensorType.FLOAT32 or given.type != schema.TensorType.FLOAT32
            or len(image) != 4 or shape != [1, image[1], image[2], 1]):
        raise ValueError(f"output {name!r} is not a float32 (1, H, W, 1) tensor for the (1, H, W, C) input")
    producers = _producers(graph)
    kept_by_others = set().union(*(_cone(graph, producers, t) for t in outputs if t != target))
    removed = _cone(graph, producers, target) - kept_by_others
    if not removed or _reads_input_only(graph, removed, int(graph.inputs[0])):
        raise ValueError(f"no op computes only {name!r}: nothing to remove")
    graph.operators = [op for k, op in enumerate(graph.operators) if k not in removed]
    channel = _tensor(tree, graph, f"{name}_input_channel", schema.TensorType.FLOAT32, shape)
    begin = _tensor(tree, graph, f"{name}_slice_begin", schema.TensorType.INT32, [4], np.zeros(4, "<i4"))
    size = _tensor(tree, graph, f"{name}_slice_size", schema.TensorType.INT32, [4], np.array(shape, "<i4"))
    take = schema.OperatorT()
    take.opcodeIndex = _opcode(tree, schema.BuiltinOperator.SLICE)
    take.inputs, take.outputs = [int(graph.inputs[0]), begin, size], [channel]
    take.builtinOptionsType, take.builtinOptions = schema.BuiltinOptions.SliceOptions, schema.SliceOptionsT()
    minus = schema.OperatorT()
    minus.opcodeIndex = _opcode(tree, schema.BuiltinOperator.SUB)
    minus.inputs, minus.outputs = [channel, channel], [target]
    minus.builtinOptionsType, minus.builtinOptions = schema.BuiltinOptions.SubOptions, schema.SubOptionsT()
    graph.operators += [take, minus]
    drop_unread(tree, graph)          # the weights only the removed ops read
    return packed(tree, len(model) + 1024)


def drop_unread(tree, graph) -> None:
    """Leave out of the file the bytes of every tensor no op, graph input or graph output refers to any
    more (weights of removed ops, or originals an edit replaced), unless a tensor still in use shares
    them; their sparsity description goes with them."""
    used = {int(i) for op in graph.operators for i in (*op.inputs, *op.outputs) if i >= 0}
    used |= {int(i) for i in (*graph.inputs, *graph.outputs)}
    shared = {int(t.buffer) for k, t in enumerate(graph.tensors) if k in used}
    for k, tensor in enumerate(graph.tensors):
        if k not in used:
            if tensor.buffer and tensor.buffer not in shared:
                tree.buffers[tensor.buffer].data = None
                tensor.buffer = 0
            tensor.sparsity = None


def packed(tree, size: int) -> bytes:
    """The model ``tree`` as TFLite flatbuffer bytes (``size``: the builder's first allocation)."""
    import flatbuffers

    builder = flatbuffers.Builder(size)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _reads_input_only(graph, ops: set[int], image: int) -> bool:
    """True when ``ops`` are a previous edit's SLICE of the input and SUB (two ops, the first reading the
    input): nothing of the model's own is left to remove."""
    return len(ops) == 2 and any(image in [int(i) for i in graph.operators[k].inputs] for k in ops)


def _tensor(tree, graph, name: str, dtype: int, shape: list[int], values: np.ndarray | None = None) -> int:
    """A new tensor (a constant holding ``values``' little-endian bytes, when given); its index."""
    from ai_edge_litert import schema_py_generated as schema

    tensor = schema.TensorT()
    tensor.name, tensor.type, tensor.shape = name.encode(), dtype, shape
    tensor.buffer = 0
    if values is not None:
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(values.tobytes(), np.uint8)
        tree.buffers.append(buffer)
        tensor.buffer = len(tree.buffers) - 1
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def _opcode(tree, builtin: int) -> int:
    """The index of ``builtin``'s operator code in the model, added when the model has none."""
    from ai_edge_litert import schema_py_generated as schema

    for k, code in enumerate(tree.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return k
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 1
    tree.operatorCodes.append(code)
    return len(tree.operatorCodes) - 1
