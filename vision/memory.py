"""Give the heap's freed memory back to the OS between a command's stages (glibc ``malloc_trim``).

When the pose graphs close, glibc keeps most of what they freed in its arenas (one per inference
thread) as free but resident pages; the stage that follows (pandas, the assessment) then adds its own
memory on top. ``malloc_trim(0)`` releases the free pages of every arena (glibc >= 2.8 also returns the
free chunks inside a heap, not only its top). A no-op where glibc is not the C library.
"""

from __future__ import annotations

import ctypes
import ctypes.util


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
