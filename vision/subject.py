"""Follow one subject when several people are in frame.

Policy (recorded in the track's metadata): at the start, or after the subject has been lost for longer
than ``reacquire_ms``, pick the person whose body box is largest, weighted towards the image centre;
afterwards pick the person closest to the subject's last position (shoulders and hips, in units of
body size), so a passer-by never takes over a session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_TORSO = [11, 12, 23, 24]

POLICY = ("largest and most central person at the start (or after a loss), then the person nearest "
          "to the subject's last position")


@dataclass
class SubjectState:
    torso: np.ndarray | None = None     # (4,2) normalized torso landmarks of the subject last seen
    size: float = 0.0
    last_seen_ms: float = -np.inf


class SubjectSelector:
    def __init__(self, reacquire_ms: float = 1000.0, max_jump: float = 1.0):
        self.reacquire_ms = reacquire_ms
        self.max_jump = max_jump          # body sizes a subject can move between frames we accept
        self.state = SubjectState()
        self.frames_with_several = 0
        self.reacquisitions = 0

    def choose(self, image: np.ndarray, timestamp_ms: float, aspect: float = 1.0) -> int | None:
        """Index into ``image`` (P,33,5) of the subject, or None. ``aspect`` = width / height."""
        if len(image) == 0:
            return None
        if len(image) > 1:
            self.frames_with_several += 1
        scale = np.array([aspect, 1.0])
        xy = image[:, :, :2] * scale
        lo, hi = xy.min(axis=1), xy.max(axis=1)
        sizes = np.sqrt(np.prod(np.maximum(hi - lo, 1e-6), axis=1))
        torsos = xy[:, _TORSO]
        st = self.state
        lost = st.torso is None or timestamp_ms - st.last_seen_ms > self.reacquire_ms
        if not lost:
            dist = np.linalg.norm(torsos - st.torso, axis=2).mean(axis=1) / max(st.size, 1e-6)
            best = int(np.argmin(dist))
            if dist[best] > self.max_jump:
                lost = True
        if lost:
            centre = np.array([0.5 * aspect, 0.5])
            off_centre = np.linalg.norm((lo + hi) / 2 - centre, axis=1)
            best = int(np.argmax(sizes * (1.0 - 0.5 * np.clip(off_centre, 0, 1))))
            if st.torso is not None:
                self.reacquisitions += 1
        self.state = SubjectState(torsos[best], float(sizes[best]), timestamp_ms)
        return best

    def summary(self) -> str:
        text = POLICY
        if self.frames_with_several:
            text += f"; {self.frames_with_several} frames showed more than one person"
        if self.reacquisitions:
            text += f"; subject re-acquired {self.reacquisitions} times after being lost"
        return text
