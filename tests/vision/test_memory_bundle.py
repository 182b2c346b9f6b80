"""The landmarker's graphs load the bundle's float32 twin (vision.models.unpacked_bundle,
vision.landmarker.graph_bundle): the same poses, bit for bit, in less memory; made once, reused, and
never in the way (the bundle itself when the twin cannot be made)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np

_ONE_GRAPH = textwrap.dedent("""
    import json, sys
    import numpy as np
    import vision.landmarker as lm
    from tests.vision.clips import decode_all
    from vision.memory import limit_malloc_arenas, release_free_memory

    limit_malloc_arenas(2)                     # as the CLI
    lm.UNPACKED_WEIGHTS = sys.argv[1] == "twin"
    frames, _ = decode_all(sys.argv[2])
    frames = [f.rgb for f in frames[:30]]

    def anon_kb():
        release_free_memory()                  # free heap pages do not count: what the graph holds does
        for line in open("/proc/self/status"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1])

    lm.preload_mediapipe()
    lm.graph_bundle(sys.argv[3])               # the twin made (first use) before the graph is measured
    before = anon_kb()
    poses = []
    with lm.PoseEstimator(sys.argv[3], mode="video", num_poses=1) as est:
        for i, rgb in enumerate(frames):
            p = est.process(rgb, i * 33.0)
            poses.append([p.image.tolist(), p.world.tolist()])
        print(json.dumps({"graph_kb": anon_kb() - before, "asset": str(est.asset_path), "poses": poses}))
