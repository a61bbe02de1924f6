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
`rfc8785`. tests/test_canonical.py checks the two agree on generated JSON.

:func:`prepare` and :class:`NeedsReference` are public so that the ledger's record encoder
(registry/record_encoding.py) can run the same checks while it walks a verdict once.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

_MAX_SAFE_INTEGER = 2**53 - 1
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


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value."""
    try:
        text = ENCODER.encode(prepare(value))
        return text.encode("utf-8")
    except (NeedsReference, UnicodeEncodeError):
        return rfc8785.dumps(value)
