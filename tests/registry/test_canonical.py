"""The canonical-JSON fast path agrees byte for byte with the rfc8785 reference."""

from __future__ import annotations

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.ledger.canonical import canonicalize, float_text

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_fast_path_matches_reference(value: object) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)


def test_known_edge_cases() -> None:
    for value in (
        {"b": 1.0, "a": [0.1, 1e-7, 1e21, 1e16, 123456789.125, -0.0, 5e-324]},
        {"\U0001f600": 1, "\ufb01": 2, "z": "\u2028\x7f\x1f\n"},
        {"p": 2.5e-300, "big": 2**53 - 1, "s": "caf\u00e9"},
    ):
        assert canonicalize(value) == rfc8785.dumps(value)


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_text_matches_reference(value: float) -> None:
    assert float_text(value) == rfc8785.dumps(value).decode()


def test_float_text_layout_boundaries() -> None:
    for value in (
        1e-7,
        9.99e-7,
        1e-6,
        1.5e-5,
        1e-4,
        1e16,
        2.0**60,
        9.99e20,
        1e21,
        5e-324,
        1.7976931348623157e308,
        -0.0,
        -1e-9,
        123456789012345678901.0,
    ):
        assert float_text(value) == rfc8785.dumps(value).decode()
