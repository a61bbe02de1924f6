"""RFC 8785 (JCS) canonical JSON, with a fast path that is checked against the reference.

The `rfc8785` package is the reference implementation and the fallback. It is pure Python
(about 170 µs for a typical verdict record), which alone would cap the ledger below its
10,000 verdicts/s target, so records that are plainly safe take a fast path through the C
JSON encoder: sorted keys, no whitespace, no ASCII escaping. The output is identical to
RFC 8785 whenever (a) every key is in the Basic Multilingual Plane (Python sorts by code
point, JCS by UTF-16 unit; they agree there), (b) every float is integral up to 2**53 - 1
(written as an integer, as JCS does) or lies in [1e-4, 1e16) where Python's repr and
ECMAScript's Number.prototype.toString both write the shortest round-trip digits without an
exponent, and (c) every string is valid Unicode (no lone surrogates). Anything else goes to
`rfc8785`. tests/registry/test_canonical.py checks the two agree on generated JSON.

:func:`prepare` and :class:`NeedsReference` are public so that the ledger's record encoder
(registry/ledger/record_encoding.py) can run the same checks while it walks a verdict once.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

_MAX_SAFE_INTEGER = 2**53 - 1
_INF = float("inf")
#: The C JSON encoder configured as RFC 8785 for values :func:`prepare` accepted.
ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)


class NeedsReference(Exception):
    """Raised by :func:`prepare` for a value only the reference implementation may encode."""


def prepare(value: Any) -> Any:
    """``value`` ready for the C encoder, or :class:`NeedsReference` if the fast path may differ."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is float:
        if value.is_integer():
            if abs(value) <= _MAX_SAFE_INTEGER:
                return int(value)
            raise NeedsReference
        if 1e-4 <= abs(value) < 1e16:  # also rejects NaN and infinities
            return value
        raise NeedsReference
    if kind is int:
        if abs(value) > _MAX_SAFE_INTEGER:
            raise NeedsReference
        return value
    if kind is dict:
        prepared = {}
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and max(key) > "\uffff"):
                raise NeedsReference
            prepared[key] = prepare(item)
        return prepared
    if kind is list or kind is tuple:
        return [prepare(item) for item in value]
    raise NeedsReference  # subclasses and other types: let the reference decide


def float_text(value: float) -> str:
    """A finite float as RFC 8785 writes it (ECMA-262 Number::toString), for any magnitude.

    Python's ``repr`` and ECMAScript pick the same shortest round-trip digits; only the layout
    differs outside [1e-4, 1e16). With digits ``d`` (k of them) and ``value = 0.d × 10**n``
    ECMA-262 writes ``d`` padded with zeros if k <= n <= 21, ``d`` with a point inside if
    0 < n <= 21, ``0.000d`` if -6 < n <= 0, and otherwise exponent form ``d.ddde±x``.
    Non-finite values are refused (:class:`NeedsReference`, so the reference raises).
    """
    if 1e-4 <= abs(value) < 1e16:  # repr already has the right layout, but for a trailing .0
        text = float.__repr__(value)
        return text[:-2] if text.endswith(".0") else text
    if value != value or value in (_INF, -_INF):
        raise NeedsReference
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    n = len(whole) + (int(exponent) if exponent else 0) - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    power = f"e{'+' if n - 1 > 0 else '-'}{abs(n - 1)}"
    return sign + (digits if k == 1 else digits[0] + "." + digits[1:]) + power


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value."""
    try:
        text = ENCODER.encode(prepare(value))
        return text.encode("utf-8")
    except (NeedsReference, UnicodeEncodeError):
        return rfc8785.dumps(value)
