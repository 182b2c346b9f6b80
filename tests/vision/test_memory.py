"""vision.memory: the freed heap goes back to the OS (real glibc, a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_release_free_memory_returns_freed_heap_pages():
    """Many small blocks freed below the heap's top stay resident (glibc does not trim them by itself);
    ``release_free_memory`` gives them back. Measured as RssAnon in a fresh interpreter."""
    code = textwrap.dedent("""
        import ctypes
        from vision.memory import release_free_memory

        def anon_mb():
            for line in open("/proc/self/status"):
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024

        blocks = [ctypes.create_string_buffer(1000) for _ in range(200_000)]   # ~200 MB of small blocks
        keep = ctypes.create_string_buffer(1000)                               # pins the heap's top
        for b in blocks:
            ctypes.memset(b, 1, 1000)
        before = anon_mb()
        del blocks
        freed = anon_mb()
        assert release_free_memory()
        print(before, freed, anon_mb())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    before, freed, trimmed = map(float, out.split())
    assert freed > before - 50, (before, freed)       # freeing alone keeps most of it resident
    assert trimmed < freed - 100, (freed, trimmed)    # the trim returns it


def test_release_file_pages_drops_a_read_only_mapping_and_keeps_its_data(tmp_path):
    """A file mapped read-only and read through: its pages are resident; ``release_file_pages`` drops
    them (0 kB resident after), the mapping still reads the same bytes, and a writable mapping of the
    same file (private copies possible) is left alone."""
    import mmap

    import numpy as np

    from vision.memory import file_mappings, release_file_pages

    data = np.random.default_rng(0).integers(0, 256, 4 << 20, dtype=np.uint8).tobytes()   # 4 MB
    path = tmp_path / "weights.bin"
    path.write_bytes(data)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
        assert m[:] == data                                   # every page read once
        (start, end, perms, rss_kb, anon_kb), = file_mappings(path)
        assert perms.startswith("r-") and rss_kb >= 4000 and anon_kb == 0
        assert release_file_pages(path) == end - start
        assert file_mappings(path)[0][3] == 0                 # nothing of it resident now
        assert m[:] == data                                   # read again: the file's bytes
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY) as w:
        w[0] = (data[0] + 1) % 256                            # a private copy of the first page
        assert w[1:] == data[1:]
        assert release_file_pages(path) == 0                  # writable: never touched
        assert w[0] == (data[0] + 1) % 256
    assert release_file_pages(tmp_path / "not-mapped.bin") == 0
