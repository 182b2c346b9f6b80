"""Sample clips: described once in manifest.json, found locally or fetched, always sha256-checked."""

from sample_videos.locator import (
    CHECKOUT_SHARED_VIDEOS,
    SHIPPED_DIR,
    SampleChecksumError,
    SampleDownloadError,
    SampleError,
    SampleNotFoundError,
    UnknownSampleError,
    clip_info,
    fetch,
    find_local,
    locate,
    samples_cache_dir,
    search_dirs,
)
from sample_videos.manifest import MANIFEST_PATH, Clip, Segment, load_licenses, load_manifest

__all__ = [
    "CHECKOUT_SHARED_VIDEOS", "MANIFEST_PATH", "SHIPPED_DIR", "Clip", "Segment", "SampleChecksumError", "SampleDownloadError",
    "SampleError", "SampleNotFoundError", "UnknownSampleError", "clip_info", "fetch", "find_local",
    "load_licenses", "load_manifest", "locate", "samples_cache_dir", "search_dirs",
]