""")


def _one_graph(variant: str, clip, model_path, cache) -> dict:
    env = dict(os.environ, ISOBALANCE_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", _ONE_GRAPH, variant, str(clip), str(model_path)],
                         capture_output=True, text=True, check=True, env=env,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))).stdout
    return json.loads(out.splitlines()[-1])


def test_the_float32_twin_gives_the_same_poses_in_less_memory(tmp_path, model_path, sample_clip):
    """One VIDEO-mode graph over 30 real frames in a fresh interpreter each: with the twin, every pose
    (image and world landmarks) is bit-identical to the bundle's, and the graph's anonymous memory
    (after its frames, over before it, free heap pages given back both times) is smaller (measured 8.1-8.9 MB
    of ~67 in 4 alternating pairs, 2.1-7.7 MB before the heap was trimmed for the count; asserted > 3 MB)."""
    clip = sample_clip("tfjs_pose_1.mp4")
    cache = tmp_path / "cache"
    bundle = _one_graph("bundle", clip, model_path, cache)
    twin = _one_graph("twin", clip, model_path, cache)
    assert bundle["asset"] == str(model_path)
    assert twin["asset"] != str(model_path) and twin["asset"].endswith(".graphs.task")
    assert twin["asset"].startswith(str(cache))
    assert sum(len(p[0]) for p in bundle["poses"]) >= 25          # the person is found
    assert twin["poses"] == bundle["poses"]                        # exact: JSON of the float64 values
    assert twin["graph_kb"] < bundle["graph_kb"] - 3 * 1024, (twin["graph_kb"], bundle["graph_kb"])


def test_the_twin_is_an_aligned_stored_bundle_of_float32_weights_made_once(tmp_path, monkeypatch, model_path):
    """Both members, uncompressed, each starting on a 64-byte boundary, with no op left that makes
    weights at run time (DEQUANTIZE, DENSIFY); the landmark model's mask output is zeros made by a SUB
    (its head removed); the second ask finds it (not remade); ``models list`` shows it as a derived,
    deletable file, and earlier versions of the twin (kept: an older isobalance still running may load
    them) as no longer used."""
    from ai_edge_litert import schema_py_generated as schema

    from vision import models

    monkeypatch.setenv("ISOBALANCE_CACHE", str(tmp_path / "cache"))
    with zipfile.ZipFile(model_path) as zf:
        source = "".join(f"{zf.getinfo(m).CRC:08x}{zf.getinfo(m).file_size:08x}" for m in models.BUNDLE_MEMBERS)
    (tmp_path / "cache" / "models").mkdir(parents=True)
    superseded = [tmp_path / "cache" / "models" / f"pose_landmarker-{source}-0123456789abcdef.{v}.task"
                  for v in ("f32", "f32-nomask")]
    for old in superseded:
        old.write_bytes(b"an earlier version's twin")
    other = tmp_path / "cache" / "models" / "pose_landmarker-00000000000000000000000000000000-0123456789abcdef.f32.task"
    other.write_bytes(b"another bundle's earlier twin")
    twin = models.unpacked_bundle(model_path)
    assert twin is not None and twin.parent == tmp_path / "cache" / "models"
    made = twin.stat().st_mtime_ns
    assert models.unpacked_bundle(model_path) == twin and twin.stat().st_mtime_ns == made
    with zipfile.ZipFile(twin) as zf, open(twin, "rb") as raw:
        assert [i.filename for i in zf.infolist()] == list(models.BUNDLE_MEMBERS)
        for info in zf.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            raw.seek(info.header_offset + 26)
            name_len, extra_len = (int(n) for n in np.frombuffer(raw.read(4), "<u2"))
            assert (info.header_offset + 30 + name_len + extra_len) % models.BUNDLE_ALIGN == 0
            tree = schema.ModelT.InitFromPackedBuf(zf.read(info.filename), 0)
            table = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in tree.operatorCodes]
            codes = {table[op.opcodeIndex] for graph in tree.subgraphs for op in graph.operators}
            assert len(codes) > 3 and not codes & {schema.BuiltinOperator.DEQUANTIZE, schema.BuiltinOperator.DENSIFY}
            if info.filename == models.BUNDLE_MEMBERS[1]:
                graph = tree.subgraphs[0]
                masks = [int(t) for t in graph.outputs if list(graph.tensors[int(t)].shape) == [1, 256, 256, 1]]
                makers = [table[op.opcodeIndex] for op in graph.operators if masks[0] in op.outputs]
                assert len(masks) == 1 and makers == [schema.BuiltinOperator.SUB]     # the input's channel minus itself
    listed = [m for m in models.cached_models() if m.name == "pose bundle for the graphs (float32, no mask head)"]
    assert [m.path for m in listed] == [twin]
    earlier = [m for m in models.cached_models() if m.name == "pose bundle for the graphs, earlier version"]
    assert sorted(m.path for m in earlier) == sorted([*superseded, other])
    assert all("no longer used" in m.source for m in earlier)


def test_without_a_writable_cache_the_graph_loads_the_bundle_itself(tmp_path, monkeypatch, model_path):
    """The model cache is a file, not a folder: no twin can be made, and the landmarker maps the bundle
    as before and finds poses (nothing fails)."""
    import vision.landmarker as lm

    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ISOBALANCE_CACHE", str(blocker))
    with lm.PoseEstimator(model_path, mode="image") as est:
        assert est.asset_path == model_path
        assert len(est.process(np.zeros((64, 64, 3), np.uint8))) == 0


def test_a_twin_deleted_while_the_process_runs_is_made_again(tmp_path, monkeypatch, model_path):
    """``models list`` says the twin is safe to delete: deleted after this process found it (a dashboard
    running on), the next landmarker makes it again instead of failing on the path it remembered."""
    import vision.landmarker as lm

    monkeypatch.setenv("ISOBALANCE_CACHE", str(tmp_path / "cache"))
    first = lm.graph_bundle(model_path)
    assert first != model_path and first.is_file()
    first.unlink()
    with lm.PoseEstimator(model_path, mode="image") as est:
        assert est.asset_path.is_file() and est.asset_path.parent == first.parent
        assert len(est.process(np.zeros((64, 64, 3), np.uint8))) == 0
