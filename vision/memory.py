"""Give memory the process no longer uses back to the OS: the C heap's free pages between a command's
stages (glibc ``malloc_trim``), and the pose bundle's file pages once its weights are packed.

When the pose graphs close, glibc keeps most of what they freed in its arenas (one per inference
thread) as free but resident pages; the stage that follows (pandas, the assessment) then adds its own
memory on top. ``malloc_trim(0)`` releases the free pages of every arena (glibc >= 2.8 also returns the
free chunks inside a heap, not only its top). A no-op where glibc is not the C library.

Every MediaPipe graph maps the whole ``.task`` bundle read-only (9 MB resident per graph: two segment
graphs hold it twice) but reads it only while XNNPACK packs the weights into its own buffers: at load
for the detector, at the first frame with a pose for the landmark model. From then on it never reads
the mapping again (measured: 0 kB of it resident after 50 more frames, and after the person was lost
and found again). ``release_file_pages`` drops such clean, read-only file pages from this process's
page tables (``madvise(MADV_DONTNEED)``): the data stays in the file and the page cache, and any later
read simply faults it back in, so nothing can change but the resident set.

``limit_malloc_arenas`` caps glibc's malloc arenas before a command starts its threads: by default
every thread that allocates while another holds an arena gets one of its own (up to 8 per core), and
each keeps its freed chunks and its 64 MB-aligned heap's touched pages for itself alone. The threads of
one command (decoding, two MediaPipe graphs and their workers, the detector, drawing, encoding) rarely
allocate at the same moment, so a few shared arenas serve them as fast (figures in ``MALLOC_ARENAS``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

MADV_DONTNEED = 4   # Linux <sys/mman.h>
M_ARENA_MAX = -8    # glibc <malloc.h> mallopt parameters
# The CLI's cap (``isobalance.cli.main``; glibc's own default is 8 per core, 16 here): measured on
# `landmarks` (1200 frames, 2 alternating rounds, load 4-8): private memory 241/240 MB with 1 arena,
# 241/245 with 2, 243/246 with 4, 249/253 MB uncapped; CPU within the rounds' noise (48-51 s each).
MALLOC_ARENAS = 2


def release_free_memory() -> bool:
    """Return the C heap's free pages to the OS; True when glibc's ``malloc_trim`` ran and released any."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):     # not glibc (musl, macOS): nothing to do
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(trim(0))


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` for the rest of this process (``mallopt(M_ARENA_MAX)``):
    call it before the threads it should cover first allocate (an arena, once a thread's, stays so).
    True when glibc took it; False where the C library is not glibc (a no-op) or when the user set the
    cap already (``MALLOC_ARENA_MAX`` or a ``glibc.malloc.arena_max`` tunable: theirs is kept)."""
    if arenas < 1 or "MALLOC_ARENA_MAX" in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    mallopt = _libc_function("mallopt", [ctypes.c_int, ctypes.c_int], ctypes.c_int)
    return mallopt is not None and mallopt(M_ARENA_MAX, int(arenas)) == 1


def malloc_arenas() -> int | None:
    """How many malloc arenas this process has (glibc's ``malloc_info``: one ``<heap>`` per arena, the
    main one included); None where it cannot tell (not glibc)."""
    import tempfile

    info = _libc_function("malloc_info", [ctypes.c_int, ctypes.c_void_p], ctypes.c_int)
    fopen = _libc_function("fopen", [ctypes.c_char_p, ctypes.c_char_p], ctypes.c_void_p)
    fclose = _libc_function("fclose", [ctypes.c_void_p], ctypes.c_int)
    if info is None or fopen is None or fclose is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".xml") as tmp:
        stream = fopen(tmp.name.encode(), b"w")
        if not stream:
            return None
        try:
            if info(0, stream) != 0:
                return None
        finally:
            fclose(stream)
        return tmp.read().count(b"<heap nr=")


def _libc_function(name: str, argtypes: list, restype):
    """``name`` from glibc, typed; None where the C library is not glibc (checked by ``gnu_get_libc_version``)."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version
        fn = getattr(libc, name)
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = argtypes, restype
    return fn


def file_mappings(path: str | os.PathLike) -> list[tuple[int, int, str, int, int]]:
    """This process's mappings of ``path``: (start, end, permissions, resident kB, anonymous kB), from
    ``/proc/self/smaps`` (empty where there is none, e.g. not Linux)."""
    target = os.path.realpath(path)
    found: list[list] = []
    current: list | None = None
    try:
        with open("/proc/self/smaps") as f:
            for line in f:
                head, _, rest = line.partition(" ")
                if not head.endswith(":"):                  # a mapping's first line: range perms ... path
                    fields = rest.split(None, 4)
                    current = None
                    if len(fields) == 5 and fields[4].rstrip("\n") == target:
                        start, end = (int(x, 16) for x in head.split("-"))
                        current = [start, end, fields[0], 0, 0]
                        found.append(current)
                elif current is not None and head in ("Rss:", "Anonymous:"):
                    current[3 if head == "Rss:" else 4] = int(rest.split()[0])
    except OSError:
        return []
    return [tuple(m) for m in found]


def release_file_pages(path: str | os.PathLike) -> int:
    """Drop the resident pages of every read-only mapping of ``path`` that cannot hold private copies of
    them (shared, or private with no anonymous pages); returns the bytes of the mappings dropped. Safe
    whatever happens next: the mapping stays, and a page read again is read from the file.

    Finds them in ``/proc/self/maps`` (~1 ms; ``/proc/self/smaps`` costs ~35 ms of CPU with MediaPipe
    loaded, so it is read only for a private mapping, which MediaPipe and LiteRT do not make)."""
    madvise = _madvise()
    if madvise is None:
        return 0
    target = os.path.realpath(path)
    mapped = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                fields = line.split(None, 5)
                if len(fields) == 6 and fields[5].rstrip("\n") == target and "w" not in fields[1]:
                    start, end = (int(x, 16) for x in fields[0].split("-"))
                    mapped.append((start, end, fields[1]))
    except OSError:
        return 0
    if any(perms[3] != "s" for *_, perms in mapped):
        clean = {start for start, _, _, _, anon_kb in file_mappings(path) if not anon_kb}
        mapped = [m for m in mapped if m[2][3] == "s" or m[0] in clean]
    released = 0
    for start, end, _ in mapped:
        if madvise(start, end - start, MADV_DONTNEED) == 0:
            released += end - start
    return released


def _madvise():
    try:
        fn = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
    return fn
