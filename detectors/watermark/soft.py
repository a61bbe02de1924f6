"""Soft-decision test: weigh each payload bit by how confidently it was decoded.

The hard test counts matching bits, so a bit read from a strong, clean signal and a bit that
barely tipped one way count the same. The soft test keeps the per-bit score ``x_i`` (the
mean of the per-block soft scores for dwtDct, a logit for learned decoders; positive means
"1") and, with ``s_i = +1`` for a payload 1 and ``-1`` for a 0, scores

    T = sum_i w_i * a_i,   w_i = |x_i| on a grid of :data:`LEVELS` steps of max |x|
                           (at least 1 step for any x_i != 0),
                           a_i = +1 if sign(x_i) agrees with s_i, else -1.

Null model (the same one behind the binomial test): the payload was chosen independently
of the image, so given the weights each agreement ``a_i`` is a fair random sign. The
p-value ``P(sum_i eps_i w_i >= T)`` over fair random signs ``eps`` is then computed
*exactly* by convolving the integer weights (a short dynamic programme, no approximation
and no scipy). With equal weights it is exactly the binomial tail; confident bits count
more, undecided bits (``w_i = 0``) drop out.

Whether natural clean images obey the model is measured, not assumed: see the null-set
figures in docs/detectors/watermark.md (``bench/watermark_robustness.py`` prints them).
"""

from __future__ import annotations

import numpy as np

LEVELS = 64
"""Quantisation of the weights: ``w_i = max(1, round(LEVELS * |x_i| / max_j |x_j|))`` for
``x_i != 0``. The test is exact for the quantised statistic (any weights that depend only on
``|x_i|`` keep the null exact); the floor of 1 means a decode with every bit right scores
``2**-n``, as the binomial test does, however uneven the confidences."""


def weights_and_agreement(
    scores: np.ndarray, bits: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Integer weights ``w_i`` and agreements ``a_i`` (+1 / -1) of ``scores`` vs ``bits``."""
    x = np.asarray(scores, dtype=np.float64).reshape(-1)
    if x.shape[0] != len(bits):
        raise ValueError(f"{x.shape[0]} scores for {len(bits)} payload bits")
    if not np.all(np.isfinite(x)):
        raise ValueError("soft scores must be finite")
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        weights = np.zeros(x.shape[0], dtype=np.int64)
    else:
        weights = np.rint(np.abs(x) / peak * LEVELS).astype(np.int64)
        weights = np.where(x != 0.0, np.maximum(weights, 1), 0)
    signs = np.where(np.asarray(bits, dtype=np.int64) == 1, 1, -1)
    agreement = np.where(np.sign(x) == signs, 1, -1)
    return weights, agreement


def soft_tail(weights: np.ndarray, agreement: np.ndarray) -> float:
    """Exact ``P(sum eps_i w_i >= sum a_i w_i)`` for fair random signs ``eps_i``.

    The smallest possible value is ``2**-m`` (``m`` = bits with non-zero weight); values
    below the smallest double are returned as that bound's double (or the smallest
    positive double), never as 0.
    """
    w = np.asarray(weights, dtype=np.int64).reshape(-1)
    a = np.asarray(agreement, dtype=np.int64).reshape(-1)
    if w.shape != a.shape or np.any(w < 0) or np.any(np.abs(a) != 1):
        raise ValueError("weights must be >= 0 and agreements +1 / -1, of equal length")
    keep = w > 0
    w, a = w[keep], a[keep]
    if w.size == 0:
        return 1.0
    # U = sum of the weights whose sign agrees; sum eps_i w_i = 2U - sum w, so the tail of
    # the signed sum at the observed value is the tail of U at the observed agreeing weight.
    dist = np.ones(1, dtype=np.float64)
    for weight in sorted(w.tolist()):
        grown = np.zeros(dist.shape[0] + weight, dtype=np.float64)
        grown[: dist.shape[0]] = dist
        grown[weight:] += dist
        dist = grown * 0.5
    tail = float(dist[int(w[a > 0].sum()) :].sum())
    floor = max(2.0 ** -int(w.size), 5e-324)
    return min(1.0, max(tail, floor))


def soft_p_value(scores: np.ndarray, bits: tuple[int, ...]) -> tuple[float, float]:
    """``(p-value, weighted agreement in [-1, 1])`` of per-bit ``scores`` against ``bits``."""
    weights, agreement = weights_and_agreement(scores, bits)
    total = int(weights.sum())
    agree = float((weights * agreement).sum() / total) if total else 0.0
    return soft_tail(weights, agreement), agree
