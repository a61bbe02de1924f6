"""Chance statistics for bit matching: exact binomial tails and the Bonferroni correction.

Written with integer arithmetic (``math.comb``) rather than scipy: the sums are short
(payloads are at most 1024 bits), exact down to the smallest double, and keep scipy out of
the detectors' run-time dependencies.
"""

from __future__ import annotations

import math
from fractions import Fraction


def binomial_tail(k: int, n: int) -> float:
    """P(Bin(n, 1/2) >= k): the chance that ``n`` fair random bits match ``k`` or more.

    Computed exactly as a fraction and rounded once to the nearest double, so tiny values
    (down to 2**-n) are exact rather than lost to cancellation.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    upper = sum(math.comb(n, i) for i in range(k, n + 1))
    return float(Fraction(upper, 1 << n))


def bonferroni(p_value: float, tests: int) -> float:
    """Family-wise corrected p-value: ``min(1, tests * p)``."""
    if tests < 1:
        raise ValueError(f"tests must be >= 1, got {tests}")
    return min(1.0, p_value * tests)
