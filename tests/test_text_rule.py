"""The text rule (``forexbot.text``): no control characters (Cc), no surrogates (Cs);
everything else is client text, format characters included."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forexbot.text import KEY_PROBLEM, PROBLEM, escaped, is_client_text, text_problems

REFUSED = ["\x00", "\t", "\n", "\r", "\x1f", "\x7f", "\x80", "\x9b", "\x9f", "\ud800", "\udfff"]
KEPT = [" ", "~", "\xa0", "é", "\u200f", "\u202e", "\ufeff", "\ud7ff", "\ue000", "\uffff", "📈"]


@pytest.mark.parametrize("character", REFUSED, ids=lambda c: f"U+{ord(c):04X}")
def test_controls_and_surrogates_are_refused_anywhere_in_the_text(character: str) -> None:
    assert not is_client_text(f"EUR{character}USD")


@pytest.mark.parametrize("character", KEPT, ids=lambda c: f"U+{ord(c):04X}")
def test_every_other_character_is_client_text(character: str) -> None:
    assert is_client_text(f"EUR{character}USD")


@given(st.characters(codec=None, exclude_categories=()))
def test_the_rule_is_exactly_the_cc_and_cs_categories(character: str) -> None:
    assert is_client_text(character) == (unicodedata.category(character) not in ("Cc", "Cs"))


def test_problems_are_located_by_key_and_index_in_document_order() -> None:
    value = {"a": ["ok", "\x00"], "b": {"c": "\ud800", "d": 1}, "e": "fine"}
    assert list(text_problems(value)) == [(("a", 1), PROBLEM), (("b", "c"), PROBLEM)]


def test_a_key_breaking_the_rule_is_located_at_its_object_without_naming_it() -> None:
    assert list(text_problems({"params": {"fast\x00": 10}})) == [(("params",), KEY_PROBLEM)]


def test_any_nesting_depth_is_walked_without_recursion() -> None:
    value: list[object] = ["\x00"]
    for _ in range(5_000):
        value = [value]
    assert list(text_problems(value)) == [((0,) * 5_000 + (0,), PROBLEM)]


def test_numbers_booleans_and_null_hold_no_text() -> None:
    assert list(text_problems({"a": 1, "b": 2.5, "c": True, "d": None})) == []


def test_escaped_writes_refused_characters_as_escapes_and_keeps_the_rest() -> None:
    assert escaped("a\x00b\x1b\x7f\x9bc") == "a\\x00b\\x1b\\x7f\\x9bc"
    assert escaped("lone \ud800 surrogate") == "lone \\ud800 surrogate"
    assert escaped("Volatility 75 Index \u202e ✓") == "Volatility 75 Index \u202e ✓"
