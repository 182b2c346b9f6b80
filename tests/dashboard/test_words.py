"""The therapist's evidence text: abbreviations spelled out at first use, degrees as a sign (issue #13:
the review page showed "median SI -133.6 %" with SI never explained)."""

from __future__ import annotations

from dashboard.words import therapist_words


def test_abbreviations_are_spelled_out_once_and_degrees_get_their_sign():
    text = "left knee moves 12.3 deg less than the right (median SI +15.2% over 3 reps); SI per rep; ROM 40 deg"
    assert therapist_words(text) == ("left knee moves 12.3° less than the right (median symmetry index (SI) "
                                     "+15.2% over 3 reps); SI per rep; range of motion (ROM) 40°")


def test_words_that_merely_contain_an_abbreviation_are_left_alone():
    text = "SIDE view, CIRCLE, ROMAN, degree, 5 degrees, already spelled out: symmetry index (SI)"
    assert therapist_words(text) == text
