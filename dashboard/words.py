"""The dashboard's words for the program's internal names: the patient's plain words and the
therapist's human names for statuses, views and outcomes, and a small glossary for the terms a page
cannot avoid (shown as tooltips). One table, so the copy check (tests/dashboard/test_copy.py) and the
pages agree.
"""

from __future__ import annotations

import re

OUTCOME_WORDS = {"completed": "completed", "timeout": "time ran out", "stream_ended": "stopped early",
                 "running": "still going"}
PHASE_TITLES = {"calibrate": "Calibrating", "position": "Getting ready", "hold": "Hold", "relax": "Relax",
                "stretch": "Stretch", "done": "Done"}
PHASE_WORDS = {"calibrate": "Measuring your resting stillness", "position": "Waiting for you to keep still",
               "relax": "Relax", "stretch": "Stretch", "done": "Finished"}
VIEW_WORDS = {"front": "front view", "back": "back view", "left_side": "left side view",
              "right_side": "right side view", "oblique": "oblique view", "unknown": "view not clear"}

GLOSSARY = {
    "isometric": "A muscle contraction with the joint kept still: you push, nothing moves.",
    "PIR": "Post-isometric relaxation: push gently for a few seconds, let go, then stretch a little further.",
    "MET": "Muscle energy technique: a gentle push against a resistance, then relaxing into the new range.",
    "calibration": "A few seconds standing still so the camera's own jitter is not mistaken for movement.",
}


EFFORT_SCALE = (   # (highest % of a maximal push, what it feels like) - the catalog's effort_pct in words
    (20, "push as if you were holding a full cup of tea steady: you barely feel the muscle work"),
    (30, "push as if you were pressing a ripe peach without bruising it: light, steady, nothing shakes"),
    (50, "push as if you were slowly opening a heavy door: firm but easy to keep up, never straining"),
    (100, "push firmly, as your therapist showed you, and stop at once if it hurts"),
)


def effort_words(low: float, high: float) -> str:
    """The plain-words effort scale for a catalog range of maximal effort (percent)."""
    for top, words in EFFORT_SCALE:
        if high <= top:
            return words[0].upper() + words[1:] + "."
    return EFFORT_SCALE[-1][1]


def human(word: str, table: dict[str, str] | None = None) -> str:
    """A table's words for an internal name, else the name with its underscores made spaces."""
    if table and word in table:
        return table[word]
    return str(word).replace("_", " ")


# Abbreviations the assessment's evidence text uses, spelled out for the therapist view (first use in a
# text keeps the short form in brackets, as a paper would); "deg" becomes the degree sign.
ABBREVIATIONS = {
    "SI": "symmetry index",
    "ROM": "range of motion",
    "FPPA": "frontal-plane projection angle",
    "CVA": "craniovertebral angle",
    "IQR": "interquartile range",
    "CI": "confidence interval",
    "MDC": "minimal detectable change",
    "SEM": "standard error of measurement",
}
_ABBREV = re.compile(r"(?<![\w(])(" + "|".join(ABBREVIATIONS) + r")(?![\w)])")
_DEG = re.compile(r"(?<=\d) ?deg\b")


def therapist_words(text: str) -> str:
    """Evidence text for the therapist: abbreviations expanded at their first use ("median SI" ->
    "median symmetry index (SI)"), "12.0 deg" -> "12.0°". Numbers are left as the assessment wrote them
    (it already rounds them to its measurement's precision)."""
    seen: set[str] = set()

    def expand(m: re.Match) -> str:
        short = m.group(1)
        if short in seen:
            return short
        seen.add(short)
        return f"{ABBREVIATIONS[short]} ({short})"

    return _DEG.sub("°", _ABBREV.sub(expand, str(text)))
