"""Named points inside a save or delete where a test can stop the process (to kill it for real).

``ISOBALANCE_STORE_PAUSE_AT=<point>`` makes the process write ``$ISOBALANCE_STORE_PAUSE_FILE`` (so the
test knows it got there) and then sleep until it is killed. Nothing happens when the variable is unset,
which is always the case outside the crash-consistency tests.
"""

from __future__ import annotations

import os
import time

POINTS = ("files_staged", "rows_flushed", "files_moved", "committed", "delete_committed")


def checkpoint(point: str) -> None:
    if os.environ.get("ISOBALANCE_STORE_PAUSE_AT") != point:
        return
    marker = os.environ.get("ISOBALANCE_STORE_PAUSE_FILE")
    if marker:
        with open(marker, "w", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {point}\n")
    while True:  # wait for the SIGKILL
        time.sleep(0.05)
