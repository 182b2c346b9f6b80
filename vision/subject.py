"""Follow one subject, never silently another.

Policy (recorded in the track's metadata): at the start pick the person whose body box is largest,
weighted towards the image centre; afterwards the candidate must be near the subject's last position
(shoulders and hips, in body sizes) *and* look like the subject: its torso colour histogram
(``vision.identity``) within ``SAME`` of one of the subject's learnt looks. After a loss longer than
``reacquire_ms`` the look alone decides (the subject may come back anywhere).

A frame where someone was found but is not the subject is a gap, never another person's pose:
``other_person`` when every candidate clearly looks like someone else, ``identity_uncertain`` when
it cannot be told while someone else is around (a look between ``SAME`` and ``OTHER``, e.g. two
people overlapping, or a torso too hidden to judge). Alone and where the subject was, a person is
taken unless clearly someone else: the subject's own look changes as it turns and bends. Together with ``no_person`` (the model found nobody)
every gap row has a reason, counted with its frame ranges in ``meta()`` for the track's metadata.
If the subject is not recognised for ``relearn_ms`` while exactly one person is in view, the look is
learnt again from that person (a jacket taken off) and the re-learning is counted.
"""

from __future__ import annotations

import numpy as np

from vision.identity import OTHER, SAME, AppearanceBank

_TORSO = [11, 12, 23, 24]

POLICY = ("largest and most central person at the start, then the person near the subject's last "
          "position whose torso colour matches the subject's; frames where it cannot be told are gaps")

NO_PERSON, OTHER_PERSON, UNCERTAIN = "no_person", "other_person", "identity_uncertain"
REASONS = {NO_PERSON: "nobody found", OTHER_PERSON: "only someone else in view",
           UNCERTAIN: "identity uncertain (people overlapping or torso hidden)"}


