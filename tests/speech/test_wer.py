"""The WER function the recognition tests rely on."""

from __future__ import annotations

import pytest

from media.asr.wer import edit_distance, normalize, wer


def test_normalize_case_punctuation_digits_titles() -> None:
    assert normalize("Mr. Dashwood's ill-disposed, 45!") == [
        "mister", "dashwood's", "ill", "disposed", "forty", "five",
    ]


def test_numbers_spelled_as_said_up_to_99_then_digit_by_digit() -> None:
    assert normalize("10 of clubs, 5 5, 70") == ["ten", "of", "clubs", "five", "five", "seventy"]
    assert normalize("call 555-0123 or 07") == [
        "call", "five", "five", "five", "zero", "one", "two", "three", "or", "zero", "seven",
    ]


def test_edit_distance_counts_sub_del_ins() -> None:
    assert edit_distance(["a", "b", "c"], ["a", "x", "c"]) == 1
    assert edit_distance(["a", "b", "c"], ["a", "c"]) == 1
    assert edit_distance(["a", "b"], ["a", "b", "c", "d"]) == 2
    assert edit_distance([], ["a"]) == 1


def test_corpus_wer() -> None:
    assert wer(["the cat sat", "on the mat"], ["The cat sat.", "on a mat"]) == pytest.approx(1 / 6)
    with pytest.raises(ValueError):
        wer(["a"], [])
