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


_THREADS_ALLOCATE = """
import ctypes, threading
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
together = threading.Barrier(6)

def allocate():
    libc.malloc(1000)            # every thread allocates while the others hold their arenas
    together.wait()

threads = [threading.Thread(target=allocate) for _ in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
from vision.memory import malloc_arenas
print(malloc_arenas())
"""


def _arenas_after_threads(setup: str, env: dict | None = None) -> int:
    import os

    run_env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX" and k != "GLIBC_TUNABLES"}
    run_env.update(env or {})
    out = subprocess.run([sys.executable, "-c", setup + _THREADS_ALLOCATE], capture_output=True, text=True,
                         check=True, env=run_env).stdout
    return int(out.split()[-1])


def test_the_cli_caps_malloc_arenas_before_threads_allocate():
    """Six threads allocating at once get an arena each from glibc (seven with the main one: the count
    works and the cap is not glibc's default); after the CLI's ``main`` ran a command they share
    ``MALLOC_ARENAS``. A user's own ``MALLOC_ARENA_MAX`` is kept."""
    import pytest

    from vision.memory import MALLOC_ARENAS, malloc_arenas

    if malloc_arenas() is None:
        pytest.skip("the C library is not glibc: no arenas to cap")
    assert _arenas_after_threads("") == 7
    cli_ran = "from isobalance.cli import main\nmain(['config'])\n"
    assert _arenas_after_threads(cli_ran) == MALLOC_ARENAS < 7
    assert _arenas_after_threads(cli_ran, {"MALLOC_ARENA_MAX": "3"}) == 3