class SubjectSelector:
    def __init__(self, reacquire_ms: float = 1000.0, max_jump: float = 1.0, relearn_ms: float = 5000.0,
                 company_ms: float = 1000.0):
        self.reacquire_ms = reacquire_ms
        self.max_jump = max_jump          # body sizes a subject can move between frames we accept
        self.relearn_ms = relearn_ms
        self.company_ms = company_ms      # someone else seen this recently: a hidden torso is not trusted
        self.bank = AppearanceBank()
        self.torso: np.ndarray | None = None   # (4,2) torso landmarks of the subject last seen (aspect-scaled)
        self.size = 0.0
        self.last_seen_ms = -np.inf
        self.last_company_ms = -np.inf
        self.frames = 0
        self.frames_with_several = 0
        self.frames_searched = 0
        self.reacquisitions = 0
        self.relearnt = 0
        self.gap_frames: dict[str, list[int]] = {r: [] for r in REASONS}
        self.last_reason: str | None = None

    def choose(self, image: np.ndarray, timestamp_ms: float, aspect: float = 1.0,
               appearance: np.ndarray | None = None, frame_index: int | None = None,
               searched: bool = False) -> int | None:
        """Index into ``image`` (P,33,5) of the subject, or None (reason in ``last_reason``).
        ``aspect`` = width / height; ``appearance`` (P,D) the poses' torso colour histograms."""
        frame_index = self.frames if frame_index is None else int(frame_index)
        self.frames += 1
        self.frames_searched += bool(searched)
        best, reason = self._decide(image, timestamp_ms, aspect, appearance)
        self.last_reason = reason
        if reason is not None:
            self.gap_frames[reason].append(frame_index)
        return best

    def _decide(self, image, timestamp_ms, aspect, appearance) -> tuple[int | None, str | None]:
        n = len(image)
        if n == 0:
            return None, NO_PERSON
        if n > 1:
            self.frames_with_several += 1
        xy = image[:, :, :2] * np.array([aspect, 1.0])
        lo, hi = xy.min(axis=1), xy.max(axis=1)
        sizes = np.sqrt(np.prod(np.maximum(hi - lo, 1e-6), axis=1))
        torsos = xy[:, _TORSO]
        looks = [None] * n if appearance is None else list(appearance)
        colour = np.array([self.bank.distance(h) for h in looks])
        known = np.isfinite(colour)
        other = known & (colour >= OTHER)
        company = n > 1 or timestamp_ms - self.last_company_ms <= self.company_ms
        if n > 1:
            self.last_company_ms = timestamp_ms
        lost = self.torso is None or timestamp_ms - self.last_seen_ms > self.reacquire_ms
        relearnt = False

        if not self.bank:                      # nothing learnt yet: position, as before identity existed
            best = self._by_position(torsos, sizes, lo, hi, aspect, lost)
        else:
            near = (np.ones(n, bool) if lost else
                    np.linalg.norm(torsos - self.torso, axis=2).mean(axis=1) / max(self.size, 1e-6) <= self.max_jump)
            same = known & (colour <= SAME)
            # alone and where the subject was: accepted unless clearly someone else (a look between SAME
            # and OTHER is the subject turning or bending); with company only a matching look counts
            ok = near & (same | (~other & ~company & ~lost))
            if ok.sum() > 1:
                ok &= same if (ok & same).any() else ok
            if ok.sum() == 1:
                best = int(np.flatnonzero(ok)[0])
            elif ok.sum() > 1:                 # several look like the subject: the nearest, if clearly so
                d = np.linalg.norm(torsos - (self.torso if self.torso is not None else torsos[0]), axis=2).mean(axis=1)
                order = np.argsort(np.where(ok, d, np.inf))
                if d[order[1]] - d[order[0]] < 0.5 * max(self.size, 1e-6):
                    return None, UNCERTAIN
                best = int(order[0])
            elif n == 1 and timestamp_ms - self.last_seen_ms > self.relearn_ms and not company:
                self.bank = AppearanceBank()   # one person, long unrecognised: the subject changed look
                self.relearnt += 1
                relearnt = True
                best = 0
            else:
                return None, (OTHER_PERSON if other.all() else UNCERTAIN)
        if lost and self.torso is not None:
            self.reacquisitions += 1
        self.torso, self.size, self.last_seen_ms = torsos[best], float(sizes[best]), timestamp_ms
        others_far = all(np.linalg.norm(torsos[k] - torsos[best], axis=1).mean() > 1.5 * sizes[best]
                         for k in range(n) if k != best)
        if (others_far and (not self.bank or colour[best] <= SAME)) or (not company and not other[best]):
            # colour[best] is this bank's distance to that look unless the bank was just replaced
            self.bank.learn(looks[best], None if relearnt else float(colour[best]))
        return best, None

    def _by_position(self, torsos, sizes, lo, hi, aspect, lost) -> int:
        if not lost:
            dist = np.linalg.norm(torsos - self.torso, axis=2).mean(axis=1) / max(self.size, 1e-6)
            if dist.min() <= self.max_jump:
                return int(np.argmin(dist))
        centre = np.array([0.5 * aspect, 0.5])
        off_centre = np.linalg.norm((lo + hi) / 2 - centre, axis=1)
        return int(np.argmax(sizes * (1.0 - 0.5 * np.clip(off_centre, 0, 1))))

    # ------------------------------------------------------------------ reporting
    def gaps(self) -> dict[str, dict]:
        """Per reason: frames and their [first, last] ranges (frame indices)."""
        return {r: {"frames": len(f), "ranges": _ranges(f), "why": REASONS[r]}
                for r, f in self.gap_frames.items() if f}

    def summary(self) -> str:
        text = POLICY
        if self.frames_with_several:
            text += f"; {self.frames_with_several} frames showed more than one person"
        dropped = len(self.gap_frames[OTHER_PERSON]) + len(self.gap_frames[UNCERTAIN])
        if dropped:
            text += (f"; {dropped} frames dropped because the subject could not be told apart "
                     f"({len(self.gap_frames[OTHER_PERSON])} only someone else, "
                     f"{len(self.gap_frames[UNCERTAIN])} uncertain)")
        if self.reacquisitions:
            text += f"; subject re-acquired {self.reacquisitions} times after being lost"
        if self.relearnt:
            text += f"; the subject's look was learnt again {self.relearnt} times"
        return text

    def meta(self) -> dict:
        """The track-metadata fields this selector fills (``TrackMeta(**selector.meta())``)."""
        return {"subject": self.summary(), "gaps": self.gaps(),
                "search": {"frames": self.frames, "searched": self.frames_searched}}


def _ranges(frames: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for f in frames:
        if out and f == out[-1][1] + 1:
            out[-1][1] = f
        else:
            out.append([f, f])
    return out
