"""Detection metrics: TPR at a fixed FPR (ties explicit), AUROC, µAP, recall@1, OSCR, bit
accuracy, bootstrap intervals, and image quality (PSNR, SSIM).

AUROC comes from scikit-learn and PSNR/SSIM from scikit-image. TPR at fixed FPR, µAP and OSCR
are written here because their tie and empty-set conventions must be stated exactly and the
libraries differ on them:

- **TPR at FPR α**: a score *s* fires when ``s > t``. ``t`` is the smallest negative score
  (or -inf) such that the fraction of negatives above ``t`` is at most α. Items tied *at*
  ``t`` do not fire, positives included (conservative: a tie never helps the detector). When
  ``1 / n_negatives > α`` the target is below what the set can resolve; then ``t`` is the
  highest negative score (zero false positives) and the result says ``resolvable=False``.
- **µAP** (DISC21 micro average precision): every (query, reference, score) prediction of
  every query is pooled and sorted by score, descending (ties: a false prediction first, the
  pessimistic order); AP is the sum of precision at each true prediction divided by the
  number of ground-truth pairs, so a copy never predicted counts as missed.
- **OSCR** (Dhamija et al. 2018): area under correct-classification rate of the known
  samples against the false-positive rate of the unknown ones, over all thresholds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class OperatingPoint:
    """TPR at a target FPR, with the threshold and the FPR actually reached."""

    target_fpr: float
    threshold: float
    tpr: float
    fpr: float
    resolvable: bool


def tpr_at_fpr(
    positives: Sequence[float], negatives: Sequence[float], target_fpr: float
) -> OperatingPoint:
    """TPR at ``target_fpr`` with the tie convention in the module docstring."""
    pos = np.asarray(positives, dtype=np.float64)
    neg = np.sort(np.asarray(negatives, dtype=np.float64))
    n = len(neg)
    resolvable = n > 0 and 1.0 / n <= target_fpr
    threshold = -math.inf
    if n:
        allowed = math.floor(target_fpr * n + 1e-9)  # negatives allowed strictly above t
        threshold = float(neg[n - 1 - allowed]) if allowed < n else -math.inf
    fpr = float(np.mean(neg > threshold)) if n else 0.0
    tpr = float(np.mean(pos > threshold)) if len(pos) else math.nan
    return OperatingPoint(target_fpr, threshold, tpr, fpr, resolvable)


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Area under the ROC curve (ties count half); NaN without both classes."""
    if not len(positives) or not len(negatives):
        return math.nan
    from sklearn.metrics import roc_auc_score

    labels = [1] * len(positives) + [0] * len(negatives)
    return float(roc_auc_score(labels, [*positives, *negatives]))


def micro_ap(predictions: Sequence[tuple[str, Any, float]], truth: set[tuple[str, Any]]) -> float:
    """DISC21 µAP over ``(query, reference, score)`` predictions and ground-truth pairs."""
    if not truth:
        return math.nan
    ranked = sorted(predictions, key=lambda p: (-p[2], (p[0], p[1]) in truth))
    hits, total = 0, 0.0
    seen: set[tuple[str, Any]] = set()
    for rank, (query, reference, _) in enumerate(ranked, start=1):
        pair = (query, reference)
        if pair in truth and pair not in seen:
            seen.add(pair)
            hits += 1
            total += hits / rank
    return total / len(truth)


def recall_at_1(top: Sequence[tuple[Any, Any]]) -> float:
    """Fraction of queries whose top-ranked reference is the true one: ``(top, truth)``."""
    if not top:
        return math.nan
    return sum(1 for found, true in top if found is not None and found == true) / len(top)


def oscr(known: Sequence[tuple[float, bool]], unknown: Sequence[float]) -> float:
    """OSCR: ``known`` are (score, correctly classified); ``unknown`` the open-set scores."""
    if not known or not unknown:
        return math.nan
    thresholds = sorted({s for s, _ in known} | set(unknown), reverse=True)
    points = [(0.0, 0.0)]
    for t in thresholds:
        ccr = sum(1 for s, ok in known if ok and s >= t) / len(known)
        fpr = sum(1 for s in unknown if s >= t) / len(unknown)
        points.append((fpr, ccr))
    points.append((1.0, points[-1][1]))
    area = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        area += (x1 - x0) * (y0 + y1) / 2.0
    return area


def bit_accuracy(expected_hex: str, decoded_hex: str | None, n_bits: int) -> float | None:
    """Fraction of the ``n_bits`` payload bits decoded correctly; None when nothing decoded."""
    if not decoded_hex:
        return None
    want = format(int(expected_hex, 16), f"0{n_bits}b")[-n_bits:]
    got = format(int(decoded_hex, 16), f"0{n_bits}b")[-n_bits:]
    return sum(a == b for a, b in zip(want, got, strict=True)) / n_bits


def bootstrap_ci(
    statistic: Callable[..., float],
    groups: Sequence[Sequence[Any]],
    *,
    seed: int,
    rounds: int = 200,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(*groups)``, each group resampled on its
    own (stratified: positives and negatives keep their counts). NaN rounds are dropped."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        sample = [[g[i] for i in rng.integers(0, len(g), len(g))] if len(g) else [] for g in groups]
        value = statistic(*sample)
        if not math.isnan(value):
            values.append(value)
    if not values:
        return math.nan, math.nan
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def image_quality(
    original: np.ndarray[Any, Any], attacked: np.ndarray[Any, Any]
) -> dict[str, float | None]:
    """PSNR (dB) and SSIM of ``attacked`` against ``original`` (RGB uint8); None when the
    sizes differ (crops, pads, rotations by 90°: no pixel correspondence to compare)."""
    if original.shape != attacked.shape:
        return {"psnr": None, "ssim": None}
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    if np.array_equal(original, attacked):
        return {"psnr": math.inf, "ssim": 1.0}
    psnr = float(peak_signal_noise_ratio(original, attacked, data_range=255))  # type: ignore[no-untyped-call]
    ssim = float(structural_similarity(original, attacked, channel_axis=2, data_range=255))  # type: ignore[no-untyped-call]
    return {"psnr": psnr, "ssim": ssim}
