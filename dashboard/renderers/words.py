"""Numbers in words for investigators: chances, probabilities and sizes."""

from __future__ import annotations

import math


def chance_in_words(p_value: float | None) -> str:
    """A p-value as odds a person can read: 1e-7 -> "about 1 in 10 million by chance"."""
    if p_value is None or not math.isfinite(p_value) or p_value < 0:
        return "no p-value recorded"
    if p_value >= 0.5:
        return "as likely as not by chance (no evidence)"
    if p_value == 0:
        return "less than 1 in 10^300 by chance"
    odds = 1.0 / p_value
    return f"about 1 in {_round_words(odds)} by chance"


def _round_words(value: float) -> str:
    if value < 1000:
        return f"{value:.0f}"
    for size, name in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if value >= size:
            scaled = value / size
            if scaled >= 1000:
                return f"10^{math.floor(math.log10(value))}"
            return f"{_two_digits(scaled)} {name}"
    return f"{value:.0f}"  # pragma: no cover - the loop always returns


def _two_digits(value: float) -> str:
    """Two significant digits, without a trailing ".0"."""
    digits = max(0, 1 - math.floor(math.log10(value)))
    text = f"{round(value, digits):.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
